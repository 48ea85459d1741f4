//! Failure policies with injected storage errors and a full queue.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_audit::{DegradedCause, HealthChange, IoOp, SinkOptions};
use mcp_core::traits::AuditSink;

use crate::common::*;

struct Faults {
    failing: Arc<AtomicBool>,
    health: Arc<Mutex<Vec<HealthChange>>>,
    options: SinkOptions,
}

fn faults() -> Faults {
    let failing = Arc::new(AtomicBool::new(false));
    let health = Arc::new(Mutex::new(Vec::new()));
    let f = failing.clone();
    let h = health.clone();
    let options = SinkOptions {
        fault: Some(Arc::new(move |op| {
            if f.load(Ordering::SeqCst) && op == IoOp::Write {
                Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
            } else {
                Ok(())
            }
        })),
        on_health: Some(Arc::new(move |c| h.lock().unwrap().push(c))),
        ..SinkOptions::default()
    };
    Faults { failing, health, options }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn fail_closed_refuses_until_the_writer_recovers_and_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let f = faults();
    let cfg = config(
        r#"
        fsync = "every_record"
        retry_interval_ms = 20
        "#,
    );
    let (sink, writer) = start_with(dir.path(), &cfg, f.options);
    sink.audit_durable(rec("a", "tools/call", 0)).unwrap().wait().unwrap();
    f.failing.store(true, Ordering::SeqCst);
    // the record in flight when the disk fills: its ticket fails, the sink fails closed
    let t = sink.audit_durable(rec("a", "tools/call", 1)).unwrap();
    assert!(t.wait().is_err());
    assert!(sink.is_failing_closed());
    let err = sink.audit(rec("a", "tools/call", 2)).unwrap_err();
    assert_eq!(err.kind, mcp_core::ErrorKind::Unavailable);
    assert_eq!(
        f.health.lock().unwrap().as_slice(),
        [HealthChange::Degraded(DegradedCause::WriteFailed(std::io::ErrorKind::StorageFull))]
    );
    // still failing after a few retries
    std::thread::sleep(Duration::from_millis(80));
    assert!(sink.is_failing_closed());
    // the disk has room again: the writer's retry writes the pending record and recovers
    f.failing.store(false, Ordering::SeqCst);
    wait_until("recovery", || !sink.is_failing_closed());
    assert_eq!(f.health.lock().unwrap().last(), Some(&HealthChange::Recovered));
    sink.audit_durable(rec("a", "tools/call", 3)).unwrap().wait().unwrap();
    writer.shutdown().unwrap();
    let stats = sink.stats();
    assert_eq!(stats.refused, 1);
    assert_eq!(stats.dropped, 0);
    assert!(stats.write_errors >= 2, "{stats:?}");
    // records 0, 1 (written on retry) and 3 are there; 2 was refused; the chain verifies
    let ids: Vec<String> = read_lines(&active(dir.path()))
        .iter()
        .filter_map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["body"]["request_id"].as_str().map(String::from)
        })
        .collect();
    assert_eq!(ids, ["0", "1", "3"]);
    assert!(verify(dir.path()).is_ok());
}

#[test]
fn fail_open_drops_counts_and_signals() {
    let dir = tempfile::tempdir().unwrap();
    let f = faults();
    let cfg = config(
        r#"
        on_failure = "fail_open"
        fsync = "every_record"
        retry_interval_ms = 20
        "#,
    );
    let (sink, writer) = start_with(dir.path(), &cfg, f.options);
    sink.audit_durable(rec("a", "tools/call", 0)).unwrap().wait().unwrap();
    f.failing.store(true, Ordering::SeqCst);
    for i in 1..=5 {
        // accepted (requests go on), but not durable
        let t = sink.audit_durable(rec("a", "tools/call", i)).unwrap();
        assert!(t.wait().is_err());
    }
    assert!(!sink.is_failing_closed());
    assert_eq!(sink.stats().dropped, 5);
    f.failing.store(false, Ordering::SeqCst);
    sink.audit_durable(rec("a", "tools/call", 6)).unwrap().wait().unwrap();
    writer.shutdown().unwrap();
    let health = f.health.lock().unwrap().clone();
    assert_eq!(
        health.first(),
        Some(&HealthChange::Degraded(DegradedCause::WriteFailed(std::io::ErrorKind::StorageFull)))
    );
    assert_eq!(health.last(), Some(&HealthChange::Recovered));
    // the dropped records left no gap in the chain
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.records, 4); // anchor, 0, 6, shutdown
}

#[test]
fn a_full_queue_refuses_or_drops_without_blocking() {
    for (policy, closed) in [("fail_closed", true), ("fail_open", false)] {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(AtomicBool::new(true));
        let entered = Arc::new(AtomicUsize::new(0));
        let (g, e) = (gate.clone(), entered.clone());
        let options = SinkOptions {
            // hold the writer inside its first write so the queue fills up
            fault: Some(Arc::new(move |op| {
                if op == IoOp::Write {
                    e.fetch_add(1, Ordering::SeqCst);
                    while g.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Ok(())
            })),
            ..SinkOptions::default()
        };
        let cfg = config(&format!("on_failure = \"{policy}\"\nqueue_capacity = 4"));
        let (sink, writer) = start_with(dir.path(), &cfg, options);
        sink.audit(rec("a", "tools/call", 0)).unwrap();
        wait_until("the writer to block", || entered.load(Ordering::SeqCst) > 0);
        for i in 1..=4 {
            sink.audit(rec("a", "tools/call", i)).unwrap();
        }
        let t = Instant::now();
        let r = sink.audit(rec("a", "tools/call", 5));
        assert!(t.elapsed() < Duration::from_millis(50), "must not block");
        assert_eq!(r.is_err(), closed, "{policy}");
        assert_eq!(sink.is_failing_closed(), closed, "{policy}");
        gate.store(false, Ordering::SeqCst);
        writer.shutdown().unwrap();
        let stats = sink.stats();
        assert_eq!((stats.refused, stats.dropped), if closed { (1, 0) } else { (0, 1) }, "{policy}");
        assert_eq!(stats.accepted, 5);
        assert_eq!(verify(dir.path()).unwrap().records, 7, "{policy}"); // anchor, 0..=4, shutdown
    }
}
