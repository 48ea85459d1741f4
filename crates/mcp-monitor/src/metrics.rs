//! The metrics registry: fixed counters and one histogram, all plain atomics, rendered in the
//! Prometheus text format 0.0.4. No locks, no allocation on update.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::alerts::AlertClass;
use crate::histogram::{LatencyHistogram, MethodClass};
use crate::kinds;
use crate::prom;

/// Every counter and gauge the monitor exposes.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) auth_failures: AtomicU64,
    pub(crate) authz_failures: AtomicU64,
    pub(crate) rate_limit_hits: AtomicU64,
    pub(crate) validation_failures: AtomicU64,
    pub(crate) large_messages: AtomicU64,
    pub(crate) blocked_requests: AtomicU64,
    pub(crate) blocks: AtomicU64,
    pub(crate) anomalies: AtomicU64,
    pub(crate) webhook_failures: AtomicU64,
    pub(crate) webhook_dropped: AtomicU64,
    pub(crate) events: [AtomicU64; kinds::SLOTS],
    pub(crate) alerts: [AtomicU64; 4],
    pub(crate) latency: LatencyHistogram,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Point-in-time values that are not counters, supplied by the monitor when rendering.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Gauges {
    pub(crate) active_blocks: u64,
    pub(crate) tracked_keys: u64,
    pub(crate) baseline_clients: u64,
    pub(crate) dropped_events: u64,
}

impl Metrics {
    /// Count one event of `kind` slot `i`.
    pub(crate) fn event(&self, i: usize) {
        if let Some(c) = self.events.get(i) {
            inc(c);
        }
    }

    pub(crate) fn alert(&self, class: AlertClass) {
        inc(&self.alerts[class.index()]);
    }

    pub(crate) fn large_message(&self) {
        inc(&self.large_messages);
    }

    pub(crate) fn blocked_request(&self) {
        inc(&self.blocked_requests);
    }

    /// Record a request latency.
    pub fn observe_latency(&self, class: MethodClass, d: Duration) {
        self.latency.observe(class, d);
    }

    /// Value of `mcp_alerts_total{class}`.
    pub fn alerts_total(&self, class: AlertClass) -> u64 {
        get(&self.alerts[class.index()])
    }

    /// Value of `mcp_blocked_requests_total`.
    pub fn blocked_requests_total(&self) -> u64 {
        get(&self.blocked_requests)
    }

    /// Value of `mcp_security_events_total{kind}`.
    pub fn events_total(&self, kind: mcp_core::SecurityEventKind) -> u64 {
        self.events.get(kinds::index(kind)).map_or(0, get)
    }

    /// Value of `mcp_alert_webhook_failures_total` (deliveries given up after all retries).
    pub fn webhook_failures_total(&self) -> u64 {
        get(&self.webhook_failures)
    }

    pub(crate) fn render(&self, g: Gauges) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let counters: [(&str, &str, &AtomicU64); 10] = [
            ("mcp_auth_failures_total", "Failed authentication attempts.", &self.auth_failures),
            ("mcp_authz_failures_total", "Requests denied by authorization.", &self.authz_failures),
            ("mcp_rate_limit_hits_total", "Requests rejected by a rate limit.", &self.rate_limit_hits),
            ("mcp_validation_failures_total", "Requests refused by input validation.", &self.validation_failures),
            ("mcp_large_messages_total", "Messages above the large-message size.", &self.large_messages),
            (
                "mcp_blocked_requests_total",
                "Requests refused because the client or address is blocked.",
                &self.blocked_requests,
            ),
            ("mcp_blocks_total", "Blocks created (automatic and manual).", &self.blocks),
            ("mcp_anomalies_total", "Clients that deviated from their baseline.", &self.anomalies),
            (
                "mcp_alert_webhook_failures_total",
                "Alert webhook deliveries that failed after all retries.",
                &self.webhook_failures,
            ),
            (
                "mcp_alert_webhook_dropped_total",
                "Alerts not sent to the webhook because its queue was full.",
                &self.webhook_dropped,
            ),
        ];
        for (name, help, c) in counters {
            prom::header(&mut out, name, "counter", help);
            prom::sample(&mut out, name, &[], get(c));
        }
        let name = "mcp_security_events_total";
        prom::header(&mut out, name, "counter", "Security events published, by kind.");
        for (i, c) in self.events.iter().enumerate() {
            prom::sample(&mut out, name, &[("kind", kinds::label(i))], get(c));
        }
        let name = "mcp_alerts_total";
        prom::header(&mut out, name, "counter", "Alerts raised, by class.");
        for class in AlertClass::ALL {
            prom::sample(&mut out, name, &[("class", class.as_str())], self.alerts_total(class));
        }
        let gauges = [
            (
                "mcp_active_blocks",
                "Blocks currently stored (expired ones until the next housekeeping).",
                g.active_blocks,
            ),
            ("mcp_tracked_keys", "Client ids and addresses with failure counters.", g.tracked_keys),
            ("mcp_anomaly_baselines", "Clients with an anomaly baseline.", g.baseline_clients),
        ];
        for (name, help, v) in gauges {
            prom::header(&mut out, name, "gauge", help);
            prom::sample(&mut out, name, &[], v);
        }
        let name = "mcp_security_events_dropped_total";
        prom::header(&mut out, name, "counter", "Security events lost because a channel subscriber was full.");
        prom::sample(&mut out, name, &[], g.dropped_events);
        self.latency.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use mcp_core::SecurityEventKind;

    use super::*;

    #[test]
    fn renders_every_family_with_help_and_type() {
        let m = Metrics::default();
        m.event(kinds::index(SecurityEventKind::AuthenticateFail));
        inc(&m.auth_failures);
        m.alert(AlertClass::RateLimitHits);
        m.observe_latency(MethodClass::Ping, Duration::from_micros(50));
        let text = m.render(Gauges { active_blocks: 2, tracked_keys: 3, baseline_clients: 5, dropped_events: 4 });
        for family in [
            "mcp_auth_failures_total",
            "mcp_authz_failures_total",
            "mcp_rate_limit_hits_total",
            "mcp_validation_failures_total",
            "mcp_large_messages_total",
            "mcp_security_events_total",
            "mcp_alerts_total",
            "mcp_blocked_requests_total",
            "mcp_request_duration_seconds",
        ] {
            assert!(text.contains(&format!("# HELP {family} ")), "{family}");
            assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
        }
        assert!(text.contains("mcp_auth_failures_total 1\n"));
        assert!(text.contains("mcp_security_events_total{kind=\"authenticate_fail\"} 1\n"));
        assert!(text.contains("mcp_security_events_total{kind=\"other\"} 0\n"));
        assert!(text.contains("mcp_alerts_total{class=\"rate_limit_hits\"} 1\n"));
        assert!(text.contains("mcp_active_blocks 2\n"));
        assert!(text.contains("mcp_anomaly_baselines 5\n"));
        assert!(text.contains("mcp_security_events_dropped_total 4\n"));
        assert!(text.contains("mcp_request_duration_seconds_count{method_class=\"ping\"} 1\n"));
        // Every non-comment line is `name[{labels}] value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').expect("sample");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
