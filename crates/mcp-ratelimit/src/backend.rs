//! The backend enum and its construction from config.

use crate::config::RateLimitConfig;
use crate::error::RateLimitError;
use crate::memory::MemoryStore;
use crate::plan::Plan;

/// Largest worst-case memory of sliding-window logs accepted: `max_keys` keys each holding the
/// largest window's `requests` timestamps of 8 bytes.
const MAX_LOG_BYTES: u64 = 1 << 30;

/// Where the counters live.
#[derive(Debug)]
pub(crate) enum Backend {
    /// In process.
    Memory(MemoryStore),
    /// Shared Redis.
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisStore),
}

pub(crate) fn memory_backend(config: &RateLimitConfig, plan: &Plan) -> Result<Backend, RateLimitError> {
    if config.max_keys == 0 || config.max_keys > 100_000_000 {
        return Err(RateLimitError::Config("max_keys must be 1..=100000000".into()));
    }
    let worst = (config.max_keys as u64).saturating_mul(plan.max_window_requests()).saturating_mul(8);
    if worst > MAX_LOG_BYTES {
        return Err(RateLimitError::Config(format!(
            "sliding windows could hold up to {} MiB (max_keys {} x requests {} x 8 bytes, limit 1024 MiB): lower max_keys or requests, or use algorithm = \"token_bucket\" (8 bytes per key)",
            worst >> 20,
            config.max_keys,
            plan.max_window_requests()
        )));
    }
    Ok(Backend::Memory(MemoryStore::new(plan.limits.len(), config.max_keys)))
}

#[cfg(not(feature = "redis"))]
pub(crate) fn redis_backend(_config: &RateLimitConfig) -> Result<Backend, RateLimitError> {
    Err(RateLimitError::FeatureNotCompiled { backend: "redis", feature: "redis" })
}

#[cfg(feature = "redis")]
pub(crate) fn redis_backend(config: &RateLimitConfig) -> Result<Backend, RateLimitError> {
    let bad = |m: String| RateLimitError::Config(m);
    let url = match (&config.redis_url, &config.redis_url_env) {
        (Some(url), None) => url.expose().to_owned(),
        (None, Some(var)) => std::env::var(var)
            .map_err(|_| bad(format!("redis_url_env: environment variable {var} is not set or not UTF-8")))?,
        (Some(_), Some(_)) => return Err(bad("set redis_url or redis_url_env, not both".into())),
        (None, None) => return Err(bad("backend = \"redis\" needs redis_url or redis_url_env".into())),
    };
    if !(1..=10_000).contains(&config.redis_timeout_ms) {
        return Err(bad("redis_timeout_ms must be 1..=10000".into()));
    }
    if !(10..=600_000).contains(&config.redis_retry_ms) {
        return Err(bad("redis_retry_ms must be 10..=600000".into()));
    }
    let prefix = &config.redis_key_prefix;
    if prefix.len() > 64 || prefix.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("redis_key_prefix: at most 64 characters, no spaces or control characters".into()));
    }
    let timeout = std::time::Duration::from_millis(config.redis_timeout_ms);
    let retry = std::time::Duration::from_millis(config.redis_retry_ms);
    let store = crate::redis::RedisStore::connect(&url, prefix, timeout, retry).map_err(|m| bad(m.to_owned()))?;
    Ok(Backend::Redis(store))
}
