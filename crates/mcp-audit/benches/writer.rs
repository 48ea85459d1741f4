//! Writer throughput (fsync none / interval / every_record) and the request-path cost of one
//! record (building it, hashing its parameters, enqueueing it).
//!
//! `cargo bench -p mcp-audit --bench writer -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mcp_audit::{AuditKey, AuditLogConfig, FileAuditSink};
use mcp_core::traits::AuditSink;
use mcp_core::{AuditOutcome, AuditRecord, AuthMethod};

const BATCH: u64 = 10_000;

fn record(i: u64, params_hash: Option<[u8; 32]>) -> AuditRecord {
    AuditRecord {
        at: SystemTime::now(),
        request_id: Some(Arc::from(i.to_string())),
        principal: Arc::from("client-1"),
        auth_method: AuthMethod::ApiKey,
        peer: Some("192.0.2.7:4242".parse().unwrap()),
        method: Arc::from("tools/call"),
        target: Some(Arc::from("calculate")),
        params_hash,
        outcome: AuditOutcome::Ok,
        error_code: None,
        latency: Duration::from_micros(120),
        always: false,
    }
}

fn sink(dir: &Path, toml_text: &str) -> (FileAuditSink, mcp_audit::WriterHandle) {
    let config: AuditLogConfig = toml::from_str(toml_text).unwrap();
    FileAuditSink::start(&config, dir, AuditKey::from_bytes(&[5; 32])).unwrap()
}

fn bench_dir() -> tempfile::TempDir {
    // On the build disk rather than a tmpfs /tmp, so fsync costs what it costs.
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("writer");
    g.throughput(Throughput::Elements(BATCH));
    for (name, fsync) in [("fsync_none", r#""none""#), ("fsync_interval_1s", "{ interval_ms = 1000 }")] {
        let dir = bench_dir();
        let (sink, writer) = sink(dir.path(), &format!("fsync = {fsync}\nrotate_size_bytes = 0"));
        let hash = Some([7u8; 32]);
        g.bench_function(name, |b| {
            b.iter(|| {
                for i in 0..BATCH {
                    sink.audit(record(i, hash)).unwrap();
                }
                sink.flush_blocking().unwrap();
            })
        });
        writer.shutdown().unwrap();
    }
    // every_record: group commit; BATCH concurrent requests each waiting for their ticket.
    let dir = bench_dir();
    let (sink, writer) = sink(dir.path(), "fsync = \"every_record\"\nrotate_size_bytes = 0");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("every_record_1000_in_flight", |b| {
        b.iter(|| {
            let tickets: Vec<_> = (0..1000).map(|i| sink.audit_durable(record(i, None)).unwrap()).collect();
            for t in tickets {
                t.wait().unwrap();
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("every_record_one_at_a_time", |b| {
        b.iter(|| sink.audit_durable(record(1, None)).unwrap().wait().unwrap())
    });
    writer.shutdown().unwrap();
    g.finish();
}

fn caller(c: &mut Criterion) {
    let mut g = c.benchmark_group("caller");
    let dir = bench_dir();
    let (sink, writer) = sink(dir.path(), "fsync = \"none\"\nrotate_size_bytes = 0");
    // Only the enqueue is timed; the queue is drained (untimed) between rounds so that the
    // measurement never hits a full queue.
    g.bench_function("build_and_enqueue", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(4096);
                let start = Instant::now();
                for i in 0..n {
                    sink.audit(black_box(record(i, Some([1; 32])))).unwrap();
                }
                total += start.elapsed();
                left -= n;
                sink.flush_blocking().unwrap();
            }
            total
        })
    });
    let params = serde_json::json!({"name": "calculate", "arguments": {"expression": "2 + 2 * 10", "precision": 4}});
    g.bench_function("params_hash", |b| b.iter(|| sink.params_hash(black_box(&params))));
    g.bench_function("build_record_only", |b| {
        b.iter_batched(|| (), |()| black_box(record(1, Some([1; 32]))), BatchSize::SmallInput)
    });
    writer.shutdown().unwrap();
    g.finish();
}

criterion_group!(benches, throughput, caller);
criterion_main!(benches);
