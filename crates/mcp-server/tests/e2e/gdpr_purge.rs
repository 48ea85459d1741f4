//! `mcp-server gdpr purge` on the audit directory of a real server run: old rotated files go,
//! the purge is recorded, `audit verify` passes on what is left, and the retention window comes
//! from `[gdpr] data_retention_days` when `--days` is not given.

use std::process::Stdio;

use super::cli_audit::{Serve, call, new_key};
use super::*;

fn audit_files(d: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(d.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("audit.log"))
        .collect();
    names.sort();
    names
}

#[test]
fn purge_of_a_real_run_keeps_the_log_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let alice = new_key(d, "alice", "user");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    // Small files, so the run leaves several rotated ones behind.
    let env = [
        ("MCP_SERVER__DATA_DIR", d.as_os_str()),
        ("MCP_LOGGING__LEVEL", "warn".as_ref()),
        ("MCP_AUDIT_LOG__ROTATE_SIZE_BYTES", "1500".as_ref()),
    ];
    let s = Serve::spawn(&["serve", "--listen", &listen], &env, port, Stdio::null());
    for i in 0..15 {
        assert_eq!(call(s.addr, &alice, i).status, 200);
    }
    s.stop();
    let before = audit_files(d);
    assert!(before.len() >= 3, "the run rotated its log: {before:?}");

    // A retention window the files are inside of: nothing to purge.
    let cfg = d.join("gdpr.toml");
    std::fs::write(&cfg, format!("[server]\ndata_dir = {d:?}\n[gdpr]\nenabled = true\ndata_retention_days = 30\n"))
        .unwrap();
    let (ok, out, err) = cli(d, &["gdpr", "purge", "--config", cfg.to_str().unwrap()], b"");
    assert!(ok, "{out}{err}");
    assert!(out.contains("purged 0 files"), "{out}");
    assert_eq!(audit_files(d), before);

    // Rotated files are named by the millisecond they were rotated; let that moment pass.
    std::thread::sleep(Duration::from_millis(1100));
    let (ok, out, err) = cli(d, &["gdpr", "purge", "--days", "0"], b"");
    assert!(ok, "{out}{err}");
    let after = audit_files(d);
    assert_eq!(after, ["audit.log"], "every rotated file is gone: {after:?} ({out})");
    let removed: usize = out.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap();
    assert_eq!(removed, before.len() - 1, "{out}");

    // What is left still verifies, and the purge itself is on record.
    let (ok, out, err) = cli(d, &["audit", "verify"], b"");
    assert!(ok, "verify after purge: {out}{err}");
    let log = std::fs::read_to_string(d.join("audit/audit.log")).unwrap();
    assert!(log.contains("purge"), "the purge is recorded: {log}");

    // The records of the purged files are no longer exported.
    let (ok, out, err) = cli(d, &["gdpr", "export", "--client", "alice"], b"");
    assert!(ok, "{err}");
    assert!(out.matches("tools/call").count() < 15, "purged records are gone from the export: {out}");
}
