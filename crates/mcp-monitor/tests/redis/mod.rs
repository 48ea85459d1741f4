//! The block list in a real `redis-server` (started here on a free loopback port): replicas share
//! it, keys expire with their blocks, concurrent writers lose nothing, and an outage follows the
//! failure policy.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mcp_core::{SecurityEvent, SecurityEventKind, SystemClock};
use mcp_monitor::{
    BlockEntry, BlockStore, BlockTarget, MonitorError, MonitoringConfig, RedisBlockStore, SecurityMonitor, StoreFailure,
};

/// A redis-server child, killed on drop.
struct Redis {
    child: Option<Child>,
    port: u16,
}

impl Redis {
    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): `apt-get install -y redis-server`"));
        let r = Self { child: Some(child), port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis::Client::open(r.url()).and_then(|c| c.get_connection()).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        Self::start_on(port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn store(r: &Redis) -> Arc<RedisBlockStore> {
    Arc::new(RedisBlockStore::new(&r.url(), "test:blocks:", Duration::from_millis(300)).expect("store"))
}

fn replica(r: &Redis, on_failure: StoreFailure) -> SecurityMonitor {
    let cfg: MonitoringConfig = toml::from_str("[blocking]\nblock_after = 3\nblock_secs = 120").expect("config");
    SecurityMonitor::with_shared_store(&cfg, Arc::new(SystemClock), store(r), on_failure).expect("monitor")
}

fn fail(client: &str) -> SecurityEvent {
    SecurityEvent::new(SecurityEventKind::AuthenticateFail, "bad credentials", SystemTime::now()).with_principal(client)
}

#[test]
fn a_block_raised_on_one_replica_is_enforced_by_the_other() {
    let r = Redis::start();
    let a = replica(&r, StoreFailure::FailClosed);
    let b = replica(&r, StoreFailure::FailClosed);
    for _ in 0..3 {
        a.publish(&fail("mallory"));
    }
    assert!(a.is_blocked_client("mallory").is_some());
    assert!(b.is_blocked_client("mallory").is_none(), "not before the store carried it");
    a.housekeeping().expect("a writes");
    assert!(b.housekeeping().expect("b reloads"), "b saw a change");
    assert!(b.is_blocked_client("mallory").is_some(), "b enforces a's block");
    assert!(!b.housekeeping().expect("unchanged"), "an unchanged store is not reloaded");
    // The key expires with the block.
    let mut con = redis::Client::open(r.url()).expect("client").get_connection().expect("conn");
    let ttl: i64 = redis::cmd("PTTL").arg("test:blocks:e:client:mallory").query(&mut con).expect("pttl");
    assert!((110_000..=120_000).contains(&ttl), "ttl {ttl} ms");
    // Lifting it on b lifts it on a (the CLI works the same way, through the trait).
    assert!(b.unblock(&"client:mallory".parse().expect("t")).expect("unblock"));
    a.housekeeping().expect("a reloads");
    assert!(a.is_blocked_client("mallory").is_none());
    let cli = store(&r);
    let e =
        BlockEntry::manual(BlockTarget::client("eve").expect("id"), Duration::from_secs(60), "cli", SystemTime::now())
            .expect("entry");
    cli.add(e).expect("add");
    assert_eq!(cli.list(SystemTime::now()).expect("list").len(), 1);
    a.housekeeping().expect("a reloads");
    assert!(a.is_blocked_client("eve").is_some());
    assert!(cli.remove(&"client:eve".parse().expect("t")).expect("remove"));
    assert!(!cli.remove(&"client:eve".parse().expect("t")).expect("remove"));
}

#[test]
fn concurrent_writers_lose_no_edit() {
    let r = Redis::start();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = store(&r);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let target = BlockTarget::client(&format!("c{t}-{i}")).expect("id");
                    let e = BlockEntry::manual(target, Duration::from_secs(60), "load", SystemTime::now()).expect("e");
                    s.add(e).expect("add");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(store(&r).list(SystemTime::now()).expect("list").len(), 100);
}

#[test]
fn an_outage_follows_the_failure_policy_and_recovery_is_picked_up() {
    let mut r = Redis::start();
    let port = r.port;
    let closed = replica(&r, StoreFailure::FailClosed);
    let open = replica(&r, StoreFailure::FailOpen);
    closed.block("client:known".parse().expect("t"), Duration::from_secs(600), "before").expect("block");
    open.housekeeping().expect("load");
    r.kill();
    for m in [&closed, &open] {
        let e = m.housekeeping().expect_err("redis is gone");
        assert!(matches!(e, MonitorError::StoreUnavailable { .. }), "{e}");
        assert!(!e.to_string().contains("127.0.0.1"), "no address in errors: {e}");
        assert!(m.is_blocked_client("known").is_some(), "the last loaded list stays in force");
    }
    assert!(closed.block_store_unavailable());
    assert!(!open.block_store_unavailable());
    // A replica starting while Redis is down starts, refusing (fail_closed) until it answers.
    let late = replica(&r, StoreFailure::FailClosed);
    assert!(late.block_store_unavailable());
    let _r = Redis::start_on(port);
    closed.housekeeping().expect("back");
    late.housekeeping().expect("back");
    assert!(!closed.block_store_unavailable() && !late.block_store_unavailable());
}
