//! Two `mcp-server` processes sharing one real Redis enforce one rate limit; Redis going away
//! follows `fail_closed`, and its return is picked up.

use std::process::{Child, Command, Stdio};

use super::*;

pub(super) struct Proc(pub(super) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on {port}");
}

pub(super) fn redis(port: u16) -> Proc {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): install it with `apt-get install redis-server`"));
    let p = Proc(child);
    wait_port(port);
    p
}

/// One replica: its own data dir and key (same principal id `shared` on both), one Redis.
fn replica(dir: &std::path::Path, redis_port: u16) -> (Proc, SocketAddr, String) {
    let (ok, out, err) = cli(dir, &["keys", "new", "--name", "shared", "--roles", "user"], b"");
    assert!(ok, "{out}{err}");
    let key = out.split_whitespace().find(|w| w.starts_with("mcp_")).unwrap().to_owned();
    let port = free_port();
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = {dir:?}\n[http]\nlisten = \"127.0.0.1:{port}\"\n[logging]\nlevel = \"warn\"\n\
             [rate_limit]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:{redis_port}\"\n\
             on_backend_failure = \"fail_closed\"\nredis_retry_ms = 200\n\
             limits = [{{ name = \"client_all\", scope = \"client\", algorithm = \"sliding_window\", requests = 10, window_ms = 60000 }}]\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_mcp-server"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let p = Proc(child);
    wait_port(port);
    (p, format!("127.0.0.1:{port}").parse().unwrap(), key)
}

fn list(addr: SocketAddr, key: &str) -> u16 {
    let h = [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list"), ("x-api-key", key)];
    send(addr, "POST", &h, &modern_body(1, "tools/list", json!({}))).status
}

#[test]
fn two_servers_share_one_limit_through_redis() {
    let redis_port = free_port();
    let r = redis(redis_port);
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_a, a, a_key) = replica(a_dir.path(), redis_port);
    let (_b, b, b_key) = replica(b_dir.path(), redis_port);
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(list(a, &a_key));
        statuses.push(list(b, &b_key));
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, limited), (10, 4), "one limit of 10 across both replicas: {statuses:?}");
    // Redis goes away: fail_closed refuses with 503.
    drop(r);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(list(a, &a_key), 503);
    // It comes back (empty): the replicas use it again.
    let _r = redis(redis_port);
    let mut back = 0;
    for _ in 0..40 {
        if list(b, &b_key) == 200 {
            back += 1;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(back, 1, "the replicas did not recover when Redis returned");
}
