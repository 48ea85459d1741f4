//! The event hook: where this crate reports `RateLimiterDegraded` and `CapacityExceeded`.
//!
//! `RateLimitExceeded` is **not** emitted here: the server emits it, because it knows the peer,
//! method and request id this crate does not see.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use mcp_core::{Clock, SecurityEvent, SecurityEventKind};

/// Receives the security events of the limiter. Called synchronously on the request path, and
/// only on state transitions (never once per request): it must not block.
pub type EventSink = Arc<dyn Fn(SecurityEvent) + Send + Sync>;

/// Reason of the event sent when the shared store becomes unreachable under `fail_closed`.
pub const DEGRADED_FAIL_CLOSED: &str = "rate limit store unreachable: requests refused (fail_closed)";
/// Reason of the event sent when the shared store becomes unreachable under `fail_open`.
pub const DEGRADED_FAIL_OPEN: &str = "rate limit store unreachable: requests admitted unlimited (fail_open)";
/// Reason of the event sent when the in-memory key table is full.
pub const KEYS_FULL: &str = "rate limit key table full: untracked keys share one overflow budget";

/// Shortest time between two `CapacityExceeded` events.
const CAPACITY_EVENT_EVERY_NS: u64 = 60_000_000_000;

pub(crate) struct Events {
    sink: RwLock<Option<EventSink>>,
    clock: Arc<dyn Clock>,
    /// Engine time of the last `CapacityExceeded` event, plus one (0: never).
    last_capacity: AtomicU64,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let has_sink = self.sink.read().map(|s| s.is_some()).unwrap_or(false);
        f.debug_struct("Events").field("has_sink", &has_sink).finish_non_exhaustive()
    }
}

impl Events {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { sink: RwLock::new(None), clock, last_capacity: AtomicU64::new(0) }
    }

    pub(crate) fn set_sink(&self, sink: EventSink) {
        let mut slot = self.sink.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(sink);
    }

    /// A new event stamped with the engine's wall clock.
    pub(crate) fn event(&self, kind: SecurityEventKind, reason: &'static str) -> SecurityEvent {
        SecurityEvent::new(kind, reason, self.clock.now())
    }

    pub(crate) fn emit(&self, event: SecurityEvent) {
        let sink = self.sink.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let Some(sink) = sink {
            sink(event);
        }
    }

    /// The memory key table overflowed for `limit`: at most one event a minute.
    pub(crate) fn keys_full(&self, limit: &Arc<str>, now_ns: u64) {
        let last = self.last_capacity.load(Ordering::Relaxed);
        let due = last == 0 || now_ns.saturating_add(1) >= last.saturating_add(CAPACITY_EVENT_EVERY_NS);
        if due
            && self
                .last_capacity
                .compare_exchange(last, now_ns.saturating_add(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(limit = %limit, "rate limit key table full; raise rate_limit.max_keys if this is legitimate load");
            self.emit(self.event(SecurityEventKind::CapacityExceeded, KEYS_FULL).with_rule(format!("limit:{limit}")));
        }
    }
}
