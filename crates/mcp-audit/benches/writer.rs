//! Writer throughput (fsync none / interval / every_record) and the request-path cost of one
//! record (building it, hashing its parameters, enqueueing it).
//!
//! `cargo bench -p mcp-audit --bench writer -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
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

/// CPU time of this process's threads named `name` (from /proc; clock ticks of 10 ms).
fn thread_cpu(name: &str) -> Duration {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let stat = std::fs::read_to_string(entry.unwrap().path().join("stat")).unwrap_or_default();
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if !name.starts_with(&stat[open + 1..close]) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    Duration::from_millis(ticks * 10)
}

/// The writer thread's own CPU cost per record (what bounds its throughput on an idle core),
/// measured over 500k records, independent of what else the machine is running.
fn writer_cpu_report() {
    for (name, fsync) in [("none", r#""none""#), ("interval_1s", "{ interval_ms = 1000 }")] {
        let dir = bench_dir();
        let (sink, writer) = sink(dir.path(), &format!("fsync = {fsync}\nrotate_size_bytes = 0"));
        let records: Vec<AuditRecord> = (0..50_000).map(|i| record(i, Some([7; 32]))).collect();
        let cpu0 = thread_cpu("mcp-audit-writer");
        let wall = Instant::now();
        for _ in 0..10 {
            for r in &records {
                sink.audit(r.clone()).unwrap();
            }
            sink.flush_blocking().unwrap();
        }
        let wall = wall.elapsed();
        let cpu = thread_cpu("mcp-audit-writer") - cpu0;
        writer.shutdown().unwrap();
        let per = cpu.as_nanos() as f64 / 500_000.0;
        println!(
            "writer CPU (fsync {name}): {per:.0} ns/record => {:.0} records/s per core; wall {:.0} records/s on this machine now",
            1e9 / per,
            500_000.0 / wall.as_secs_f64()
        );
    }
}

criterion_group!(benches, throughput, caller);

fn main() {
    writer_cpu_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
