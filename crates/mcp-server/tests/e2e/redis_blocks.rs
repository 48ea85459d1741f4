//! Two `mcp-server` processes sharing one real Redis share one block list: failures on A block
//! the caller on B, `mcp-server block` edits Redis, and Redis going away under `fail_closed`
//! refuses requests until it is back.

use std::process::Stdio;
use std::time::Instant;

use super::cli_audit::{Serve, new_key};
use super::redis::{free_port, redis};
use super::*;

/// One replica: its own data dir and key for principal `shared`; returns it, its config file and
/// the key.
fn replica(dir: &std::path::Path, redis_port: u16) -> (Serve, std::path::PathBuf, String) {
    let key = new_key(dir, "shared", "user");
    let port = free_port();
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = {dir:?}\n[http]\nlisten = \"127.0.0.1:{port}\"\n[logging]\nlevel = \"warn\"\n\
             [rate_limit]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:{redis_port}\"\n\
             on_backend_failure = \"fail_closed\"\nlimits = []\n\
             [monitoring.blocking]\nblock_after = 3\nreload_interval_secs = 1\n"
        ),
    )
    .unwrap();
    let serve = Serve::spawn(&["serve", "--config", config.to_str().unwrap()], &[], port, Stdio::null());
    (serve, config, key)
}

fn list(addr: SocketAddr, key: &str) -> Resp {
    let h = [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list"), ("x-api-key", key)];
    send(addr, "POST", &h, &modern_body(1, "tools/list", json!({})))
}

/// Poll `addr` with `key` until it answers `status`; returns how long that took.
fn until_status(addr: SocketAddr, key: &str, status: u16, what: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        if list(addr, key).status == status {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: no {status} within 8 s (last: {:?})", list(addr, key));
}

fn block_cli(dir: &std::path::Path, config: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["block"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", config.to_str().unwrap()]);
    let (ok, out, err) = cli(dir, &all, b"");
    assert!(ok, "block {args:?}: {out}{err}");
    out
}

#[test]
fn failures_on_one_replica_block_the_caller_on_the_other() {
    let redis_port = free_port();
    let r = redis(redis_port);
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, a_cfg, a_key) = replica(a_dir.path(), redis_port);
    let (b, b_cfg, b_key) = replica(b_dir.path(), redis_port);
    assert_eq!(list(b.addr, &b_key).status, 200);
    assert_eq!(list(a.addr, &a_key).status, 200);

    // Three bad keys on A block the caller's address on A at once...
    for _ in 0..3 {
        assert_eq!(list(a.addr, "mcp_not-a-valid-key").status, 401);
    }
    assert_eq!(list(a.addr, &a_key).status, 403, "A blocks at once");
    // ...and on B after A wrote it and B reloaded (each within reload_interval_secs = 1).
    let took = until_status(b.addr, &b_key, 403, "B enforces A's block");
    eprintln!("block raised on A enforced by B after {} ms", took.as_millis());
    let r403 = list(b.addr, &b_key);
    assert!(r403.header("retry-after").is_some() && r403.body.contains("blocked"), "{r403:?}");

    // The CLI works on Redis: it sees the block and lifts it for both replicas.
    let out = block_cli(b_dir.path(), &b_cfg, &["list"]);
    assert!(out.contains("ip:127.0.0.1") && out.contains("Automatic"), "{out}");
    block_cli(b_dir.path(), &b_cfg, &["remove", "ip:127.0.0.1"]);
    until_status(a.addr, &a_key, 200, "A after the CLI lifted the block");
    until_status(b.addr, &b_key, 200, "B after the CLI lifted the block");
    assert!(!a_dir.path().join("blocks.json").exists(), "no block file: the list is in Redis");

    // A manual block on the client id reaches both.
    block_cli(a_dir.path(), &a_cfg, &["add", "client:shared", "--secs", "600", "--reason", "e2e"]);
    until_status(a.addr, &a_key, 403, "A after block add");
    until_status(b.addr, &b_key, 403, "B after block add");
    block_cli(a_dir.path(), &a_cfg, &["remove", "client:shared"]);
    until_status(b.addr, &b_key, 200, "B after block remove");

    // Redis goes away: fail_closed refuses with 503 (no rate limit is configured, so this is the
    // block list), and Redis coming back is picked up.
    drop(r);
    until_status(b.addr, &b_key, 503, "B with Redis down");
    let down = list(b.addr, &b_key);
    assert!(down.body.contains("block list"), "{down:?}");
    let _r = redis(redis_port);
    until_status(b.addr, &b_key, 200, "B after Redis returned");
    until_status(a.addr, &a_key, 200, "A after Redis returned");
}
