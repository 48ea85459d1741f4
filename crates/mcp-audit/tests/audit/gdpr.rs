//! GDPR: erasure, export and retention purge, offline and through a running sink; the chain
//! verifies after each.

use std::time::Duration;

use mcp_audit::{AuditError, SinkOptions};
use mcp_core::traits::AuditSink;
use serde_json::Value;

use crate::common::*;

fn export(dir: &std::path::Path, client: &str) -> Value {
    mcp_audit::export_client(&active(dir), client, t0(), &mut |_| {}).unwrap()
}

fn no_progress(_: mcp_audit::Progress) {}

#[test]
fn export_lists_every_record_of_a_client() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config("rotate_size_bytes = 3000"), 40);
    let doc = export(dir.path(), "alice");
    assert_eq!(doc["format"], mcp_audit::gdpr::EXPORT_FORMAT);
    assert_eq!(doc["subject"]["client_id"], "alice");
    assert_eq!(doc["record_count"], 20);
    let records = doc["records"].as_array().unwrap();
    assert_eq!(records.len(), 20);
    let r = &records[0];
    assert_eq!(r["type"], "tool_execute");
    assert_eq!(r["fields"]["client_id"], "alice");
    assert_eq!(r["fields"]["target"], "calculate");
    assert!(r["fields"].get("salt").is_none());
    assert!(r["file"].as_str().unwrap().starts_with("audit.log"));
    assert_eq!(export(dir.path(), "nobody")["record_count"], 0);
}

#[test]
fn offline_erasure_keeps_the_chain_and_other_clients() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config("rotate_size_bytes = 3000"), 40);
    let bob_before = export(dir.path(), "bob");
    let report = mcp_audit::erase_client(&active(dir.path()), "alice", &key(), t0(), &mut no_progress).unwrap();
    assert_eq!(report.records_erased, 20);
    assert!(report.files_rewritten >= 2);
    assert_eq!(export(dir.path(), "alice")["record_count"], 0);
    assert_eq!(export(dir.path(), "bob")["records"], bob_before["records"]);
    let v = verify(dir.path()).unwrap();
    assert_eq!(v.erased, 20);
    // the subject appears nowhere any more, and the erasure is recorded with counts only
    let mut all = String::new();
    for f in files(dir.path()) {
        all.push_str(&std::fs::read_to_string(f).unwrap());
    }
    assert!(!all.contains("alice"));
    let last: Value = serde_json::from_str(all.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "erasure");
    assert_eq!(last["body"], serde_json::json!({"files_rewritten": report.files_rewritten, "records_erased": 20}));
    // erasing again finds nothing, and a server can continue the log afterwards
    let again = mcp_audit::erase_client(&active(dir.path()), "alice", &key(), t0(), &mut no_progress).unwrap();
    assert_eq!(again.records_erased, 0);
    write_log(dir.path(), &config("rotate_size_bytes = 3000"), 4);
    assert!(verify(dir.path()).is_ok());
}

#[test]
fn offline_operations_refuse_while_a_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (_sink, writer) = start(dir.path(), &config(""));
    let err = mcp_audit::erase_client(&active(dir.path()), "alice", &key(), t0(), &mut no_progress).unwrap_err();
    assert!(matches!(err, AuditError::WriterActive { .. }), "{err}");
    let err = mcp_audit::purge_older_than(&active(dir.path()), &key(), 1, t0(), &mut no_progress).unwrap_err();
    assert!(matches!(err, AuditError::WriterActive { .. }), "{err}");
    // and a second writer cannot start on the same log
    let err = mcp_audit::FileAuditSink::start(&config(""), dir.path(), key()).unwrap_err();
    assert!(matches!(err, AuditError::WriterActive { .. }), "{err}");
    writer.shutdown().unwrap();
}

#[test]
fn online_erasure_through_the_running_sink() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, writer) = start(dir.path(), &config("rotate_size_bytes = 3000"));
    for i in 0..30 {
        sink.audit(rec(if i % 3 == 0 { "carol" } else { "dave" }, "resources/read", i)).unwrap();
    }
    let report = sink.erase_client("carol", &mut no_progress).unwrap();
    assert_eq!(report.records_erased, 10);
    // the server keeps writing while and after erasing
    for i in 30..35 {
        sink.audit(rec("dave", "prompts/get", i)).unwrap();
    }
    writer.shutdown().unwrap();
    assert_eq!(export(dir.path(), "carol")["record_count"], 0);
    assert_eq!(export(dir.path(), "dave")["record_count"], 25);
    assert_eq!(verify(dir.path()).unwrap().erased, 10);
}

fn rotated_log(dir: &std::path::Path) -> std::sync::Arc<FakeClock> {
    // one rotated file per simulated day
    let clock = FakeClock::at(t0());
    let (sink, writer) = start_with(dir, &config(""), SinkOptions { clock: clock.clone(), ..SinkOptions::default() });
    for day in 0..10u64 {
        for i in 0..3 {
            sink.audit(rec("erin", "tools/call", day * 10 + i)).unwrap();
        }
        sink.flush_blocking().unwrap();
        clock.advance(Duration::from_secs(86_400));
        // the writer rotates a file older than rotate_interval_secs when it next writes
        sink.audit(rec("erin", "ping", day * 10 + 5)).unwrap();
        sink.flush_blocking().unwrap();
    }
    writer.shutdown().unwrap();
    clock
}

#[test]
fn offline_purge_keeps_the_log_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let clock = rotated_log(dir.path());
    let before = files(dir.path());
    assert!(before.len() >= 10, "{before:?}");
    let now = mcp_core::Clock::now(&*clock);
    let report = mcp_audit::purge_older_than(&active(dir.path()), &key(), 5, now, &mut no_progress).unwrap();
    assert!(report.files_removed.len() >= 4, "{report:?}");
    assert!(report.records_removed > 0 && report.bytes_removed > 0);
    for f in &report.files_removed {
        assert!(!f.exists());
    }
    let v = verify(dir.path()).unwrap();
    assert_eq!(v.purged_before, Some(report.files_removed.len() as u64));
    // a second purge of the same window removes nothing; a wider one removes more and still verifies
    let none = mcp_audit::purge_older_than(&active(dir.path()), &key(), 5, now, &mut no_progress).unwrap();
    assert!(none.files_removed.is_empty());
    let more = mcp_audit::purge_older_than(&active(dir.path()), &key(), 2, now, &mut no_progress).unwrap();
    assert!(!more.files_removed.is_empty());
    assert!(verify(dir.path()).is_ok());
    // deleting a file a purge did not account for is still found
    let left = files(dir.path());
    if left.len() > 2 {
        std::fs::remove_file(&left[0]).unwrap();
        assert!(matches!(failure(verify(dir.path())).problem, mcp_audit::Problem::FilesMissing { .. }));
    }
}

#[test]
fn online_purge_through_the_running_sink() {
    let dir = tempfile::tempdir().unwrap();
    let clock = rotated_log(dir.path());
    let (sink, writer) =
        start_with(dir.path(), &config(""), SinkOptions { clock: clock.clone(), ..SinkOptions::default() });
    let report = sink.purge_older_than(3, &mut no_progress).unwrap();
    assert!(!report.files_removed.is_empty());
    sink.audit(rec("erin", "tools/call", 999)).unwrap();
    writer.shutdown().unwrap();
    let v = verify(dir.path()).unwrap();
    assert!(v.purged_before.is_some());
    assert!(v.clean_shutdown);
}

#[test]
fn purge_refuses_to_hide_a_broken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let clock = rotated_log(dir.path());
    let all = files(dir.path());
    // damage the anchor of the second file: it no longer continues the first
    let mut lines = read_lines(&all[1]);
    let mut anchor: Value = serde_json::from_str(&lines[0]).unwrap();
    let prev = anchor["body"]["prev_chain"].as_str().unwrap().to_owned();
    let flipped = format!("{}{}", if prev.starts_with('0') { "1" } else { "0" }, &prev[1..]);
    anchor["body"]["prev_chain"] = Value::String(flipped);
    lines[0] = anchor.to_string();
    write_lines(&all[1], &lines);
    let now = mcp_core::Clock::now(&*clock);
    // purging only the first file would make the damaged anchor the start of the log
    let err = mcp_audit::purge_older_than(&active(dir.path()), &key(), 8, now, &mut no_progress).unwrap_err();
    assert!(matches!(err, AuditError::Corrupt { .. }), "{err}");
    assert!(all[0].exists());
}
