//! What the monitor does on its own: block a key after repeated failures, raise an alert, raise
//! an anomaly. Each logs, counts and emits its event to subscribers.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use mcp_core::{SecurityEvent, SecurityEventKind};

use crate::alerts::AlertClass;
use crate::anomaly::Deviation;
use crate::monitor::{AUTO_BLOCK_REASON, SecurityMonitor};
use crate::target::{BlockEntry, BlockOrigin, BlockTarget, normalize_ip, unix_ms};

impl SecurityMonitor {
    /// Count a failure for the event's client and address, `now` being [`Self::mono_ms`].
    pub(crate) fn count_failure(&self, event: &SecurityEvent, now: u64) {
        let Some(tracker) = &self.tracker else { return };
        if !self.count_list_denials && is_list_denial(event) {
            return;
        }
        // Wall time only matters when some block exists (an already blocked key is not counted).
        let wall = (self.blocks.len() > 0).then(|| unix_ms(self.clock.now()));
        if let Some(id) = event.principal.as_ref().filter(|id| &***id != "anonymous")
            && wall.is_none_or(|w| self.blocks.client(id, w).is_none())
            && let Some(d) = tracker.record_client(id, now)
        {
            self.auto_block(BlockTarget::Client(Arc::clone(id)), d);
        }
        if let Some(peer) = event.peer {
            let ip = normalize_ip(peer.ip(), self.v6_prefix);
            if wall.is_none_or(|w| self.blocks.ip(&ip, w).is_none())
                && let Some(d) = tracker.record_ip(ip, now)
            {
                self.auto_block(BlockTarget::Ip(ip), d);
            }
        }
    }

    fn auto_block(&self, target: BlockTarget, d: Duration) {
        let now = self.clock.now();
        let entry = BlockEntry {
            target: target.clone(),
            until: now.checked_add(d).unwrap_or(now),
            reason: AUTO_BLOCK_REASON.into(),
            origin: BlockOrigin::Automatic,
            created: now,
        };
        if !self.blocks.insert(entry, unix_ms(now)) {
            tracing::error!(target: "mcp_security", block = %target, "block table full of manual blocks; not blocking");
            return;
        }
        {
            let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if p.len() < self.max_pending {
                p.insert(target.clone());
            }
        }
        self.metrics.blocks.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(target: "mcp_security", block = %target, secs = d.as_secs(), "blocked after repeated failed attempts");
        self.emit(&blocked_event(&target, AUTO_BLOCK_REASON, "block:failed_attempts", now));
    }

    /// Count one event of `class` at `now` ([`Self::mono_ms`]) and alert on a crossing.
    pub(crate) fn alert_hit(&self, class: AlertClass, now: u64) {
        let Some(alerts) = &self.alerts else { return };
        let Some(count) = alerts.hit(class, now) else { return };
        let threshold = alerts.threshold(class);
        let at = self.clock.now();
        self.metrics.alert(class);
        tracing::error!(
            target: "mcp_security_alert",
            alert = class.as_str(),
            count,
            threshold,
            window_secs = self.alert_window_secs,
            "{}",
            class.reason()
        );
        self.emit(&SecurityEvent::new(SecurityEventKind::Alert, class.reason(), at).with_rule(class.rule()));
        #[cfg(feature = "webhook")]
        if let Some(n) = &self.notifier {
            let notice =
                crate::webhook::AlertNotice { class, count, threshold, window_secs: self.alert_window_secs, at };
            n.notify(notice, &self.metrics);
        }
    }

    pub(crate) fn raise_anomaly(&self, client_id: &str, d: Deviation) {
        self.metrics.anomalies.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(target: "mcp_security_anomaly", client = client_id, rule = d.rule(), "{}", d.reason());
        let e = SecurityEvent::new(SecurityEventKind::Anomaly, d.reason(), self.clock.now())
            .with_principal(client_id)
            .with_rule(d.rule());
        self.emit(&e);
    }
}

/// An `AuthorizeFail` on an MCP list method: routine client behaviour (clients list every
/// capability on connect), not an attempt at something specific.
fn is_list_denial(event: &SecurityEvent) -> bool {
    event.kind == SecurityEventKind::AuthorizeFail
        && event
            .method
            .as_deref()
            .is_some_and(|m| matches!(m, "tools/list" | "resources/list" | "resources/templates/list" | "prompts/list"))
}

/// The `ClientBlocked` event for `target`.
pub(crate) fn blocked_event(target: &BlockTarget, reason: &'static str, rule: &str, at: SystemTime) -> SecurityEvent {
    let e = SecurityEvent::new(SecurityEventKind::ClientBlocked, reason, at).with_rule(rule);
    match target {
        BlockTarget::Ip(ip) => e.with_peer(Some(SocketAddr::new(*ip, 0))),
        BlockTarget::Client(id) => e.with_principal(Arc::clone(id)),
    }
}
