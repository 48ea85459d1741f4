//! The `[audit_log]` configuration section.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::AuditError;
pub use crate::select::{EventClass, Field};

/// `[audit_log]`: where and how the audit log is written. See `docs/configuration.md` (section "Audit log").
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditLogConfig {
    /// Write the audit log at all (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Storage backend; only `"file"`.
    #[serde(default)]
    pub backend: Backend,
    /// Directory of the log; the active file is `<directory>/audit.log`.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Path of the active log file (rotated files go next to it). Exclusive with `directory`.
    #[serde(default)]
    pub file_path: Option<PathBuf>,
    /// Record format; only `"json"` (one JSON object per line).
    #[serde(default)]
    pub format: Format,
    /// Which record classes are written (default: all).
    #[serde(default = "EventClass::all")]
    pub events: Vec<EventClass>,
    /// Which request fields are written (default: all).
    #[serde(default = "Field::all")]
    pub include: Vec<Field>,
    /// When records are forced to disk (default `{ interval_ms = 1000 }`).
    #[serde(default)]
    pub fsync: FsyncPolicy,
    /// Rotate when the active file reaches this size (default 64 MiB; 0: never by size).
    #[serde(default = "default_rotate_size")]
    pub rotate_size_bytes: u64,
    /// Rotate when the active file is this old and holds records (default 86400; 0: never by
    /// age). Retention purges whole rotated files, so this is also the purge granularity.
    #[serde(default = "default_rotate_interval")]
    pub rotate_interval_secs: u64,
    /// What happens when the log cannot be written (default `fail_closed`).
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Capacity of the queue between request handlers and the writer (default 65536).
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// How often a failing writer retries (default 1000 ms).
    #[serde(default = "default_retry_ms")]
    pub retry_interval_ms: u64,
    /// HMAC key file (32 random bytes, base64; created 0600 on first use). Default
    /// `<data_dir>/audit.key`. Exclusive with `key_env`.
    #[serde(default)]
    pub key_path: Option<PathBuf>,
    /// Environment variable holding the base64 key instead of a file.
    #[serde(default)]
    pub key_env: Option<String>,
    /// Name of a secret in the server's secret store holding the key (at least 32 bytes), instead
    /// of a file or variable. Rotating that secret switches the log to the new key without a
    /// restart, starting a new file. Exclusive with `key_path` and `key_env`.
    #[serde(default)]
    pub key_secret: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_rotate_size() -> u64 {
    64 * 1024 * 1024
}
fn default_rotate_interval() -> u64 {
    86_400
}
fn default_queue_capacity() -> usize {
    65_536
}
fn default_retry_ms() -> u64 {
    1000
}

impl Default for AuditLogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: Backend::File,
            directory: None,
            file_path: None,
            format: Format::Json,
            events: EventClass::all(),
            include: Field::all(),
            fsync: FsyncPolicy::default(),
            rotate_size_bytes: default_rotate_size(),
            rotate_interval_secs: default_rotate_interval(),
            on_failure: OnFailure::FailClosed,
            queue_capacity: default_queue_capacity(),
            retry_interval_ms: default_retry_ms(),
            key_path: None,
            key_env: None,
            key_secret: None,
        }
    }
}

impl AuditLogConfig {
    /// Check the combinations serde cannot.
    pub fn validate(&self) -> Result<(), AuditError> {
        if self.directory.is_some() && self.file_path.is_some() {
            return Err(AuditError::Config("set either `directory` or `file_path`, not both".into()));
        }
        let sources = [self.key_path.is_some(), self.key_env.is_some(), self.key_secret.is_some()];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(AuditError::Config("set one of `key_path`, `key_env` and `key_secret`".into()));
        }
        if let Some(p) = &self.file_path
            && p.file_name().is_none()
        {
            return Err(AuditError::Config(format!("`file_path` {} does not name a file", p.display())));
        }
        if self.queue_capacity == 0 || self.queue_capacity > 16 * 1024 * 1024 {
            return Err(AuditError::Config("`queue_capacity` must be 1..=16777216".into()));
        }
        if let FsyncPolicy::Interval { interval_ms } = self.fsync
            && interval_ms == 0
        {
            return Err(AuditError::Config("`fsync.interval_ms` must be at least 1 (or use \"every_record\")".into()));
        }
        if self.retry_interval_ms == 0 {
            return Err(AuditError::Config("`retry_interval_ms` must be at least 1".into()));
        }
        Ok(())
    }

    /// The active log file: `file_path`, else `<directory>/audit.log`, else
    /// `<data_dir>/audit/audit.log`.
    pub fn log_path(&self, data_dir: &Path) -> PathBuf {
        match (&self.file_path, &self.directory) {
            (Some(p), _) => p.clone(),
            (None, Some(d)) => d.join("audit.log"),
            (None, None) => data_dir.join("audit").join("audit.log"),
        }
    }

    /// The key file when the key comes from a file: `key_path`, else `<data_dir>/audit.key`.
    pub fn key_file(&self, data_dir: &Path) -> Option<PathBuf> {
        match (&self.key_env, &self.key_path) {
            (Some(_), _) => None,
            _ if self.key_secret.is_some() => None,
            (None, Some(p)) => Some(p.clone()),
            (None, None) => Some(data_dir.join("audit.key")),
        }
    }

    pub(crate) fn retry_interval(&self) -> Duration {
        Duration::from_millis(self.retry_interval_ms.max(1))
    }
}

/// Storage backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// JSON-lines files.
    #[default]
    File,
}

/// Record format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// One JSON object per line.
    #[default]
    Json,
}

/// When written records are forced to stable storage.
///
/// TOML: `fsync = "every_record"`, `fsync = "none"` or `fsync = { interval_ms = 1000 }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "FsyncRepr")]
pub enum FsyncPolicy {
    /// fsync each batch before its records are acknowledged (group commit): a [`crate::Ticket`]
    /// completes only once its record is on stable storage.
    EveryRecord,
    /// Never fsync explicitly (the OS writes back); records survive a process kill, not a power
    /// loss.
    None,
    /// fsync at most every `interval_ms` while there are unsynced records.
    Interval {
        /// Milliseconds between fsyncs.
        interval_ms: u64,
    },
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        Self::Interval { interval_ms: 1000 }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FsyncRepr {
    Name(String),
    Table(IntervalTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntervalTable {
    interval_ms: u64,
}

impl TryFrom<FsyncRepr> for FsyncPolicy {
    type Error = String;
    fn try_from(repr: FsyncRepr) -> Result<Self, String> {
        match repr {
            FsyncRepr::Name(n) if n == "every_record" => Ok(Self::EveryRecord),
            FsyncRepr::Name(n) if n == "none" => Ok(Self::None),
            FsyncRepr::Name(n) => {
                Err(format!("unknown fsync policy {n:?}: use \"every_record\", \"none\" or {{ interval_ms = 1000 }}"))
            }
            FsyncRepr::Table(t) => Ok(Self::Interval { interval_ms: t.interval_ms }),
        }
    }
}

/// What the sink does when it cannot write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Refuse records (`record`/`audit` return an error and `is_failing_closed()` is true) until
    /// the writer recovers; the server answers 503.
    #[default]
    FailClosed,
    /// Drop records, count them and signal `AuditDegraded`; requests go on.
    FailOpen,
}
