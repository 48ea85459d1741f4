//! The one error type of this crate.

use std::path::PathBuf;

use mcp_core::ErrorKind;

/// Everything that can go wrong in the monitor. Messages name the setting or file involved and
/// say what to do next; they never contain a webhook URL (it may embed a token).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The `[monitoring]` configuration is invalid.
    #[error("invalid [monitoring] configuration: {0}")]
    Config(String),
    /// The configuration asks for something whose cargo feature is not compiled in.
    #[error("{what} is not compiled into this binary: rebuild with `--features {feature}` (crate mcp-monitor)")]
    FeatureNotCompiled {
        /// What the configuration asked for.
        what: &'static str,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// A webhook is configured but the monitor was built outside a tokio runtime.
    #[error("the alert webhook needs a tokio runtime: build the SecurityMonitor inside one")]
    NoRuntime,
    /// A webhook is configured but no rustls crypto provider is installed.
    #[error(
        "no rustls CryptoProvider is installed: call rustls::crypto::ring::default_provider().install_default() once at startup"
    )]
    NoCryptoProvider,
    /// The HTTP client for the webhook could not be built.
    #[error("cannot build the alert webhook client: {0}")]
    WebhookClient(String),
    /// A block target is not `ip:<address>` or `client:<id>`, or a reason is unacceptable.
    #[error("invalid block {what}: {problem}")]
    InvalidBlock {
        /// `target`, `reason` or `duration`.
        what: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The block file is not a valid block list; nothing was changed.
    #[error("block file {path} is not a valid block list ({problem}); the current block list is unchanged")]
    CorruptFile {
        /// The block file.
        path: PathBuf,
        /// What was detected.
        problem: String,
    },
    /// The shared block store (Redis) did not answer or refused; nothing was changed there, and
    /// the last loaded block list stays in force.
    #[error("the shared block store is unavailable ({problem}); the last loaded block list stays in force")]
    StoreUnavailable {
        /// What went wrong (never the store's address or credentials).
        problem: String,
    },
    /// A file operation failed; the previous block file is intact.
    #[error("{op} {path} failed: {source}; the previous block file is unchanged")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl MonitorError {
    /// The wire error kind this maps to (used by `mcp-server`'s one error table).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidBlock { .. } => ErrorKind::InvalidRequest,
            Self::Io { .. } | Self::CorruptFile { .. } | Self::StoreUnavailable { .. } => ErrorKind::Unavailable,
            Self::Config(_)
            | Self::FeatureNotCompiled { .. }
            | Self::NoRuntime
            | Self::NoCryptoProvider
            | Self::WebhookClient(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { op, path: path.into(), source }
    }

    pub(crate) fn invalid(what: &'static str, problem: impl Into<String>) -> Self {
        Self::InvalidBlock { what, problem: problem.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = MonitorError::invalid("target", "use ip:<address> or client:<id>");
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
        assert!(e.to_string().contains("ip:<address>"));
        let e = MonitorError::io("reading", "/x/blocks.json", std::io::Error::other("disk"));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.to_string().contains("/x/blocks.json"));
        assert_eq!(MonitorError::NoRuntime.kind(), ErrorKind::Internal);
    }
}
