//! Micro benchmark of the secrets hot paths. Run with
//! `cargo run --release -p mcp-secrets --example secrets_bench [-- DIR]`
//! (DIR: where the local store writes; default the system temp dir — use the disk the real store
//! will live on, since fsync cost is the disk's).
//!
//! Prints: cached get (ns/op over 1M gets, one thread and two threads), uncached local get,
//! local set with fsync (µs/op), and redaction of a 1 KiB line against 1,000 registered secrets.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_core::traits::{SecretName, SecretStore};
use mcp_secrets::local::{KeySource, LocalOptions, LocalStore};
use mcp_secrets::memory::MemoryStore;
use mcp_secrets::{CacheOptions, CachedStore, Redactor, VersionSelector, VersionedSecretStore};
use secrecy::{ExposeSecret, SecretBox};

const GETS: u32 = 1_000_000;

fn val(b: &[u8]) -> SecretBox<[u8]> {
    SecretBox::new(b.to_vec().into_boxed_slice())
}

fn per_op(total: Duration, n: u32) -> f64 {
    total.as_nanos() as f64 / f64::from(n)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = match std::env::args().nth(1) {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };

    // Cached get: the cache in front of any backend (memory here; the hit path never reaches it).
    let redactor = Arc::new(Redactor::default());
    let cache = CachedStore::new(Arc::new(MemoryStore::default()), CacheOptions::default(), Some(redactor.clone()));
    let names: Vec<SecretName> = (0..1000).map(|i| SecretName::parse(&format!("svc/key-{i}")).unwrap()).collect();
    for n in &names {
        cache.write(n, val(format!("value-of-{}-0123456789abcdef", n.as_str()).as_bytes())).await.unwrap();
    }
    let hot = names[17].clone();
    let mut sink = 0usize;
    for _ in 0..10_000 {
        sink += SecretStore::get(&cache, &hot).await.unwrap().expose_secret().len();
    }
    let t = Instant::now();
    for _ in 0..GETS {
        sink += SecretStore::get(&cache, &hot).await.unwrap().expose_secret().len();
    }
    let one = per_op(t.elapsed(), GETS);
    let t = Instant::now();
    for i in 0..GETS {
        let n = &names[(i as usize) % names.len()];
        sink += cache.read(n, &VersionSelector::Current).await.unwrap().value.expose_secret().len();
    }
    let spread = per_op(t.elapsed(), GETS);
    let t = Instant::now();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (cache, hot) = (cache.clone(), hot.clone());
            tokio::spawn(async move {
                let mut s = 0usize;
                for _ in 0..GETS {
                    s += SecretStore::get(&cache, &hot).await.unwrap().expose_secret().len();
                }
                s
            })
        })
        .collect();
    for task in tasks {
        sink += task.await.unwrap();
    }
    let two = per_op(t.elapsed(), 2 * GETS);
    println!("cached get, 1 thread, same secret:      {one:8.1} ns/op  ({GETS} gets)");
    println!("cached get, 1 thread, 1000 secrets:     {spread:8.1} ns/op  ({GETS} gets)");
    println!("cached get, 2 threads, same secret:     {two:8.1} ns/op wall per get ({} gets)", 2 * GETS);

    // Local store: set (whole-file rewrite + fsync + rename + directory fsync) and uncached get.
    let local = LocalStore::open(
        LocalOptions::new(dir.path().join("secrets.enc"), KeySource::File(dir.path().join("master.key"))),
        &|_| None,
    )
    .unwrap();
    for (i, n) in names.iter().take(100).enumerate() {
        local.write(n, val(format!("local-value-{i:04}-abcdefghijklmnopqrstuvwxyz").as_bytes())).await.unwrap();
    }
    let sets = 200u32;
    let t = Instant::now();
    for i in 0..sets {
        local
            .write(&names[(i as usize) % 100], val(format!("rotated-{i:06}-abcdefghijklmnop").as_bytes()))
            .await
            .unwrap();
    }
    let set_us = per_op(t.elapsed(), sets) / 1000.0;
    let file_len = std::fs::metadata(dir.path().join("secrets.enc")).unwrap().len();
    let gets = 100_000u32;
    let t = Instant::now();
    for i in 0..gets {
        sink += local
            .read(&names[(i as usize) % 100], &VersionSelector::Current)
            .await
            .unwrap()
            .value
            .expose_secret()
            .len();
    }
    let local_get = per_op(t.elapsed(), gets);
    println!("local set with fsync (100 secrets, {file_len} B file): {set_us:8.1} µs/op  ({sets} sets)");
    println!("local get, uncached (stat + AES-GCM open): {local_get:8.1} ns/op  ({gets} gets)");

    // Redaction of a 1 KiB log line with 1000 registered secrets (4 forms each).
    let mut line = "GET /api/v1/items?page=2 status=200 user=alice latency_ms=12 ".repeat(17);
    line.truncate(1000);
    line.push_str(" token=value-of-svc/key-500-0123456789abcdef");
    let reps = 100_000u32;
    let t = Instant::now();
    for _ in 0..reps {
        sink += redactor.redact(&line).len();
    }
    let redact_ns = per_op(t.elapsed(), reps);
    println!("redact 1 KiB line, {} values registered: {redact_ns:8.1} ns/op", redactor.len());
    assert!(redactor.redact(&line).ends_with("token=[REDACTED:svc/key-500]"));
    std::hint::black_box(sink);
}
