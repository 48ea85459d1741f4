//! The block list on disk and in a shared store: persistence, CLI edits, reload, merge.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use mcp_monitor::{
    BlockEntry, BlockOrigin, BlockStore, BlockTarget, FileBlockStore, MemoryBlockStore, MonitoringConfig,
    SecurityMonitor,
};

use crate::common::{ManualClock, auth_fail, monitor_with};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn manual_blocks_persist_to_a_private_file_and_reload() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("blocks.json");
    let cfg = format!("[blocking]\nfile = {:?}", path.display().to_string());
    let clock = ManualClock::new();
    let m = monitor_with(&cfg, &clock);
    let e = m.block("ip:192.0.2.50".parse().expect("t"), Duration::from_secs(3600), "abuse report").expect("block");
    assert_eq!(e.origin, BlockOrigin::Manual);
    assert_eq!(std::fs::metadata(&path).expect("file").permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains("\"ip:192.0.2.50\"") && text.contains("abuse report"), "{text}");

    // A second server on the same file sees the block.
    let m2 = monitor_with(&cfg, &clock);
    assert!(m2.is_blocked_ip(ip("192.0.2.50")).is_some());

    // The CLI edits the file; the running server reloads it.
    let cli = FileBlockStore::new(&path);
    let entry =
        BlockEntry::manual(BlockTarget::client("eve").expect("id"), Duration::from_secs(600), "cli", clock.now())
            .expect("entry");
    cli.add(entry).expect("add");
    assert!(cli.remove(&"ip:192.0.2.50".parse().expect("t")).expect("remove"));
    assert!(m.reload_from_file().expect("reload"));
    assert!(m.is_blocked_client("eve").is_some());
    assert!(m.is_blocked_ip(ip("192.0.2.50")).is_none());
    assert!(!m.reload_from_file().expect("reload"), "unchanged file is not reloaded");

    // Automatic blocks reach the file at the next housekeeping run, beside the CLI's entry.
    for _ in 0..5 {
        m.publish(&auth_fail(None, Some("192.0.2.60:1")));
    }
    m.housekeeping().expect("housekeeping");
    let listed = cli.list(clock.now()).expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().any(|e| e.origin == BlockOrigin::Automatic && e.target.to_string() == "ip:192.0.2.60"));

    // unblock removes from table and file, and forgets the failures.
    assert!(m.unblock(&"client:eve".parse().expect("t")).expect("unblock"));
    assert!(!m.unblock(&"client:eve".parse().expect("t")).expect("unblock"));
    assert_eq!(cli.list(clock.now()).expect("list").len(), 1);
    assert_eq!(m.list_blocks().len(), 1);

    // Expired blocks disappear from the list and, at housekeeping, from the table.
    clock.advance(Duration::from_secs(4000));
    assert!(m.list_blocks().is_empty());
    m.housekeeping().expect("housekeeping");
    assert!(m.render_metrics().contains("mcp_active_blocks 0\n"));
}

#[test]
fn damaged_file_is_refused_and_keeps_the_table() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("blocks.json");
    let cfg = format!("[blocking]\nfile = {:?}", path.display().to_string());
    let clock = ManualClock::new();
    let m = monitor_with(&cfg, &clock);
    m.block("client:zed".parse().expect("t"), Duration::from_secs(60), "x").expect("block");
    std::fs::write(&path, b"{ not json").expect("write");
    let err = m.reload_from_file().expect_err("corrupt");
    assert!(err.to_string().contains("not a valid block list"), "{err}");
    assert!(m.is_blocked_client("zed").is_some(), "table unchanged");
    let parsed: MonitoringConfig = toml::from_str(&cfg).expect("cfg");
    assert!(SecurityMonitor::new(&parsed, clock.arc()).is_err(), "startup refuses a damaged file");
}

#[test]
fn external_store_changes_merge_with_unsaved_automatic_blocks() {
    let clock = ManualClock::new();
    let store = Arc::new(MemoryBlockStore::new());
    let cfg: MonitoringConfig = toml::from_str("").expect("cfg");
    let m = SecurityMonitor::with_store(&cfg, clock.arc(), store.clone()).expect("monitor");
    for _ in 0..5 {
        m.publish(&auth_fail(None, Some("192.0.2.77:1")));
    }
    let other = BlockEntry::manual("ip:192.0.2.78".parse().expect("t"), Duration::from_secs(60), "peer", clock.now())
        .expect("entry");
    store.replace(vec![other]);
    assert!(m.reload_from_file().expect("reload"));
    assert!(m.is_blocked_ip(ip("192.0.2.77")).is_some(), "unsaved automatic block kept");
    assert!(m.is_blocked_ip(ip("192.0.2.78")).is_some(), "external block loaded");
    assert_eq!(store.load_if_changed().expect("load"), None);
    assert_eq!(m.list_blocks().len(), 2);
}
