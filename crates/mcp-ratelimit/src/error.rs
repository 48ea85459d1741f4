//! The one error type of this crate, and the rejection a limit produces.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::ErrorKind;
use mcp_core::traits::BackendError;

use crate::config::Scope;

/// A request was over a limit. Carries what the server needs for a `429` / JSON-RPC error and
/// its own `RateLimitExceeded` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limited {
    /// The name of the limit that rejected (from config: `client_all`, `client_tools`, ...).
    pub limit: Arc<str>,
    /// What the limit is keyed by.
    pub scope: Scope,
    /// Exactly how long until the limit admits one request again (for this key, with the
    /// numbers of the caller's class). Never zero.
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` header value: whole seconds, rounded up, at least 1.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mcp_ratelimit::{Limited, Scope};
    /// let l = Limited { limit: "client_all".into(), scope: Scope::Client, retry_after: Duration::from_millis(1001) };
    /// assert_eq!(l.retry_after_secs(), 2);
    /// assert_eq!(l.retry_after_ms(), 1001);
    /// ```
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }

    /// `retry_after_ms` for JSON-RPC error data: milliseconds, rounded up, at least 1.
    pub fn retry_after_ms(&self) -> u64 {
        let ms = self.retry_after.as_nanos().div_ceil(1_000_000);
        u64::try_from(ms).unwrap_or(u64::MAX).max(1)
    }
}

/// Everything that can go wrong in this crate. Messages never contain the Redis URL or password.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// A limit rejected the request.
    #[error("rate limit '{}' exceeded; retry after {:?}", .0.limit, .0.retry_after)]
    Limited(Limited),
    /// The shared store is unreachable and `on_backend_failure = "fail_closed"`.
    #[error("rate limit store ({backend}) unreachable; requests are refused (on_backend_failure = \"fail_closed\")")]
    Unavailable {
        /// The backend kind (`redis`).
        backend: &'static str,
    },
    /// One request asked for more units than the limit can ever hold (`cost` above `requests`
    /// or `burst`); it can never succeed.
    #[error("cost {cost} is larger than the capacity {capacity} of rate limit '{limit}'")]
    CostTooLarge {
        /// The limit.
        limit: Arc<str>,
        /// Units asked for.
        cost: u32,
        /// Most units the limit admits at once.
        capacity: u64,
    },
    /// The principal id and tool name together are longer than [`crate::MAX_KEY_BYTES`]: no
    /// state is kept for such a key (it would let one request pin that much memory per key).
    #[error("rate limit key of {len} bytes is longer than {max} bytes")]
    KeyTooLong {
        /// Bytes given.
        len: usize,
        /// Most accepted.
        max: usize,
    },
    /// The `[rate_limit]` configuration is invalid.
    #[error("invalid [rate_limit] configuration: {0}")]
    Config(String),
    /// The configuration names a backend whose cargo feature is not compiled in.
    #[error(
        "rate limit backend '{backend}' is not compiled into this binary: rebuild with `--features {feature}` (crate mcp-ratelimit)"
    )]
    FeatureNotCompiled {
        /// Backend named in the config.
        backend: &'static str,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
}

impl RateLimitError {
    /// The wire kind of this error: `RateLimited` (HTTP 429), `Unavailable` (503),
    /// `InvalidRequest` or `Internal` (configuration).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Limited(_) => ErrorKind::RateLimited,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::CostTooLarge { .. } | Self::KeyTooLong { .. } => ErrorKind::InvalidRequest,
            Self::Config(_) | Self::FeatureNotCompiled { .. } => ErrorKind::Internal,
        }
    }

    /// A static reason for logs and [`BackendError`]: no names, no addresses.
    pub fn static_reason(&self) -> &'static str {
        match self {
            Self::Limited(_) => "rate limit exceeded",
            Self::Unavailable { .. } => "rate limit store unreachable (fail_closed)",
            Self::CostTooLarge { .. } => "rate limit cost larger than capacity",
            Self::KeyTooLong { .. } => "rate limit key too long",
            Self::Config(_) => "invalid rate limit configuration",
            Self::FeatureNotCompiled { .. } => "rate limit backend not compiled in",
        }
    }

    /// The rejection, when this error is one.
    pub fn as_limited(&self) -> Option<&Limited> {
        match self {
            Self::Limited(l) => Some(l),
            _ => None,
        }
    }
}

impl From<RateLimitError> for BackendError {
    fn from(e: RateLimitError) -> Self {
        BackendError { kind: e.kind(), reason: e.static_reason() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(ns: u64) -> Limited {
        Limited { limit: "l".into(), scope: Scope::Ip, retry_after: Duration::from_nanos(ns) }
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(limited(1).retry_after_secs(), 1);
        assert_eq!(limited(1).retry_after_ms(), 1);
        assert_eq!(limited(2_000_000_000).retry_after_secs(), 2);
        assert_eq!(limited(2_000_000_001).retry_after_secs(), 3);
        assert_eq!(limited(1_500_000).retry_after_ms(), 2);
        assert_eq!(limited(3_000_000).retry_after_ms(), 3);
    }

    #[test]
    fn kinds_and_reasons() {
        assert_eq!(RateLimitError::Limited(limited(5)).kind(), ErrorKind::RateLimited);
        let e = RateLimitError::Unavailable { backend: "redis" };
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let b: BackendError = e.into();
        assert_eq!(b.reason, "rate limit store unreachable (fail_closed)");
        let f = RateLimitError::FeatureNotCompiled { backend: "redis", feature: "redis" };
        assert!(f.to_string().contains("--features redis"));
        assert_eq!(f.kind(), ErrorKind::Internal);
        assert!(RateLimitError::Limited(limited(5)).as_limited().is_some());
        assert!(f.as_limited().is_none());
    }
}
