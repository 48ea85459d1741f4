use std::fmt;

/// The kinds of failure every crate's error enum maps onto. `mcp-server` turns a kind into an
/// HTTP status and a JSON-RPC code in exactly one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is malformed.
    InvalidRequest,
    /// Credentials are missing or invalid.
    Unauthenticated,
    /// Authenticated, but not allowed.
    Forbidden,
    /// The caller's OAuth token lacks a scope.
    InsufficientScope,
    /// The target does not exist (or is hidden from the caller).
    NotFound,
    /// A rate limit or quota was hit.
    RateLimited,
    /// A configured capacity limit was hit.
    CapacityExceeded,
    /// The arguments were refused by validation.
    ValidationFailed,
    /// A backend (secret store, audit sink, ...) is unavailable.
    Unavailable,
    /// The request took too long.
    Timeout,
    /// A bug or unexpected state; details go to logs only.
    Internal,
}

impl ErrorKind {
    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::InsufficientScope => "insufficient_scope",
            Self::NotFound => "not_found",
            Self::RateLimited => "rate_limited",
            Self::CapacityExceeded => "capacity_exceeded",
            Self::ValidationFailed => "validation_failed",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission string that is not `segment(:segment)*` with segments of `[A-Za-z0-9_.-]` or `*`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid permission {0:?}: use colon-separated segments of letters, digits, '_', '.', '-' or '*'")]
pub struct InvalidPermission(pub String);
