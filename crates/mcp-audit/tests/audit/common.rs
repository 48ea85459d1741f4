//! Helpers shared by the tests.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcp_audit::{AuditKey, AuditLogConfig, FileAuditSink, SinkOptions, VerifyReport, WriterHandle};
use mcp_core::{AuditOutcome, AuditRecord, AuthMethod, Clock};

/// A clock the test moves.
#[derive(Debug)]
pub struct FakeClock(Mutex<SystemTime>);

impl FakeClock {
    pub fn at(t: SystemTime) -> Arc<Self> {
        Arc::new(Self(Mutex::new(t)))
    }
    pub fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// 2026-01-01T00:00:00Z.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

pub fn key() -> AuditKey {
    AuditKey::from_bytes(&[42; 32])
}

pub fn config(toml_text: &str) -> AuditLogConfig {
    toml::from_str(toml_text).unwrap()
}

pub fn rec(client: &str, method: &str, n: u64) -> AuditRecord {
    AuditRecord {
        at: t0() + Duration::from_millis(n),
        request_id: Some(Arc::from(n.to_string())),
        principal: Arc::from(client),
        auth_method: AuthMethod::ApiKey,
        peer: Some("192.0.2.7:4242".parse().unwrap()),
        method: Arc::from(method),
        target: Some(Arc::from("calculate")),
        params_hash: Some([7; 32]),
        outcome: AuditOutcome::Ok,
        error_code: None,
        latency: Duration::from_micros(100 + n),
        always: false,
    }
}

pub fn start(dir: &Path, cfg: &AuditLogConfig) -> (FileAuditSink, WriterHandle) {
    FileAuditSink::start(cfg, dir, key()).unwrap()
}

pub fn start_with(dir: &Path, cfg: &AuditLogConfig, options: SinkOptions) -> (FileAuditSink, WriterHandle) {
    FileAuditSink::start_with(cfg, dir, key(), options).unwrap()
}

pub fn active(dir: &Path) -> PathBuf {
    dir.join("audit").join("audit.log")
}

pub fn files(dir: &Path) -> Vec<PathBuf> {
    mcp_audit::log_files(&active(dir)).unwrap()
}

pub fn verify(dir: &Path) -> Result<VerifyReport, mcp_audit::AuditError> {
    mcp_audit::verify(&files(dir), &key(), &mut |_| {})
}

pub fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

/// Write `n` records alternating between two clients, through the sink, then shut down.
pub fn write_log(dir: &Path, cfg: &AuditLogConfig, n: u64) {
    let (sink, writer) = start(dir, cfg);
    for i in 0..n {
        let client = if i % 2 == 0 { "alice" } else { "bob" };
        mcp_core::traits::AuditSink::audit(&sink, rec(client, "tools/call", i)).unwrap();
    }
    writer.shutdown().unwrap();
}

/// The verification failure of `r`, panicking if it verified.
pub fn failure(r: Result<VerifyReport, mcp_audit::AuditError>) -> mcp_audit::VerifyFailure {
    match r {
        Err(mcp_audit::AuditError::Tampered(f)) => *f,
        other => panic!("expected a verification failure, got {other:?}"),
    }
}
