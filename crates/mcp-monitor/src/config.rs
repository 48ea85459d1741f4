//! The `[monitoring]` configuration section. Every table has defaults, so an empty section (or
//! none) turns monitoring on with the documented thresholds.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::MonitorError;

/// `[monitoring]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// `[monitoring.blocking]`: failed-attempt counting and blocking.
    pub blocking: BlockingConfig,
    /// `[monitoring.alerts]`: per-minute thresholds and the optional webhook.
    pub alerts: AlertsConfig,
    /// `[monitoring.anomaly]`: per-client baselines.
    pub anomaly: AnomalyConfig,
}

/// `[monitoring.blocking]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlockingConfig {
    /// Count failures and block automatically (default true). Manual blocks and the block file
    /// work either way.
    pub enabled: bool,
    /// Event kinds that count as a failed attempt (default `["authenticate_fail",
    /// "authorize_fail"]`).
    pub count_kinds: Vec<String>,
    /// Count an `authorize_fail` on a list method (`tools/list`, `resources/list`,
    /// `resources/templates/list`, `prompts/list`) as a failed attempt (default false). Such a
    /// denial is routine: MCP clients list every capability on connect, and with
    /// `hide_forbidden` the caller even gets a successful empty list.
    pub count_list_denials: bool,
    /// Failures within `window_secs` that trigger a block (default 5; 1..=1000).
    pub block_after: u32,
    /// Sliding window for counting failures, seconds (default 300).
    pub window_secs: u64,
    /// First block duration, seconds (default 300). Each repeat block doubles it.
    pub block_secs: u64,
    /// Longest automatic block, seconds (default 86400).
    pub max_block_secs: u64,
    /// A key's repeat count resets after this long without a new block, counted from the end
    /// of its last block, seconds (default 86400).
    pub repeat_decay_secs: u64,
    /// Most keys tracked per key type (clients, IPs); the stalest are evicted (default 100000).
    pub max_tracked: usize,
    /// Most active blocks per key type (default 100000).
    pub max_blocks: usize,
    /// IPv6 addresses are counted and blocked per prefix of this length (default 64: one
    /// customer network; 128 = per address).
    pub ipv6_prefix_len: u8,
    /// JSON file that persists manual and automatic blocks (default: none, in memory only).
    pub file: Option<PathBuf>,
    /// How often the server should call `housekeeping` (reload the file, persist new blocks,
    /// drop expired ones), seconds (default 5). With a shared store this is also how soon a
    /// block raised on one replica reaches the others (at most twice this).
    pub reload_interval_secs: u64,
    /// When the server's rate limiter uses Redis (`[rate_limit] backend = "redis"`), keep the
    /// block list in that Redis, shared by every replica, instead of the block file (default
    /// true; needs the `redis` feature).
    pub share_through_redis: bool,
    /// Prefix of the block list's Redis keys (default `mcp:blocks:`).
    pub redis_key_prefix: String,
}

impl Default for BlockingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            count_kinds: vec!["authenticate_fail".into(), "authorize_fail".into()],
            count_list_denials: false,
            block_after: 5,
            window_secs: 300,
            block_secs: 300,
            max_block_secs: 86_400,
            repeat_decay_secs: 86_400,
            max_tracked: 100_000,
            max_blocks: 100_000,
            ipv6_prefix_len: 64,
            file: None,
            reload_interval_secs: 5,
            share_through_redis: true,
            redis_key_prefix: "mcp:blocks:".into(),
        }
    }
}

/// `[monitoring.alerts]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Raise alerts (default true).
    pub enabled: bool,
    /// Length of the sliding window the thresholds apply to, seconds (default 60).
    pub window_secs: u64,
    /// `[monitoring.alerts.thresholds]`.
    pub thresholds: Thresholds,
    /// Size above which a message counts as large, bytes (default 1 MiB). The server compares
    /// against it before calling `record_large_message`.
    pub large_message_bytes: u64,
    /// POST each alert to this URL (default: none). `https`, or `http` to a loopback host only.
    pub webhook_url: Option<WebhookUrl>,
    /// Per-attempt webhook timeout, milliseconds (default 2000).
    pub timeout_ms: u64,
    /// Retries after a failed webhook attempt (default 3).
    pub retries: u32,
    /// Delay before the first retry, doubled for each further one, milliseconds (default 500).
    pub backoff_ms: u64,
    /// Alerts waiting for the webhook; more are dropped and counted (default 64).
    pub queue_capacity: usize,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            thresholds: Thresholds::default(),
            large_message_bytes: 1 << 20,
            webhook_url: None,
            timeout_ms: 2000,
            retries: 3,
            backoff_ms: 500,
            queue_capacity: 64,
        }
    }
}

/// `[monitoring.alerts.thresholds]`: an alert fires when more than this many events of a class
/// happen within the window. 0 disables the class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Failed authentications (default 10).
    pub auth_failures: u64,
    /// Failed authorizations (default 100).
    pub authz_failures: u64,
    /// Rate-limit rejections (default 50).
    pub rate_limit_hits: u64,
    /// Messages larger than `large_message_bytes` (default 10).
    pub large_messages: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { auth_failures: 10, authz_failures: 100, rate_limit_hits: 50, large_messages: 10 }
    }
}

/// `[monitoring.anomaly]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnomalyConfig {
    /// Keep per-client baselines and raise `Anomaly` events (default true).
    pub enabled: bool,
    /// Length of one observation bucket, seconds (default 60).
    pub bucket_secs: u64,
    /// EWMA weight of the newest bucket, in (0, 1] (default 0.2).
    pub alpha: f64,
    /// A bucket's request count above `factor` times the baseline is an anomaly (default 5.0).
    pub anomaly_factor: f64,
    /// A failure ratio above the baseline ratio plus this margin is an anomaly (default 0.3).
    pub failure_margin: f64,
    /// Closed buckets a client needs before it can raise anomalies (default 10).
    pub min_observations: u32,
    /// Baseline floor in requests per bucket, so quiet clients do not alarm on a handful of
    /// requests (default 10).
    pub min_rate: f64,
    /// Requests a bucket needs before its failure ratio is judged (default 10).
    pub min_requests_for_ratio: u32,
    /// Most clients with a baseline; the stalest are evicted (default 100000).
    pub max_clients: usize,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bucket_secs: 60,
            alpha: 0.2,
            anomaly_factor: 5.0,
            failure_margin: 0.3,
            min_observations: 10,
            min_rate: 10.0,
            min_requests_for_ratio: 10,
            max_clients: 100_000,
        }
    }
}

/// A webhook URL. It may embed a token, so `Debug` redacts it and errors never show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Wrap a URL (checked when the monitor is built).
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL. Greppable on purpose: do not log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookUrl([REDACTED])")
    }
}

impl MonitoringConfig {
    /// Check every value; the monitor calls this when it is built.
    pub fn validate(&self) -> Result<(), MonitorError> {
        crate::validate::check(self)
    }
}
