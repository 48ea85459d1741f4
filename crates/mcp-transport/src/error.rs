use std::net::SocketAddr;

/// Errors of this crate. Each says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another process using the port? pick another with --listen)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A configured value is not usable.
    #[error("invalid transport setting `{key}`: {reason}")]
    Config {
        /// The config key.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// Reading or writing stdio failed.
    #[error("stdio transport failed: {0}")]
    Stdio(#[source] std::io::Error),
}

impl TransportError {
    /// The error kind for the server's wire table.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Bind { .. } => "bind",
            Self::Config { .. } => "config",
            Self::Stdio(_) => "stdio",
        }
    }
}
