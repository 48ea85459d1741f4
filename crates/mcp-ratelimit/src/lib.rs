//! Keyed, rejecting rate limiters for mcp-secure.
//!
//! - [`RateLimitConfig`]: the `[rate_limit]` section (limits, per-class overrides, backend).
//! - [`RateLimitEngine`]: checks the limits in three stages of the request path:
//!   [`check_ip`](RateLimitEngine::check_ip) before authentication,
//!   [`check_request`](RateLimitEngine::check_request) after it,
//!   [`check_tool`](RateLimitEngine::check_tool) after decoding a tool call. Each returns
//!   `Ok(())` or [`RateLimitError::Limited`] with the exact [`Limited::retry_after`].
//! - Algorithms, both exact (no approximation error): a sliding window kept as a log of
//!   admissions, and a GCRA token bucket; see [`Algorithm`].
//! - Backends: in memory (default; sharded, bounded, allocation-free on the hot path for known
//!   keys) and Redis (feature `redis`; one atomic Lua script per stage on Redis time, shared by
//!   every replica, with a fail-open / fail-closed policy and a `RateLimiterDegraded` event).
//! - [`NamedLimiter`]: one limit as a [`mcp_core::traits::RateLimiter`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use mcp_ratelimit::{RateLimitConfig, RateLimitEngine};
//! // No [rate_limit] section: on, in memory, with the default limits.
//! let engine = RateLimitEngine::new(&RateLimitConfig::default()).unwrap();
//! assert!(engine.check_ip("203.0.113.9".parse().unwrap()).await.is_ok());
//! assert!(engine.check_request("alice", None, "tools/call").await.is_ok());
//! assert!(engine.check_tool("alice", None, "calculate").await.is_ok());
//! # });
//! ```

mod algo;
mod backend;
pub mod config;
mod engine;
pub mod error;
pub mod events;
mod ipkey;
mod memory;
mod method;
mod named;
mod plan;
#[cfg(feature = "redis")]
mod redis;
mod stage;

pub use config::{
    Algorithm, AppliesTo, BackendKind, FailurePolicy, LimitConfig, LimitOverride, RateLimitConfig, RedisUrl, Scope,
};
pub use engine::{MAX_KEY_BYTES, RateLimitEngine};
pub use error::{Limited, RateLimitError};
pub use events::EventSink;
pub use method::MethodClass;
pub use named::NamedLimiter;
