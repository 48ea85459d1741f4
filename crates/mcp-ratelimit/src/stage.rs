//! Running one stage: every applicable limit, admitted only when all admit.

use crate::algo::Verdict;
use crate::backend::Backend;
#[cfg(feature = "redis")]
use crate::config::FailurePolicy;
use crate::engine::RateLimitEngine;
use crate::error::{Limited, RateLimitError};
use crate::memory::{Key, MemoryStore, Op};

/// `remaining` reported when nothing was counted (limits off, or admitted under `fail_open`).
pub(crate) const UNCOUNTED: u64 = u64::MAX;

impl RateLimitEngine {
    /// Charge `cost` to every key; the smallest `remaining` when admitted.
    pub(crate) async fn run<'k, I>(&self, keys: I, class: usize, cost: u32) -> Result<u64, RateLimitError>
    where
        I: Iterator<Item = Key<'k>> + Clone,
    {
        match &self.backend {
            Backend::Memory(m) => self.run_memory(m, keys, class, cost),
            #[cfg(feature = "redis")]
            // Boxed: the Redis state would otherwise make every check's future (memory ones
            // too) large to create and move; one allocation next to a network round trip is noise.
            Backend::Redis(r) => Box::pin(self.run_redis(r, keys, class, cost)).await,
        }
    }

    fn limited(&self, limit: u16, wait_ns: u64) -> RateLimitError {
        let l = &self.plan.limits[usize::from(limit)];
        let retry_after = std::time::Duration::from_nanos(wait_ns.max(1));
        RateLimitError::Limited(Limited { limit: l.name.clone(), scope: l.scope, retry_after })
    }

    fn cost_check<'k>(
        &self,
        mut keys: impl Iterator<Item = Key<'k>>,
        class: usize,
        cost: u32,
    ) -> Result<(), RateLimitError> {
        if cost <= 1 {
            return Ok(()); // every capacity is at least 1
        }
        match keys.find(|k| u64::from(cost) > self.plan.limits[usize::from(k.limit)].params[class].capacity()) {
            Some(k) => {
                let l = &self.plan.limits[usize::from(k.limit)];
                Err(RateLimitError::CostTooLarge { limit: l.name.clone(), cost, capacity: l.params[class].capacity() })
            }
            None => Ok(()),
        }
    }

    /// Memory: charge in order; on a rejection give back what was charged, and look (without
    /// charging) at the remaining limits for the longest wait.
    fn run_memory<'k, I>(&self, store: &MemoryStore, keys: I, class: usize, cost: u32) -> Result<u64, RateLimitError>
    where
        I: Iterator<Item = Key<'k>> + Clone,
    {
        if keys.clone().next().is_none() {
            return Ok(UNCOUNTED);
        }
        self.cost_check(keys.clone(), class, cost)?;
        let now = self.now_ns();
        let params = |k: &Key<'_>| self.plan.limits[usize::from(k.limit)].params[class];
        let mut remaining = UNCOUNTED;
        for (n, key) in keys.clone().enumerate() {
            let out = store.run(&key, params(&key), Op::Charge { cost, commit: true }, now);
            if out.overflowed {
                self.events.keys_full(&self.plan.limits[usize::from(key.limit)].name, now);
            }
            match out.verdict {
                Verdict::Allowed { remaining: r } => remaining = remaining.min(r),
                Verdict::Wait(wait) => {
                    for k in keys.clone().take(n) {
                        store.run(&k, params(&k), Op::Refund { cost }, now);
                    }
                    let mut worst = (wait, key.limit);
                    for k in keys.skip(n + 1) {
                        if let Verdict::Wait(w) =
                            store.run(&k, params(&k), Op::Charge { cost, commit: false }, now).verdict
                            && w > worst.0
                        {
                            worst = (w, k.limit);
                        }
                    }
                    return Err(self.limited(worst.1, worst.0));
                }
            }
        }
        Ok(remaining)
    }

    /// The answer of the failure policy.
    #[cfg(feature = "redis")]
    pub(crate) fn on_backend_failure(&self) -> Result<u64, RateLimitError> {
        match self.policy {
            FailurePolicy::FailOpen => Ok(UNCOUNTED),
            FailurePolicy::FailClosed => Err(RateLimitError::Unavailable { backend: "redis" }),
        }
    }

    /// Redis: one script for the whole stage.
    #[cfg(feature = "redis")]
    pub(crate) async fn run_redis<'k, I>(
        &self,
        store: &crate::redis::RedisStore,
        keys: I,
        class: usize,
        cost: u32,
    ) -> Result<u64, RateLimitError>
    where
        I: Iterator<Item = Key<'k>> + Clone,
    {
        use mcp_core::SecurityEventKind;

        use crate::events::{DEGRADED_FAIL_CLOSED, DEGRADED_FAIL_OPEN};
        use crate::redis::Item;

        if keys.clone().next().is_none() {
            return Ok(UNCOUNTED);
        }
        self.cost_check(keys.clone(), class, cost)?;
        let Some(ticket) = store.health.try_start(self.now_ns()) else {
            return self.on_backend_failure();
        };
        let limit_ids: Vec<u16> = keys.clone().map(|k| k.limit).collect();
        let items: Vec<Item> = keys
            .map(|k| {
                let l = &self.plan.limits[usize::from(k.limit)];
                let params = l.params[class];
                Item { key: store.key(&l.name, params, k.a, k.b), params }
            })
            .collect();
        match store.check(&items, cost).await {
            Ok(answer) => {
                if store.health.succeeded(ticket) {
                    tracing::info!(backend = "redis", "rate limit store reachable again: limits enforced");
                }
                match (answer.rejected_by, answer.verdict) {
                    (Some(i), Verdict::Wait(wait)) => Err(self.limited(limit_ids[i], wait)),
                    (_, Verdict::Allowed { remaining }) => Ok(remaining),
                    (None, Verdict::Wait(_)) => self.on_backend_failure(),
                }
            }
            Err(error) => {
                if store.health.failed(ticket, self.now_ns()) {
                    let reason = match self.policy {
                        FailurePolicy::FailOpen => DEGRADED_FAIL_OPEN,
                        FailurePolicy::FailClosed => DEGRADED_FAIL_CLOSED,
                    };
                    tracing::warn!(backend = "redis", ?error, policy = ?self.policy, "{reason}");
                    let event = self.events.event(SecurityEventKind::RateLimiterDegraded, reason);
                    self.events.emit(event.with_resource("redis"));
                }
                self.on_backend_failure()
            }
        }
    }
}
