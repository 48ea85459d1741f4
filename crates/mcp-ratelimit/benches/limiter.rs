//! Rate limiter costs: one in-memory check single-threaded (target: at most 100 ns), the
//! throughput of concurrent checks, and (with `--features redis` and `redis-server` installed)
//! one Redis round trip.
//!
//! `cargo bench -p mcp-ratelimit --bench limiter -- --warm-up-time 1 --measurement-time 3`

use std::future::Future;
use std::hint::black_box;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_ratelimit::{RateLimitConfig, RateLimitEngine};

/// Poll a memory-backend check once: it must be ready at once (no waiting, no runtime).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("an in-memory check must complete on first poll"),
    }
}

fn engine(limits: &str) -> Arc<RateLimitEngine> {
    let cfg: RateLimitConfig = toml::from_str(limits).expect("config");
    Arc::new(RateLimitEngine::new(&cfg).expect("engine"))
}

/// Limits that always admit in a benchmark, so the measured path is the common one.
const ROOMY: &str = "[[limits]]\nname = \"client_all\"\nscope = \"client\"\nalgorithm = \"token_bucket\"\n\
                     rate_per_sec = 1000000000.0\nburst = 1000000";
const ROOMY_WINDOW: &str =
    "max_keys = 1000\n[[limits]]\nname = \"client_all\"\nscope = \"client\"\nrequests = 100000\nwindow_ms = 1";

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    g.bench_function("Instant::now", |b| b.iter(Instant::now));
    let state = std::hash::RandomState::new();
    g.bench_function("SipHash 9 bytes", |b| {
        b.iter(|| std::hash::BuildHasher::hash_one(&state, black_box("client-42")))
    });
    let m = std::sync::Mutex::new(0u64);
    g.bench_function("Mutex lock+unlock", |b| b.iter(|| *m.lock().expect("lock") += 1));
    g.finish();
    let mut g = c.benchmark_group("memory");
    let bucket = engine(ROOMY);
    g.bench_function("check_request token_bucket one key", |b| {
        b.iter(|| ready(bucket.check_request(black_box("client-42"), None, black_box("tools/call"))))
    });
    let window = engine(ROOMY_WINDOW);
    g.bench_function("check_request sliding_window one key", |b| {
        b.iter(|| ready(window.check_request(black_box("client-42"), None, black_box("tools/call"))))
    });
    let keys: Vec<String> = (0..10_000).map(|i| format!("client-{i}")).collect();
    let mut i = 0;
    g.bench_function("check_request token_bucket 10k keys", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            ready(bucket.check_request(&keys[i], None, "tools/call"))
        })
    });
    let defaults = Arc::new(RateLimitEngine::new(&RateLimitConfig::default()).expect("engine"));
    let ip: IpAddr = "203.0.113.9".parse().expect("ip");
    g.bench_function("check_ip default limits (rejecting)", |b| b.iter(|| ready(defaults.check_ip(black_box(ip)))));
    g.bench_function("check_request default limits (rejecting)", |b| {
        b.iter(|| ready(defaults.check_request(black_box("client-42"), None, "tools/call")))
    });
    g.finish();
}

/// `threads` threads each doing `iters` checks; reports wall time / threads (time per check of
/// the whole machine).
fn threaded(engine: &Arc<RateLimitEngine>, threads: usize, iters: u64, same_key: bool) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let engine = engine.clone();
            s.spawn(move || {
                let key = if same_key { "shared".to_owned() } else { format!("client-{t}") };
                for _ in 0..iters {
                    let _ = black_box(ready(engine.check_request(&key, None, "tools/call")));
                }
            });
        }
    });
    start.elapsed() / threads as u32
}

fn multi_thread(c: &mut Criterion) {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut g = c.benchmark_group(format!("memory {threads} threads"));
    let bucket = engine(ROOMY);
    g.bench_function("per check, distinct keys", |b| b.iter_custom(|iters| threaded(&bucket, threads, iters, false)));
    g.bench_function("per check, one shared key", |b| b.iter_custom(|iters| threaded(&bucket, threads, iters, true)));
    g.finish();
}

#[cfg(feature = "redis")]
#[path = "../tests/support/redis_server.rs"]
#[allow(dead_code)] // the bench uses only part of the test helper
mod redis_server;

#[cfg(feature = "redis")]
fn redis_round_trip(c: &mut Criterion) {
    let installed =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|d| d.join("redis-server").is_file());
    if !installed {
        eprintln!("redis-server not installed: skipping the Redis round trip (apt-get install -y redis-server)");
        return;
    }
    let server = redis_server::RedisServer::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cfg = format!("backend = \"redis\"\nredis_url = \"{}\"\n{ROOMY}", server.url());
    let cfg: RateLimitConfig = toml::from_str(&cfg).expect("config");
    let engine = rt.block_on(async { RateLimitEngine::new(&cfg) }).expect("engine");
    rt.block_on(engine.check_request("warm", None, "ping")).expect("redis answers");
    c.bench_function("redis/check_request round trip", |b| {
        b.iter(|| rt.block_on(engine.check_request(black_box("client-42"), None, "tools/call")))
    });
}

#[cfg(not(feature = "redis"))]
fn redis_round_trip(_: &mut Criterion) {
    eprintln!("built without --features redis: skipping the Redis round trip");
}

criterion_group!(benches, single_thread, multi_thread, redis_round_trip);
criterion_main!(benches);
