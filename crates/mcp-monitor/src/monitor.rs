//! [`SecurityMonitor`]: the one object the server holds. This module has the request-path
//! methods; block administration and housekeeping are in `admin.rs`.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_core::{Clock, SecurityEvent, SecurityEventKind};
use tokio::sync::mpsc;

use crate::alerts::{AlertClass, AlertCounters};
use crate::anomaly::AnomalyDetector;
use crate::blocks::BlockTable;
use crate::bus::{EventBus, Handler, Subscription};
use crate::histogram::MethodClass;
use crate::kinds::{self, KindSet};
use crate::metrics::{Gauges, Metrics};
use crate::store::{BlockStore, StoreFailure};
use crate::target::{BlockInfo, BlockTarget, normalize_ip, unix_ms};
use crate::tracker::FailureTracker;

/// Reason recorded for automatic blocks.
pub const AUTO_BLOCK_REASON: &str = "too many failed attempts";

/// Security monitoring for one server: event bus, failed-attempt blocking, alerts, anomaly
/// baselines and metrics. Share it as `Arc<SecurityMonitor>`; every method takes `&self`.
pub struct SecurityMonitor {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) base: Instant,
    pub(crate) bus: EventBus,
    /// Only the events the monitor raises itself (blocks, alerts, anomalies).
    pub(crate) raised: EventBus,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) counted: KindSet,
    pub(crate) count_list_denials: bool,
    pub(crate) tracker: Option<FailureTracker>,
    pub(crate) blocks: BlockTable,
    pub(crate) store: Arc<dyn BlockStore>,
    pub(crate) store_failure: StoreFailure,
    /// The last store call failed with `StoreUnavailable`.
    pub(crate) store_down: AtomicBool,
    /// Automatic blocks not yet written to the store.
    pub(crate) pending: Mutex<HashSet<BlockTarget>>,
    pub(crate) max_pending: usize,
    pub(crate) v6_prefix: u8,
    pub(crate) alerts: Option<AlertCounters>,
    pub(crate) alert_window_secs: u64,
    #[cfg(feature = "webhook")]
    pub(crate) notifier: Option<crate::webhook::Notifier>,
    pub(crate) anomaly: Option<AnomalyDetector>,
    pub(crate) housekeeping_every: Duration,
}

impl fmt::Debug for SecurityMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityMonitor")
            .field("store", &self.store)
            .field("blocks", &self.blocks.len())
            .field("subscribers", &self.bus.subscriber_count())
            .finish_non_exhaustive()
    }
}

impl SecurityMonitor {
    /// Milliseconds on the monotonic clock since the monitor was built.
    pub(crate) fn mono_ms(&self) -> u64 {
        u64::try_from(self.clock.instant().saturating_duration_since(self.base).as_millis()).unwrap_or(u64::MAX)
    }

    /// Feed one event: count it, track failures (possibly blocking), check alert thresholds,
    /// and deliver it to subscribers. Never blocks. Allocates only when it starts counting a
    /// new failing key, blocks a key, raises an alert, or meets a channel subscriber.
    pub fn publish(&self, event: &SecurityEvent) {
        self.metrics.event(kinds::index(event.kind));
        let m = &self.metrics;
        let counter = match event.kind {
            SecurityEventKind::AuthenticateFail => Some(&m.auth_failures),
            SecurityEventKind::AuthorizeFail => Some(&m.authz_failures),
            SecurityEventKind::RateLimitExceeded => Some(&m.rate_limit_hits),
            SecurityEventKind::ValidationFail => Some(&m.validation_failures),
            _ => None,
        };
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.bus.publish(event);
        let class = AlertClass::of(event);
        let counted = self.counted.contains(event.kind);
        if !counted && class.is_none() {
            return;
        }
        let now = self.mono_ms();
        if counted {
            self.count_failure(event, now);
        }
        if let Some(class) = class {
            if class == AlertClass::LargeMessages {
                self.metrics.large_message();
            }
            self.alert_hit(class, now);
        }
    }

    /// Count one message larger than `alerts.large_message_bytes` that was not also published
    /// as an oversized-message event (those are counted by [`Self::publish`]).
    pub fn record_large_message(&self) {
        self.metrics.large_message();
        self.alert_hit(AlertClass::LargeMessages, self.mono_ms());
    }

    /// Call `handler` for every event (including the monitor's own `ClientBlocked`, `Alert` and
    /// `Anomaly` events) until the [`Subscription`] is dropped. It runs on the publishing
    /// thread: keep it short and non-blocking.
    pub fn subscribe(&self, handler: Handler) -> Subscription {
        self.bus.subscribe(handler)
    }

    /// Call `handler` only for the events the monitor raises itself (`ClientBlocked` when it
    /// blocks a key, `Alert`, `Anomaly`): for a sink such as the audit log that already receives
    /// every other event from the server. Same rules as [`Self::subscribe`].
    pub fn subscribe_raised(&self, handler: Handler) -> Subscription {
        self.raised.subscribe(handler)
    }

    /// Receive events on a bounded channel; a full channel loses events (see
    /// [`Self::dropped_events`]) instead of slowing the publisher.
    pub fn subscribe_channel(&self, capacity: usize) -> (Subscription, mpsc::Receiver<SecurityEvent>) {
        self.bus.subscribe_channel(capacity)
    }

    /// Events lost to full channel subscribers.
    pub fn dropped_events(&self) -> u64 {
        self.bus.dropped()
    }

    /// The active block on `ip` (IPv6: on its configured prefix). Each `Some` answer adds one to
    /// `mcp_blocked_requests_total`, so ask once per request. While no block exists at all this is two atomic loads.
    pub fn is_blocked_ip(&self, ip: IpAddr) -> Option<BlockInfo> {
        if self.blocks.len() == 0 {
            return None;
        }
        let hit = self.blocks.ip(&normalize_ip(ip, self.v6_prefix), unix_ms(self.clock.now()));
        if hit.is_some() {
            self.metrics.blocked_request();
        }
        hit
    }

    /// The active block on client `id`, counting a blocked request when there is one.
    pub fn is_blocked_client(&self, id: &str) -> Option<BlockInfo> {
        if self.blocks.len() == 0 {
            return None;
        }
        let hit = self.blocks.client(id, unix_ms(self.clock.now()));
        if hit.is_some() {
            self.metrics.blocked_request();
        }
        hit
    }

    /// Count one request of `client_id` (`ok` = not failed) toward its anomaly baseline.
    pub fn observe_request(&self, client_id: &str, ok: bool) {
        let Some(a) = &self.anomaly else { return };
        if let Some(d) = a.observe(client_id, self.mono_ms(), ok) {
            self.raise_anomaly(client_id, d);
        }
    }

    /// Record the latency of one request.
    pub fn observe_latency(&self, class: MethodClass, d: Duration) {
        self.metrics.observe_latency(class, d);
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Every metric in the Prometheus text format 0.0.4 (serve with [`crate::CONTENT_TYPE`]).
    pub fn render_metrics(&self) -> String {
        let tracked = self.tracker.as_ref().map_or(0, FailureTracker::len);
        self.metrics.render(Gauges {
            active_blocks: self.blocks.len() as u64,
            tracked_keys: tracked as u64,
            baseline_clients: self.anomaly.as_ref().map_or(0, AnomalyDetector::len) as u64,
            dropped_events: self.bus.dropped(),
        })
    }

    /// Deliver a monitor-made event to subscribers and count it.
    pub(crate) fn emit(&self, event: &SecurityEvent) {
        self.metrics.event(kinds::index(event.kind));
        self.bus.publish(event);
        self.raised.publish(event);
    }
}
