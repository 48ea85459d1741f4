//! The Redis backend against a real `redis-server` (Debian package `redis-server`), started by
//! each test on its own port.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_core::{SecurityEvent, SecurityEventKind};
use mcp_ratelimit::events::{DEGRADED_FAIL_CLOSED, DEGRADED_FAIL_OPEN};
use mcp_ratelimit::{RateLimitConfig, RateLimitEngine, RateLimitError};
use redis_server::RedisServer;

fn engine(url: &str, extra: &str, limits: &str) -> RateLimitEngine {
    let text = format!(
        "backend = \"redis\"\nredis_url = \"{url}\"\nredis_key_prefix = \"t:rl:\"\nredis_retry_ms = 50\n\
         redis_timeout_ms = 200\n{extra}\n{limits}"
    );
    let cfg: RateLimitConfig = toml::from_str(&text).expect("config parses");
    RateLimitEngine::new(&cfg).expect("engine builds")
}

fn recorder(engine: &RateLimitEngine) -> Arc<Mutex<Vec<SecurityEvent>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    engine.set_event_sink(Arc::new(move |e| sink.lock().expect("events lock").push(e)));
    events
}

/// `tasks` tasks, alternating between the replicas, each calling `check_request` `each` times.
async fn hammer(replicas: &[Arc<RateLimitEngine>], tasks: usize, each: usize) -> usize {
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let engine = replicas[i % replicas.len()].clone();
            tokio::spawn(async move {
                let mut admitted = 0;
                for _ in 0..each {
                    match engine.check_request("alice", None, "tools/call").await {
                        Ok(()) => admitted += 1,
                        Err(RateLimitError::Limited(_)) => {}
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
                admitted
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task");
    }
    total
}

const WINDOW: &str = "[[limits]]\nname = \"w\"\nscope = \"client\"\nrequests = 50\nwindow_ms = 60000";
const BUCKET: &str =
    "[[limits]]\nname = \"b\"\nscope = \"client\"\nalgorithm = \"token_bucket\"\nrate_per_sec = 0.01\nburst = 40";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_sharing_redis_enforce_one_sliding_window_exactly() {
    let redis = RedisServer::start();
    let replicas = [Arc::new(engine(&redis.url(), "", WINDOW)), Arc::new(engine(&redis.url(), "", WINDOW))];
    assert_eq!(hammer(&replicas, 8, 20).await, 50);
    assert_eq!(hammer(&replicas, 4, 5).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_sharing_redis_enforce_one_token_bucket_exactly() {
    let redis = RedisServer::start();
    let replicas = [Arc::new(engine(&redis.url(), "", BUCKET)), Arc::new(engine(&redis.url(), "", BUCKET))];
    // One token per 100 s: nothing refills during the test.
    assert_eq!(hammer(&replicas, 8, 20).await, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_from_redis_is_the_time_until_a_slot_frees() {
    let redis = RedisServer::start();
    let limits = "[[limits]]\nname = \"w\"\nscope = \"client\"\nrequests = 2\nwindow_ms = 400\n\
                  [[limits]]\nname = \"b\"\nscope = \"client_tool\"\nalgorithm = \"token_bucket\"\nrate_per_sec = 4.0\nburst = 1";
    let e = engine(&redis.url(), "", limits);
    let start = Instant::now();
    e.check_request("a", None, "ping").await.unwrap();
    e.check_request("a", None, "ping").await.unwrap();
    let err = e.check_request("a", None, "ping").await.unwrap_err();
    let l = err.as_limited().expect("limited");
    assert_eq!(&*l.limit, "w");
    assert!(
        l.retry_after <= Duration::from_millis(400) && l.retry_after + start.elapsed() >= Duration::from_millis(390)
    );
    tokio::time::sleep(l.retry_after + Duration::from_millis(5)).await;
    e.check_request("a", None, "ping").await.unwrap();

    e.check_tool("a", None, "calc").await.unwrap();
    let l = e.check_tool("a", None, "calc").await.unwrap_err().as_limited().cloned().expect("limited");
    assert_eq!(&*l.limit, "b");
    assert!(l.retry_after <= Duration::from_millis(250) && l.retry_after > Duration::from_millis(200), "{l:?}");
    tokio::time::sleep(l.retry_after + Duration::from_millis(5)).await;
    e.check_tool("a", None, "calc").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_stage_charges_no_limit_and_keys_expire() {
    let redis = RedisServer::start();
    let limits = "[[limits]]\nname = \"all\"\nscope = \"client\"\nrequests = 3\nwindow_ms = 60000\n\
                  [[limits]]\nname = \"tools\"\nscope = \"client\"\napplies_to = \"tools\"\nrequests = 1\nwindow_ms = 60000";
    let e = engine(&redis.url(), "", limits);
    e.check_request("a", None, "tools/call").await.unwrap();
    assert_eq!(&*e.check_request("a", None, "tools/call").await.unwrap_err().as_limited().unwrap().limit, "tools");
    e.check_request("a", None, "ping").await.unwrap();
    e.check_request("a", None, "ping").await.unwrap();
    assert_eq!(&*e.check_request("a", None, "ping").await.unwrap_err().as_limited().unwrap().limit, "all");

    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("t:rl:*").query_async(&mut conn).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["t:rl:all:w:a", "t:rl:tools:w:a"]);
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        assert!(ttl > 0 && ttl <= 60_000, "{key} ttl {ttl}");
    }
}

/// Replicas hammer Redis; it is killed mid-run; then restarted on the same port.
async fn outage(policy: &str) -> (Vec<SecurityEvent>, usize, usize) {
    let mut redis = RedisServer::start();
    let port = redis.port();
    let extra = format!("on_backend_failure = \"{policy}\"");
    let limits = "[[limits]]\nname = \"b\"\nscope = \"client\"\nalgorithm = \"token_bucket\"\nrate_per_sec = 1000000.0\nburst = 1000000";
    let e = Arc::new(engine(&redis.url(), &extra, limits));
    let events = recorder(&e);
    e.check_request("a", None, "ping").await.expect("admitted while Redis is up");
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (e, stop) = (e.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut admitted, mut refused) = (0, 0);
                while !stop.load(Ordering::Relaxed) {
                    match e.check_request("a", None, "ping").await {
                        Ok(()) => admitted += 1,
                        Err(RateLimitError::Unavailable { backend: "redis" }) => refused += 1,
                        Err(other) => panic!("unexpected {other}"),
                    }
                    tokio::task::yield_now().await;
                }
                (admitted, refused)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(e.is_degraded());
    let during = {
        let before = e.check_request("a", None, "ping").await;
        match policy {
            "fail_closed" => assert!(matches!(before, Err(RateLimitError::Unavailable { .. }))),
            _ => assert!(before.is_ok()),
        }
        events.lock().expect("events lock").len()
    };
    stop.store(true, Ordering::Relaxed);
    let (mut admitted, mut refused) = (0, 0);
    for w in workers {
        let (a, r) = w.await.expect("worker");
        admitted += a;
        refused += r;
    }
    assert_eq!(during, 1, "one degraded event for the outage, not one per request");

    let _redis = RedisServer::start_on(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.check_request("a", None, "ping").await.is_err() || e.is_degraded() {
        assert!(Instant::now() < deadline, "did not recover after Redis came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = events.lock().expect("events lock").clone();
    (events, admitted, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_with_fail_closed_refuses_reports_once_and_recovers() {
    let (events, admitted, refused) = outage("fail_closed").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, SecurityEventKind::RateLimiterDegraded);
    assert_eq!(events[0].reason, DEGRADED_FAIL_CLOSED);
    assert!(admitted > 0 && refused > 0, "admitted {admitted} before, refused {refused} during the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_with_fail_open_admits_reports_once_and_recovers() {
    let (events, admitted, refused) = outage("fail_open").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, SecurityEventKind::RateLimiterDegraded);
    assert_eq!(events[0].reason, DEGRADED_FAIL_OPEN);
    assert_eq!(refused, 0);
    assert!(admitted > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_configuration_errors() {
    let redis = RedisServer::start();
    let e = engine(&redis.url(), "", WINDOW);
    e.ping().await.unwrap();
    let cfg: RateLimitConfig = toml::from_str("backend = \"redis\"\nredis_url = \"not a url\"").unwrap();
    let err = RateLimitEngine::new(&cfg).unwrap_err();
    assert!(!err.to_string().contains("not a url"), "the URL never appears in errors: {err}");
    let cfg: RateLimitConfig =
        toml::from_str("backend = \"redis\"\nredis_url_env = \"MCP_RATELIMIT_TEST_UNSET_VARIABLE\"").unwrap();
    assert!(RateLimitEngine::new(&cfg).unwrap_err().to_string().contains("MCP_RATELIMIT_TEST_UNSET_VARIABLE"));
    let cfg: RateLimitConfig = toml::from_str("redis_url = \"redis://:hunter2@localhost\"").unwrap();
    assert!(!format!("{cfg:?}").contains("hunter2"));
}
