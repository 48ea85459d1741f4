//! The sink on the request path: parameter digests, filtering, tickets, config parsing.

use std::sync::Arc;
use std::time::SystemTime;

use mcp_audit::{AuditKey, AuditLogConfig, EventClass, FileAuditSink, FsyncPolicy, OnFailure};
use mcp_core::traits::AuditSink;
use mcp_core::{SecurityEvent, SecurityEventKind};
use serde_json::json;

use crate::common::*;

#[test]
fn params_hash_is_keyed_and_ignores_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, writer) = start(dir.path(), &config(""));
    let a = sink.params_hash(&json!({"patient": 12345, "opts": {"x": 1, "y": [true, null]}})).unwrap();
    let b = sink.params_hash(&json!({"opts": {"y": [true, null], "x": 1}, "patient": 12345})).unwrap();
    let c = sink.params_hash(&json!({"patient": 12346, "opts": {"x": 1, "y": [true, null]}})).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // not a plain SHA-256 of the canonical form: the key is needed to brute-force it
    let plain = ring::digest::digest(&ring::digest::SHA256, br#"{"opts":{"x":1,"y":[true,null]},"patient":12345}"#);
    assert_ne!(&a[..], plain.as_ref());
    writer.shutdown().unwrap();
    let other = tempfile::tempdir().unwrap();
    let (sink2, w2) = FileAuditSink::start(&config(""), other.path(), AuditKey::from_bytes(&[9; 32])).unwrap();
    assert_ne!(sink2.params_hash(&json!({"patient": 12345, "opts": {"x": 1, "y": [true, null]}})).unwrap(), a);
    w2.shutdown().unwrap();
    // not recorded at all when excluded
    let third = tempfile::tempdir().unwrap();
    let (sink3, w3) = start(third.path(), &config(r#"include = ["client_id"]"#));
    assert_eq!(sink3.params_hash(&json!({})), None);
    w3.shutdown().unwrap();
}

#[test]
fn events_and_fields_are_filtered_by_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        r#"
        events = ["tool_execute", "authorize_fail"]
        include = ["client_id", "method", "result"]
        "#,
    );
    let (sink, writer) = start(dir.path(), &cfg);
    sink.audit(rec("a", "tools/call", 1)).unwrap();
    sink.audit(rec("a", "resources/read", 2)).unwrap(); // filtered
    let mut always = rec("a", "resources/list", 3);
    always.always = true; // an access rule asks for it whatever the filter says
    sink.audit(always).unwrap();
    let now = SystemTime::now();
    sink.record(
        SecurityEvent::new(SecurityEventKind::AuthorizeFail, "denied", now).with_principal("a").with_rule("r1"),
    )
    .unwrap();
    sink.record(SecurityEvent::new(SecurityEventKind::Authenticated, "ok", now)).unwrap(); // filtered
    writer.shutdown().unwrap();
    let lines = read_lines(&active(dir.path()));
    let types: Vec<String> =
        lines.iter().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string()).collect();
    assert_eq!(types, [r#""anchor""#, r#""tool_execute""#, r#""request""#, r#""authorize_fail""#, r#""shutdown""#]);
    let first: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    let mut keys: Vec<&str> = first["body"].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["client_id", "method", "result", "salt"]);
    assert!(first.get("ts").is_none(), "timestamp not included");
    let ev: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
    assert_eq!(ev["body"]["event"], "authorize_fail");
    assert_eq!(ev["body"]["rule"], "r1");
    assert!(verify(dir.path()).is_ok());
}

#[test]
fn durable_tickets_complete_after_the_record_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, writer) = start(dir.path(), &config(r#"fsync = "every_record""#));
    let tickets: Vec<_> = (0..100).map(|i| sink.audit_durable(rec("a", "tools/call", i)).unwrap()).collect();
    for t in tickets {
        t.wait().unwrap();
    }
    // acknowledged means in the file now, before any shutdown
    assert_eq!(read_lines(&active(dir.path())).len(), 101);
    let stats = sink.stats();
    assert_eq!(stats.accepted, 100);
    assert!(stats.fsyncs >= 1 && stats.fsyncs <= 100, "{stats:?}");
    // the async flush of the trait also completes
    let flushed = std::thread::spawn({
        let sink = sink.clone();
        move || futures_lite_block_on(sink.flush())
    });
    assert!(flushed.join().unwrap().is_ok());
    writer.shutdown().unwrap();
    // after shutdown records are refused (fail_closed is the default)
    assert!(sink.audit(rec("a", "tools/call", 1)).is_err());
}

/// Poll a future to completion on this thread (no runtime needed: the ticket wakes it).
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    struct ThreadWaker(std::thread::Thread);
    impl std::task::Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn config_shapes() {
    let c: AuditLogConfig = config("");
    assert!(c.enabled);
    assert_eq!(c.fsync, FsyncPolicy::Interval { interval_ms: 1000 });
    assert_eq!(c.on_failure, OnFailure::FailClosed);
    assert_eq!(c.events.len(), 11);
    assert_eq!(c.log_path(std::path::Path::new("/data")), std::path::Path::new("/data/audit/audit.log"));
    assert_eq!(c.key_file(std::path::Path::new("/data")).unwrap(), std::path::Path::new("/data/audit.key"));
    assert_eq!(config(r#"fsync = "every_record""#).fsync, FsyncPolicy::EveryRecord);
    assert_eq!(config(r#"fsync = "none""#).fsync, FsyncPolicy::None);
    assert_eq!(config("fsync = { interval_ms = 250 }").fsync, FsyncPolicy::Interval { interval_ms: 250 });
    assert_eq!(config(r#"events = ["secret_access"]"#).events, [EventClass::SecretAccess]);
    let c = config(r#"directory = "/var/log/mcp""#);
    assert_eq!(c.log_path(std::path::Path::new("/data")), std::path::Path::new("/var/log/mcp/audit.log"));
    for bad in [
        r#"fsync = "sometimes""#,
        "fsync = { interval_ms = 1, extra = 2 }",
        "unknown = 1",
        r#"events = ["everything"]"#,
        r#"on_failure = "ignore""#,
        r#"backend = "syslog""#,
    ] {
        assert!(toml::from_str::<AuditLogConfig>(bad).is_err(), "{bad}");
    }
    for invalid in [
        r#"directory = "/a"
           file_path = "/b/audit.log""#,
        r#"key_path = "/k"
           key_env = "K""#,
        "queue_capacity = 0",
        "fsync = { interval_ms = 0 }",
    ] {
        assert!(config(invalid).validate().is_err(), "{invalid}");
    }
    // a key from the environment, through the config
    let c = config(r#"key_env = "MCP_AUDIT_KEY""#);
    let b64 = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="; // 32 × 0x2a
    let k = AuditKey::from_config(&c, std::path::Path::new("/nonexistent"), false, &|v| {
        (v == "MCP_AUDIT_KEY").then(|| b64.to_owned())
    })
    .unwrap();
    assert_eq!(k.key_id(), key().key_id());
}
