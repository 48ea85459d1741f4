//! The one error type of this crate.

use std::path::PathBuf;

use mcp_core::ErrorKind;

use crate::verify::VerifyFailure;

/// Everything that can go wrong in the audit log. Messages name the file or variable involved and
/// say what to do next; they never contain key material or record contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The `[audit_log]` configuration is invalid.
    #[error("invalid [audit_log] configuration: {0}")]
    Config(String),
    /// The HMAC key file is missing, unreadable, malformed or readable by others.
    #[error("audit key file {path}: {problem}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The key environment variable is missing or malformed.
    #[error("environment variable {var}: {problem}")]
    KeyEnv {
        /// The variable name (never its value).
        var: String,
        /// What is wrong and how to fix it.
        problem: &'static str,
    },
    /// A file operation failed.
    #[error("audit log {path}: cannot {op}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (`open`, `write`, `rename`, ...).
        op: &'static str,
        /// The operating system error.
        source: std::io::Error,
    },
    /// Another process (a running server) is writing this log.
    #[error(
        "audit log {path} is locked by a running writer (a server): stop it, or run the operation through the running server"
    )]
    WriterActive {
        /// The active log file.
        path: PathBuf,
    },
    /// A file cannot be parsed well enough to continue, resume or rewrite it.
    #[error("audit log {path} line {line}: {problem}; run `mcp-server audit verify` on it")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0: the file as a whole).
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// Verification found a broken, removed, reordered or truncated record or file.
    #[error("{0}")]
    Tampered(Box<VerifyFailure>),
    /// The log was written with a different key.
    #[error(
        "audit log {path} was written with key id {found}, the configured key has id {expected}: configure the key it was written with"
    )]
    WrongKey {
        /// The file whose anchor names the other key.
        path: PathBuf,
        /// Id of the configured key.
        expected: String,
        /// Id recorded in the file.
        found: String,
    },
    /// The sink cannot accept or persist records right now (queue full, writer failing or
    /// stopped).
    #[error("audit log unavailable: {0}")]
    Unavailable(&'static str),
    /// The `[telemetry]` configuration is invalid, or the OTLP exporter cannot be built or
    /// flushed.
    #[error("telemetry: {0}")]
    Telemetry(String),
}

impl AuditError {
    /// The wire error kind this becomes when it reaches a client.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Io { .. } | Self::WriterActive { .. } | Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::Config(_)
            | Self::KeyFile { .. }
            | Self::KeyEnv { .. }
            | Self::Corrupt { .. }
            | Self::Tampered(_)
            | Self::WrongKey { .. }
            | Self::Telemetry(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), op, source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, line: u64, problem: impl Into<String>) -> Self {
        Self::Corrupt { path: path.into(), line, problem: problem.into() }
    }
}
