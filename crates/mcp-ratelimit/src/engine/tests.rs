use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use mcp_core::{SecurityEvent, SecurityEventKind};

use super::*;
use crate::error::Limited;

/// A clock that only moves when told to.
#[derive(Debug)]
struct ManualClock {
    base: Instant,
    offset_ns: AtomicU64,
}

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self { base: Instant::now(), offset_ns: AtomicU64::new(0) })
    }
    fn advance(&self, d: Duration) {
        self.offset_ns.fetch_add(u64::try_from(d.as_nanos()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(self.offset_ns.load(Ordering::SeqCst))
    }
    fn instant(&self) -> Instant {
        self.base + Duration::from_nanos(self.offset_ns.load(Ordering::SeqCst))
    }
}

fn engine(text: &str) -> (RateLimitEngine, Arc<ManualClock>) {
    let clock = ManualClock::new();
    let cfg: RateLimitConfig = toml::from_str(text).expect("config parses");
    (RateLimitEngine::with_clock(&cfg, clock.clone()).expect("engine builds"), clock)
}

fn limited(r: Result<(), RateLimitError>) -> Limited {
    match r {
        Err(RateLimitError::Limited(l)) => l,
        other => panic!("expected Limited, got {other:?}"),
    }
}

async fn hammer(engine: &Arc<RateLimitEngine>, tasks: usize, each: usize) -> usize {
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut ok = 0;
                for _ in 0..each {
                    ok += usize::from(engine.check_request("alice", None, "tools/call").await.is_ok());
                }
                ok
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.await.expect("task");
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sliding_window_admits_exactly_the_limit_under_concurrency() {
    let (e, clock) = engine("[[limits]]\nname = \"w\"\nscope = \"client\"\nrequests = 100\nwindow_ms = 1000");
    let e = Arc::new(e);
    assert_eq!(hammer(&e, 8, 100).await, 100);
    clock.advance(Duration::from_millis(999));
    assert_eq!(hammer(&e, 8, 20).await, 0, "still inside the window");
    clock.advance(Duration::from_millis(1));
    assert_eq!(hammer(&e, 8, 100).await, 100, "the whole window slid out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_bucket_admits_exactly_burst_then_rate_under_concurrency() {
    let (e, clock) = engine(
        "[[limits]]\nname = \"b\"\nscope = \"client\"\nalgorithm = \"token_bucket\"\nrate_per_sec = 10.0\nburst = 50",
    );
    let e = Arc::new(e);
    assert_eq!(hammer(&e, 8, 50).await, 50);
    clock.advance(Duration::from_secs(1));
    assert_eq!(hammer(&e, 8, 50).await, 10);
}

#[tokio::test]
async fn retry_after_is_exactly_the_time_until_one_unit_is_free() {
    for algo in ["requests = 3\nwindow_ms = 1000", "algorithm = \"token_bucket\"\nrate_per_sec = 3.0\nburst = 3"] {
        let (e, clock) = engine(&format!("[[limits]]\nname = \"l\"\nscope = \"client\"\n{algo}"));
        for _ in 0..3 {
            e.check_request("a", None, "ping").await.unwrap();
            clock.advance(Duration::from_millis(100));
        }
        let l = limited(e.check_request("a", None, "ping").await);
        assert_eq!((&*l.limit, l.scope), ("l", Scope::Client));
        clock.advance(l.retry_after - Duration::from_nanos(1));
        let again = limited(e.check_request("a", None, "ping").await);
        assert_eq!(again.retry_after, Duration::from_nanos(1), "{algo}");
        clock.advance(Duration::from_nanos(1));
        e.check_request("a", None, "ping").await.unwrap();
    }
}

#[tokio::test]
async fn a_rejected_request_is_charged_to_no_limit_and_names_the_longest_wait() {
    let (e, _) = engine(
        "[[limits]]\nname = \"all\"\nscope = \"client\"\nrequests = 3\nwindow_ms = 1000\n\
         [[limits]]\nname = \"tools\"\nscope = \"client\"\napplies_to = \"tools\"\nrequests = 1\nwindow_ms = 60000",
    );
    e.check_request("a", None, "tools/call").await.unwrap();
    let l = limited(e.check_request("a", None, "tools/call").await);
    assert_eq!(&*l.limit, "tools");
    // "all" was charged once, not twice: two more pings fit.
    e.check_request("a", None, "ping").await.unwrap();
    e.check_request("a", None, "ping").await.unwrap();
    let l = limited(e.check_request("a", None, "tools/call").await);
    assert_eq!(&*l.limit, "tools", "both reject; tools waits longer (60 s against 1 s)");
    assert_eq!(&*limited(e.check_request("a", None, "ping").await).limit, "all");
}

#[tokio::test]
async fn method_class_scope_gives_each_class_its_own_budget() {
    let (e, _) = engine("[[limits]]\nname = \"per_class\"\nscope = \"method_class\"\nrequests = 1\nwindow_ms = 1000");
    e.check_request("a", None, "resources/read").await.unwrap();
    e.check_request("a", None, "prompts/get").await.unwrap();
    e.check_request("a", None, "tools/call").await.unwrap();
    assert!(e.check_request("a", None, "resources/list").await.is_err());
    e.check_request("b", None, "resources/read").await.unwrap();
}

#[tokio::test]
async fn tool_limits_count_their_tool_and_client_tool_limits_each_tool() {
    let (e, _) = engine(
        "[[limits]]\nname = \"calc\"\nscope = \"tool\"\ntool = \"calculate\"\nrequests = 1\nwindow_ms = 1000\n\
         [[limits]]\nname = \"each\"\nscope = \"client_tool\"\nrequests = 2\nwindow_ms = 1000",
    );
    e.check_tool("a", None, "calculate").await.unwrap();
    assert_eq!(&*limited(e.check_tool("a", None, "calculate").await).limit, "calc");
    e.check_tool("b", None, "calculate").await.unwrap();
    e.check_tool("a", None, "search").await.unwrap();
    e.check_tool("a", None, "search").await.unwrap();
    let l = limited(e.check_tool("a", None, "search").await);
    assert_eq!((&*l.limit, l.scope), ("each", Scope::ClientTool));
    // Stage 2 has no limits here.
    e.check_request("a", None, "tools/call").await.unwrap();
}

#[tokio::test]
async fn rate_classes_get_their_numbers_and_unknown_classes_the_defaults() {
    let (e, _) = engine(
        "[[limits]]\nname = \"l\"\nscope = \"client\"\nrequests = 1\nwindow_ms = 1000\n[classes.premium.l]\nrequests = 3",
    );
    assert!(e.has_class("premium") && !e.has_class("gold"));
    for _ in 0..3 {
        e.check_request("p", Some("premium"), "ping").await.unwrap();
    }
    assert!(e.check_request("p", Some("premium"), "ping").await.is_err());
    e.check_request("g", Some("gold"), "ping").await.unwrap();
    assert!(e.check_request("g", Some("gold"), "ping").await.is_err());
}

#[tokio::test]
async fn ip_limits_group_ipv6_networks() {
    let (e, _) = engine("[[limits]]\nname = \"ip\"\nscope = \"ip\"\nrequests = 2\nwindow_ms = 1000");
    e.check_ip("2001:db8:0:1::1".parse().unwrap()).await.unwrap();
    e.check_ip("2001:db8:0:1::2".parse().unwrap()).await.unwrap();
    assert_eq!(limited(e.check_ip("2001:db8:0:1::3".parse().unwrap()).await).scope, Scope::Ip);
    e.check_ip("2001:db8:0:2::1".parse().unwrap()).await.unwrap();
    e.check_ip("192.0.2.1".parse().unwrap()).await.unwrap();
    e.check_ip("192.0.2.2".parse().unwrap()).await.unwrap();
}

#[tokio::test]
async fn disabled_admits_everything() {
    let (e, _) =
        engine("enabled = false\n[[limits]]\nname = \"l\"\nscope = \"client\"\nrequests = 1\nwindow_ms = 1000");
    assert!(!e.is_enabled());
    for _ in 0..5 {
        e.check_request("a", None, "ping").await.unwrap();
        e.check_ip("192.0.2.1".parse().unwrap()).await.unwrap();
    }
    assert_eq!(e.tracked_keys(), 0);
}

#[tokio::test]
async fn a_full_key_table_reports_once_and_idle_keys_are_swept() {
    let (e, clock) =
        engine("max_keys = 64\n[[limits]]\nname = \"l\"\nscope = \"client\"\nrequests = 5\nwindow_ms = 1000");
    let events = Arc::new(Mutex::new(Vec::<SecurityEvent>::new()));
    let sink = events.clone();
    e.set_event_sink(Arc::new(move |ev| sink.lock().unwrap().push(ev)));
    for i in 0..500 {
        let _ = e.check_request(&format!("c{i}"), None, "ping").await;
    }
    assert!(e.tracked_keys() <= 64);
    {
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 1, "one event, not one per request");
        assert_eq!(events[0].kind, SecurityEventKind::CapacityExceeded);
        assert_eq!(events[0].rule.as_deref(), Some("limit:l"));
    }
    clock.advance(Duration::from_secs(1));
    let before = e.tracked_keys();
    assert!(before > 0);
    assert_eq!(e.sweep(), before);
    assert_eq!(e.tracked_keys(), 0);
}

#[test]
fn backend_and_memory_bounds_are_checked_at_build() {
    let big = "max_keys = 100000000\n[[limits]]\nname = \"l\"\nscope = \"client\"\nrequests = 100000\nwindow_ms = 1000";
    let cfg: RateLimitConfig = toml::from_str(big).unwrap();
    assert!(matches!(RateLimitEngine::new(&cfg), Err(RateLimitError::Config(m)) if m.contains("token_bucket")));
    let cfg: RateLimitConfig = toml::from_str("ipv6_prefix_len = 129").unwrap();
    assert!(RateLimitEngine::new(&cfg).is_err());
    let cfg: RateLimitConfig = toml::from_str("backend = \"redis\"").unwrap();
    let err = RateLimitEngine::new(&cfg).unwrap_err();
    if cfg!(feature = "redis") {
        assert!(err.to_string().contains("needs redis_url"), "{err}");
    } else {
        assert!(matches!(err, RateLimitError::FeatureNotCompiled { feature: "redis", .. }));
    }
    let e = RateLimitEngine::new(&RateLimitConfig::default()).unwrap();
    assert_eq!(e.backend(), BackendKind::Memory);
    assert_eq!(e.limit_names().collect::<Vec<_>>(), ["ip_all", "client_all", "client_tools"]);
    assert!(!e.is_degraded());
}

#[tokio::test]
async fn named_limiter_reports_cost_above_capacity_as_an_error() {
    use mcp_core::traits::{RateDecision, RateLimiter};
    let (e, _) = engine("[[limits]]\nname = \"l\"\nscope = \"client\"\nrequests = 5\nwindow_ms = 1000");
    let e = Arc::new(e);
    assert!(e.limiter("nope").is_none());
    let l = e.limiter("l").unwrap();
    assert_eq!(l.name(), "l");
    assert_eq!(l.check("k", 4).await, Ok(RateDecision::Allowed { remaining: 1 }));
    assert_eq!(l.check("k", 2).await, Ok(RateDecision::Limited { retry_after: Duration::from_secs(1) }));
    let err = l.check("k", 6).await.unwrap_err();
    assert_eq!(err.kind, mcp_core::ErrorKind::InvalidRequest);
}

#[test]
fn check_futures_stay_small_whatever_the_features() {
    let e = RateLimitEngine::new(&RateLimitConfig::default()).unwrap();
    let ip = "192.0.2.1".parse().unwrap();
    let sizes = [
        std::mem::size_of_val(&e.check_ip(ip)),
        std::mem::size_of_val(&e.check_request("a", None, "ping")),
        std::mem::size_of_val(&e.check_tool("a", None, "calc")),
    ];
    assert!(sizes.iter().all(|&s| s <= 256), "future sizes {sizes:?}");
}

#[tokio::test]
async fn overlong_keys_are_refused_without_keeping_state() {
    let (e, _) = engine(
        "[[limits]]\nname = \"c\"\nscope = \"client\"\nrequests = 5\nwindow_ms = 1000\n\
         [[limits]]\nname = \"t\"\nscope = \"client_tool\"\nrequests = 5\nwindow_ms = 1000",
    );
    let long = "x".repeat(MAX_KEY_BYTES);
    assert!(matches!(e.check_request(&long, None, "ping").await, Ok(())));
    let too_long = "x".repeat(MAX_KEY_BYTES + 1);
    let err = e.check_request(&too_long, None, "ping").await.unwrap_err();
    assert!(matches!(err, RateLimitError::KeyTooLong { len: 1025, max: 1024 }));
    assert_eq!(err.kind(), mcp_core::ErrorKind::InvalidRequest);
    assert!(matches!(e.check_tool("a", None, &long).await, Err(RateLimitError::KeyTooLong { .. })));
    assert_eq!(e.tracked_keys(), 1);
}
