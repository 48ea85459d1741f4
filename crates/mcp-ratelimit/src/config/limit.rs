//! One limit: what it is keyed by, what it counts, and how.

use serde::Deserialize;

use crate::method::MethodClass;

/// What a limit is keyed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The authenticated principal id.
    Client,
    /// The remote IP address (IPv6 grouped by `ipv6_prefix_len`), before authentication.
    Ip,
    /// One named tool (`tool = "..."`), per principal.
    Tool,
    /// Principal and method class: each class has its own budget.
    MethodClass,
    /// Principal and tool name: each tool has its own budget.
    ClientTool,
}

impl Scope {
    /// The config spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Ip => "ip",
            Self::Tool => "tool",
            Self::MethodClass => "method_class",
            Self::ClientTool => "client_tool",
        }
    }
}

/// Which requests a limit counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppliesTo {
    /// Every request (default).
    #[default]
    All,
    /// `tools/call` only.
    Tools,
    /// `resources/*`.
    Resources,
    /// `prompts/*`.
    Prompts,
    /// Every method outside the three classes above.
    Other,
}

impl AppliesTo {
    /// True when a request of `class` is counted.
    pub fn matches(self, class: MethodClass) -> bool {
        match self {
            Self::All => true,
            Self::Tools => class == MethodClass::Tools,
            Self::Resources => class == MethodClass::Resources,
            Self::Prompts => class == MethodClass::Prompts,
            Self::Other => class == MethodClass::Other,
        }
    }
}

/// How a limit counts. Both are exact (error 0), in memory and in Redis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Sliding log: admits a request when fewer than `requests` admissions lie in the last
    /// `window_ms`, so **no** window of that length ever holds more than `requests`
    /// admissions, wherever it starts. State: one 8-byte timestamp per admission still in the
    /// window (at most `requests` per key; a Redis sorted set in Redis). `retry_after` is the
    /// time until the oldest admission that has to leave does.
    #[default]
    SlidingWindow,
    /// GCRA (generic cell rate algorithm), the exact form of a token bucket: up to `burst`
    /// requests at once, one more every `1 / rate_per_sec` (interval rounded to the nanosecond;
    /// microsecond in Redis). State: one 8-byte time per key. `retry_after` is the time until
    /// one token is back.
    TokenBucket,
}

/// One `[[rate_limit.limits]]` entry.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Id used in events, errors and Redis keys: 1..=64 of `[A-Za-z0-9_.-]`, unique.
    pub name: String,
    /// What the limit is keyed by.
    pub scope: Scope,
    /// Which requests it counts (default `all`).
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// The tool, for `scope = "tool"` only.
    #[serde(default)]
    pub tool: Option<String>,
    /// `sliding_window` (default) or `token_bucket`.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Sliding window: most requests per window.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Sliding window: window length, milliseconds.
    #[serde(default)]
    pub window_ms: Option<u64>,
    /// Token bucket: refill rate, units per second.
    #[serde(default)]
    pub rate_per_sec: Option<f64>,
    /// Token bucket: bucket size (most requests at once).
    #[serde(default)]
    pub burst: Option<u64>,
}

/// `[rate_limit.classes.<class>.<limit>]`: replacement numbers for one limit for principals of
/// one rate class. Only the fields of the limit's algorithm may be given; absent ones keep the
/// limit's value.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverride {
    /// Sliding window: most requests per window.
    #[serde(default)]
    pub requests: Option<u64>,
    /// Sliding window: window length, milliseconds.
    #[serde(default)]
    pub window_ms: Option<u64>,
    /// Token bucket: refill rate, units per second.
    #[serde(default)]
    pub rate_per_sec: Option<f64>,
    /// Token bucket: bucket size.
    #[serde(default)]
    pub burst: Option<u64>,
}
