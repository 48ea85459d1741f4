//! Rotation of the audit key while the writer runs (and while it does not): each file has one
//! key, named by its anchor; `verify_with_keys` checks a log across the change; tampering on
//! either side of it is still found.

use mcp_audit::{AuditError, AuditKey, FileAuditSink, Problem, SinkOptions};
use mcp_core::traits::AuditSink;

use crate::common::*;

fn new_key() -> AuditKey {
    AuditKey::from_secret(b"the-rotated-audit-key-from-the-secret-store").unwrap()
}

fn anchor_key_id(path: &std::path::Path) -> String {
    let first: serde_json::Value = serde_json::from_str(&read_lines(path)[0]).unwrap();
    first["body"]["key_id"].as_str().unwrap().to_owned()
}

/// 5 records with the old key, a key rotation, 5 with the new one.
fn rotated_log(dir: &std::path::Path) {
    let (sink, writer) = start(dir, &config(""));
    let params = serde_json::json!({"a": 1});
    let before = sink.params_hash(&params).unwrap();
    for i in 0..5 {
        sink.audit(rec("alice", "tools/call", i)).unwrap();
    }
    sink.rotate_key(new_key()).unwrap();
    assert_ne!(sink.params_hash(&params).unwrap(), before, "parameter digests use the new key");
    for i in 5..10 {
        sink.audit(rec("bob", "tools/call", i)).unwrap();
    }
    writer.shutdown().unwrap();
}

#[test]
fn a_rotated_key_starts_a_new_file_and_both_keys_verify_the_log() {
    let dir = tempfile::tempdir().unwrap();
    rotated_log(dir.path());
    let all = files(dir.path());
    assert_eq!(all.len(), 2);
    assert_eq!(anchor_key_id(&all[0]), key().key_id());
    assert_eq!(anchor_key_id(&all[1]), new_key().key_id());
    assert!(read_lines(&all[0]).iter().skip(1).all(|l| l.contains("alice")));
    assert!(read_lines(&all[1]).iter().skip(1).take(5).all(|l| l.contains("bob")));
    for keys in [[key(), new_key()], [new_key(), key()]] {
        let report = mcp_audit::verify_with_keys(&all, &keys, &mut |_| {}).unwrap();
        // anchor + 5, anchor + 5 + shutdown
        assert_eq!((report.files.len(), report.records), (2, 13));
        assert!(report.clean_shutdown);
    }
    // Without the old key (a version the store no longer keeps) the old file is named.
    match mcp_audit::verify_with_keys(&all, &[new_key()], &mut |_| {}).unwrap_err() {
        AuditError::WrongKey { path, found, .. } => assert_eq!((path, found), (all[0].clone(), key().key_id())),
        other => panic!("{other}"),
    }
    assert!(matches!(verify(dir.path()), Err(AuditError::WrongKey { .. })));
}

#[test]
fn tampering_on_either_side_of_the_key_change_is_found() {
    let keys = [key(), new_key()];
    for (file, line) in [(0, 3), (1, 3)] {
        let dir = tempfile::tempdir().unwrap();
        rotated_log(dir.path());
        let all = files(dir.path());
        let mut lines = read_lines(&all[file]);
        let who = if file == 0 { "\"alice\"" } else { "\"bob\"" };
        lines[line - 1] = lines[line - 1].replacen(who, "\"mallory\"", 1);
        write_lines(&all[file], &lines);
        let f = failure(mcp_audit::verify_with_keys(&all, &keys, &mut |_| {}));
        assert_eq!((f.path, f.line, f.problem), (all[file].clone(), line as u64, Problem::BodyModified));
    }
    // The new file's anchor must continue the old file's chain.
    let dir = tempfile::tempdir().unwrap();
    rotated_log(dir.path());
    let all = files(dir.path());
    let mut lines = read_lines(&all[1]);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let prev = v["body"]["prev_chain"].as_str().unwrap().to_owned();
    let forged = format!("{}{}", if prev.starts_with('0') { "1" } else { "0" }, &prev[1..]);
    lines[0] = lines[0].replacen(&prev, &forged, 1);
    write_lines(&all[1], &lines);
    let f = failure(mcp_audit::verify_with_keys(&all, &keys, &mut |_| {}));
    assert_eq!((f.path, f.line), (all[1].clone(), 1));
    assert!(matches!(f.problem, Problem::BodyModified | Problem::ChainBroken), "{:?}", f.problem);
}

#[test]
fn a_key_rotated_while_no_writer_ran_rolls_over_only_from_a_known_key() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), &config(""), 3);
    let stranger = AuditKey::from_bytes(&[9; 32]);
    let err = FileAuditSink::start(&config(""), dir.path(), stranger).unwrap_err();
    assert!(matches!(err, AuditError::WrongKey { .. }), "an unknown key is still refused: {err}");
    let options = SinkOptions { previous_keys: vec![key()], ..SinkOptions::default() };
    let (sink, writer) = FileAuditSink::start_with(&config(""), dir.path(), new_key(), options).unwrap();
    sink.audit(rec("carol", "tools/call", 9)).unwrap();
    writer.shutdown().unwrap();
    let all = files(dir.path());
    assert_eq!(all.len(), 2);
    assert_eq!(anchor_key_id(&all[1]), new_key().key_id());
    let report = mcp_audit::verify_with_keys(&all, &[key(), new_key()], &mut |_| {}).unwrap();
    assert_eq!(report.records, 1 + 3 + 1 + 1 + 1 + 1);
}

#[test]
fn secrets_shorter_than_32_bytes_are_refused() {
    assert!(AuditKey::from_secret(&[1; 31]).is_err());
    assert_eq!(AuditKey::from_secret(&[42; 32]).unwrap().key_id(), key().key_id());
}
