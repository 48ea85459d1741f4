//! The `[rate_limit]` configuration section.
//!
//! Parsed with `deny_unknown_fields`; [`crate::RateLimitEngine::new`] validates it and refuses
//! inconsistent settings with a message naming the limit and the field.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

mod limit;

pub use limit::{Algorithm, AppliesTo, LimitConfig, LimitOverride, Scope};

/// Which store holds the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// Process memory, per replica (default, always compiled).
    #[default]
    Memory,
    /// One Redis shared by every replica (cargo feature `redis`).
    Redis,
}

impl BackendKind {
    /// The config spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Redis => "redis",
        }
    }
}

/// What happens while the shared store is unreachable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Admit every request unlimited until the store is back.
    FailOpen,
    /// Refuse every request with [`crate::RateLimitError::Unavailable`] (default: an attacker
    /// who can knock over Redis must not also lift every limit).
    #[default]
    FailClosed,
}

/// A Redis URL (`redis://[user:password@]host:port[/db]`). `Debug` hides it: it may carry a
/// password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Wrap a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedisUrl([REDACTED])")
    }
}

/// `[rate_limit]`. An absent section means [`RateLimitConfig::default`]: on, in memory, with
/// [`RateLimitConfig::default_limits`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Master switch (default true). Off: every check admits.
    pub enabled: bool,
    /// `memory` (default) or `redis`.
    pub backend: BackendKind,
    /// Redis URL, for `backend = "redis"` (or use `redis_url_env`).
    pub redis_url: Option<RedisUrl>,
    /// Name of an environment variable holding the Redis URL (keeps a password out of the file).
    pub redis_url_env: Option<String>,
    /// Prefix of every Redis key (default `mcp:rl:`).
    pub redis_key_prefix: String,
    /// Timeout of every Redis call, milliseconds (default 75).
    pub redis_timeout_ms: u64,
    /// While Redis is unreachable, how often one request tries it again, milliseconds (default
    /// 500); the others get the failure policy at once instead of waiting for a timeout.
    pub redis_retry_ms: u64,
    /// `fail_closed` (default) or `fail_open`.
    pub on_backend_failure: FailurePolicy,
    /// Memory backend: most keys tracked over all limits (default 100000).
    pub max_keys: usize,
    /// `scope = "ip"`: IPv6 addresses are grouped by this prefix length (default 64, one
    /// customer network); IPv4 addresses are keyed whole.
    pub ipv6_prefix_len: u8,
    /// The limits. Absent: [`RateLimitConfig::default_limits`]; `limits = []`: none.
    pub limits: Vec<LimitConfig>,
    /// Per rate class, per limit name, replacement numbers.
    pub classes: BTreeMap<String, BTreeMap<String, LimitOverride>>,
}

impl RateLimitConfig {
    /// The limits in force when none are configured: per IP (before authentication) 600 per
    /// minute in bursts of up to 100; per client 300 per minute in bursts of up to 50; per
    /// client tool calls 120 per minute in bursts of up to 20. All token buckets (8 bytes of
    /// state per key).
    pub fn default_limits() -> Vec<LimitConfig> {
        let bucket = |name: &str, scope, applies_to, rate: f64, burst| LimitConfig {
            name: name.to_owned(),
            scope,
            applies_to,
            tool: None,
            algorithm: Algorithm::TokenBucket,
            requests: None,
            window_ms: None,
            rate_per_sec: Some(rate),
            burst: Some(burst),
        };
        vec![
            bucket("ip_all", Scope::Ip, AppliesTo::All, 10.0, 100),
            bucket("client_all", Scope::Client, AppliesTo::All, 5.0, 50),
            bucket("client_tools", Scope::Client, AppliesTo::Tools, 2.0, 20),
        ]
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: BackendKind::Memory,
            redis_url: None,
            redis_url_env: None,
            redis_key_prefix: "mcp:rl:".to_owned(),
            redis_timeout_ms: 75,
            redis_retry_ms: 500,
            on_backend_failure: FailurePolicy::FailClosed,
            max_keys: 100_000,
            ipv6_prefix_len: 64,
            limits: Self::default_limits(),
            classes: BTreeMap::new(),
        }
    }
}
