//! The chain: a normal log verifies; every kind of tampering is found, with file and line.

use mcp_audit::{AuditKey, Problem};

use crate::common::*;

#[test]
fn normal_log_verifies_and_restart_continues_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("");
    write_log(dir.path(), &cfg, 20);
    write_log(dir.path(), &cfg, 5);
    let report = verify(dir.path()).unwrap();
    // anchor + 20 + shutdown + 5 + shutdown, all in one file
    assert_eq!(report.records, 28);
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].seq, (0, 27));
    assert!(report.clean_shutdown);
    let lines = read_lines(&active(dir.path()));
    let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(v["type"], "tool_execute");
    assert_eq!(v["ts"], "2026-01-01T00:00:00.000Z");
    assert_eq!(v["body"]["client_id"], "alice");
    assert_eq!(v["body"]["params_hash"].as_str().unwrap().len(), 64);
    assert_eq!(v["body"]["salt"].as_str().unwrap().len(), 32);
}

fn tampered(edit: impl FnOnce(&mut Vec<String>)) -> mcp_audit::VerifyFailure {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config(""), 10);
    let path = active(dir.path());
    let mut lines = read_lines(&path);
    edit(&mut lines);
    write_lines(&path, &lines);
    let f = failure(verify(dir.path()));
    assert_eq!(f.path, path);
    f
}

#[test]
fn a_modified_byte_in_a_body_is_found() {
    let f = tampered(|l| l[4] = l[4].replacen("\"bob\"", "\"bob_\"", 1));
    assert_eq!((f.line, f.problem), (5, Problem::BodyModified));
    let f = tampered(|l| l[3] = l[3].replacen("\"latency_us\":102", "\"latency_us\":103", 1));
    assert_eq!((f.line, f.problem), (4, Problem::BodyModified));
}

#[test]
fn a_modified_header_digest_or_chain_is_found() {
    let f = tampered(|l| l[2] = l[2].replacen("00:00:00.001Z", "00:00:00.009Z", 1));
    assert_eq!((f.line, f.problem), (3, Problem::ChainBroken));
    let f = tampered(|l| l[2] = l[2].replacen("tool_execute", "request", 1));
    assert_eq!((f.line, f.problem), (3, Problem::ChainBroken));
    // a forged line with a consistent digest but no key cannot produce the chain value
    let f = tampered(|l| {
        let mut v: serde_json::Value = serde_json::from_str(&l[6]).unwrap();
        v["chain"] = serde_json::Value::String("00".repeat(32));
        l[6] = v.to_string();
    });
    assert_eq!(f.line, 7);
    assert!(matches!(f.problem, Problem::ChainBroken | Problem::Malformed(_)), "{:?}", f.problem);
}

#[test]
fn a_removed_line_is_found() {
    let f = tampered(|l| {
        l.remove(5);
    });
    assert_eq!((f.line, f.problem), (6, Problem::RecordsMissing { expected_seq: 5, found_seq: 6 }));
}

#[test]
fn swapped_lines_are_found() {
    let f = tampered(|l| l.swap(3, 4));
    assert_eq!((f.line, f.problem), (4, Problem::Reordered { expected_seq: 3, found_seq: 4 }));
}

#[test]
fn a_torn_last_line_of_the_newest_file_is_left_out_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config(""), 10);
    let path = active(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    // A write cut short by a crash: the record was never acknowledged.
    std::fs::write(&path, &text[..text.len() - 40]).unwrap();
    let report = verify(dir.path()).unwrap();
    let last_len = text.trim_end().rsplit('\n').next().unwrap().len() as u64;
    assert_eq!((report.records, report.torn_tail_bytes), (11, Some(last_len - 39)));
    assert!(!report.clean_shutdown && !report.in_progress);
    // only the newline missing: the same (the newline is written with the record)
    std::fs::write(&path, &text[..text.len() - 1]).unwrap();
    assert_eq!(verify(dir.path()).unwrap().torn_tail_bytes, Some(last_len));
    // a torn line followed by a complete one is damage, not a crash
    let lines: Vec<&str> = text.lines().collect();
    let damaged = format!("{}\n{}\n{}\n", lines[..5].join("\n"), &lines[5][..30], lines[6..].join("\n"));
    std::fs::write(&path, damaged).unwrap();
    assert!(matches!(failure(verify(dir.path())).problem, Problem::Malformed(_) | Problem::Truncated));
}

#[test]
fn a_torn_line_at_the_end_of_an_older_file_is_truncation() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config("rotate_size_bytes = 2000"), 60);
    let all = files(dir.path());
    assert!(all.len() >= 2, "{all:?}");
    let text = std::fs::read_to_string(&all[0]).unwrap();
    std::fs::write(&all[0], &text[..text.len() - 1]).unwrap();
    let f = failure(verify(dir.path()));
    assert_eq!((f.path, f.problem), (all[0].clone(), Problem::Truncated));
}

#[test]
fn rotation_keeps_the_chain_and_a_removed_middle_file_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config("rotate_size_bytes = 2000");
    write_log(dir.path(), &cfg, 60);
    let all = files(dir.path());
    assert!(all.len() >= 4, "{all:?}");
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.files.len(), all.len());
    assert_eq!(report.records, report.files.iter().map(|f| f.lines).sum::<u64>());
    for w in report.files.windows(2) {
        assert_eq!(w[0].file_index + 1, w[1].file_index);
        assert_eq!(w[0].seq.1 + 1, w[1].seq.0);
    }
    // verification does not depend on the order the files are given in
    let mut shuffled = all.clone();
    shuffled.reverse();
    assert!(mcp_audit::verify(&shuffled, &key(), &mut |_| {}).is_ok());
    // remove a rotated file in the middle
    std::fs::remove_file(&all[1]).unwrap();
    let f = failure(verify(dir.path()));
    assert_eq!(f.path, all[2]);
    assert_eq!((f.line, f.problem), (1, Problem::FilesMissing { after: Some(0), next: 2 }));
    // and the first one: nothing accounts for it
    std::fs::remove_file(&all[0]).unwrap();
    let f = failure(mcp_audit::verify(&all[2..], &key(), &mut |_| {}));
    assert_eq!(f.problem, Problem::FilesMissing { after: None, next: 2 });
}

#[test]
fn records_cut_from_the_end_of_a_rotated_file_are_found() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config("rotate_size_bytes = 2000"), 30);
    let all = files(dir.path());
    let mut lines = read_lines(&all[0]);
    lines.pop();
    write_lines(&all[0], &lines);
    let f = failure(verify(dir.path()));
    assert_eq!(f.path, all[1]);
    assert!(matches!(f.problem, Problem::RecordsMissing { .. }), "{:?}", f.problem);
}

#[test]
fn another_key_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config(""), 3);
    let other = AuditKey::from_bytes(&[1; 32]);
    let err = mcp_audit::verify(&files(dir.path()), &other, &mut |_| {}).unwrap_err();
    assert!(matches!(err, mcp_audit::AuditError::WrongKey { .. }), "{err}");
    let err = mcp_audit::FileAuditSink::start(&config(""), dir.path(), other).unwrap_err();
    assert!(matches!(err, mcp_audit::AuditError::WrongKey { .. }), "{err}");
}

#[test]
fn progress_is_reported_up_to_the_total() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config(""), 10_000);
    let mut calls = Vec::new();
    mcp_audit::verify(&files(dir.path()), &key(), &mut |p| calls.push(p)).unwrap();
    let last = calls.last().unwrap();
    assert!(calls.len() >= 3);
    assert_eq!(last.records, 10_002);
    assert_eq!(last.bytes, last.total_bytes);
}

#[test]
fn an_incomplete_tail_is_cut_and_recorded_when_a_writer_resumes() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config(""), 4);
    let path = active(dir.path());
    let mut text = std::fs::read_to_string(&path).unwrap();
    let partial = r#"{"seq":6,"ts":"2026-01-01T00:00:00.000Z","type":"tool_ex"#;
    text.push_str(partial);
    std::fs::write(&path, &text).unwrap();
    assert_eq!(verify(dir.path()).unwrap().torn_tail_bytes, Some(partial.len() as u64));
    write_log(dir.path(), &config(""), 2);
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.recoveries, 1);
    let lines = read_lines(&path);
    let recovery: serde_json::Value = serde_json::from_str(&lines[6]).unwrap();
    assert_eq!(recovery["type"], "recovery");
    assert_eq!(recovery["body"]["truncated_bytes"], partial.len());
}

#[test]
fn a_complete_but_damaged_last_line_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config(""), 2);
    let path = active(dir.path());
    let mut lines = read_lines(&path);
    lines.push("not a record".into());
    write_lines(&path, &lines);
    let err = mcp_audit::FileAuditSink::start(&config(""), dir.path(), key()).unwrap_err();
    assert!(matches!(err, mcp_audit::AuditError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("audit verify"), "{err}");
}

#[test]
fn a_live_log_verifies_while_its_writer_appends() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, writer) = start(dir.path(), &config(""));
    for i in 0..5 {
        mcp_core::traits::AuditSink::audit(&sink, rec("a", "tools/call", i)).unwrap();
    }
    sink.flush_blocking().unwrap();
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.records, 6);
    assert!(!report.clean_shutdown && !report.in_progress);
    // a record half-way through its write: not a truncation while the writer holds the log
    let path = active(dir.path());
    let whole = std::fs::read(&path).unwrap();
    let mut partial = whole.clone();
    partial.extend_from_slice(br#"{"seq":6,"ts":"#);
    std::fs::write(&path, &partial).unwrap();
    let report = verify(dir.path()).unwrap();
    assert!(report.in_progress);
    assert_eq!(report.records, 6);
    std::fs::write(&path, &whole).unwrap();
    writer.shutdown().unwrap();
    assert!(verify(dir.path()).unwrap().clean_shutdown);
}
