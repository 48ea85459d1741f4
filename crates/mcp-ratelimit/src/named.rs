//! One configured limit as a [`mcp_core::traits::RateLimiter`], keyed by any string.

use std::sync::Arc;

use mcp_core::BoxFuture;
use mcp_core::traits::{BackendError, RateDecision, RateLimiter};

use crate::engine::RateLimitEngine;
use crate::error::RateLimitError;
use crate::memory::Key;
use crate::stage::UNCOUNTED;

/// One limit of an engine, checked with a caller-chosen key and cost and the limit's own
/// numbers (no rate class). Keys live in their own space: `check("203.0.113.9", 1)` on an
/// `ip` limit is not the same key as `check_ip` for that address.
///
/// `Allowed { remaining: u64::MAX }` means nothing was counted (limits disabled, or the store is
/// down under `fail_open`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use mcp_core::traits::{RateDecision, RateLimiter};
/// use mcp_ratelimit::{RateLimitConfig, RateLimitEngine};
/// let engine = Arc::new(RateLimitEngine::new(&RateLimitConfig::default()).unwrap());
/// let limiter = engine.limiter("client_tools").unwrap(); // 20 at once, 2 per second
/// assert_eq!(limiter.check("job-7", 19).await, Ok(RateDecision::Allowed { remaining: 1 }));
/// let RateDecision::Limited { retry_after } = limiter.check("job-7", 2).await.unwrap() else { panic!() };
/// assert!(retry_after.as_millis() > 0 && retry_after.as_millis() <= 500);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct NamedLimiter {
    engine: Arc<RateLimitEngine>,
    limit: u16,
}

impl RateLimitEngine {
    /// The limit called `name` as a [`RateLimiter`].
    pub fn limiter(self: &Arc<Self>, name: &str) -> Option<NamedLimiter> {
        let index = self.plan.limits.iter().position(|l| &*l.name == name)?;
        Some(NamedLimiter { engine: self.clone(), limit: u16::try_from(index).ok()? })
    }
}

impl NamedLimiter {
    /// The limit's name.
    pub fn name(&self) -> &str {
        &self.engine.plan.limits[usize::from(self.limit)].name
    }

    /// Charge `cost` units to `key`; the units left when admitted (`u64::MAX`: not counted).
    pub async fn check_key(&self, key: &str, cost: u32) -> Result<u64, RateLimitError> {
        if !self.engine.enabled {
            return Ok(UNCOUNTED);
        }
        crate::engine::check_key_len(key.len())?;
        let key = Key { limit: self.limit, a: key.as_bytes(), b: &[] };
        self.engine.run(std::iter::once(key), 0, cost).await
    }
}

impl RateLimiter for NamedLimiter {
    fn check<'a>(&'a self, key: &'a str, cost: u32) -> BoxFuture<'a, Result<RateDecision, BackendError>> {
        Box::pin(async move {
            match self.check_key(key, cost).await {
                Ok(remaining) => Ok(RateDecision::Allowed { remaining }),
                Err(RateLimitError::Limited(l)) => Ok(RateDecision::Limited { retry_after: l.retry_after }),
                Err(e) => Err(e.into()),
            }
        })
    }
}
