//! Alert classes, the mapping from events to classes, and the per-class threshold counters.
//!
//! Each class has a lock-free sliding-window counter. When the estimated count
//! within the window exceeds the class threshold, one alert fires; further crossings within the
//! same fixed window are suppressed, so a sustained attack raises one alert per class per window.

use std::sync::atomic::{AtomicU64, Ordering};

use mcp_core::{SecurityEvent, SecurityEventKind};

use crate::config::Thresholds;
use crate::window::RateWindow;

/// The reason `mcp-transport` gives a `TransportRejected` event for an oversized HTTP body.
pub const LARGE_MESSAGE_REASON: &str = "body too large";

/// The reason the stdio transport gives a `MalformedMessage` event for an oversized message.
pub const LARGE_STDIO_MESSAGE_REASON: &str = "message too large";

/// What an alert threshold counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlertClass {
    /// Failed authentications (`AuthenticateFail`).
    AuthFailures,
    /// Failed authorizations (`AuthorizeFail`).
    AuthzFailures,
    /// Rate-limit rejections (`RateLimitExceeded`).
    RateLimitHits,
    /// Messages above the large-message size.
    LargeMessages,
}

impl AlertClass {
    /// Every class, in metric order.
    pub const ALL: [Self; 4] = [Self::AuthFailures, Self::AuthzFailures, Self::RateLimitHits, Self::LargeMessages];

    /// Stable snake_case name (metric label, webhook `alert` field, config key).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthFailures => "auth_failures",
            Self::AuthzFailures => "authz_failures",
            Self::RateLimitHits => "rate_limit_hits",
            Self::LargeMessages => "large_messages",
        }
    }

    /// The threshold id carried as `rule` by the `Alert` event (`alert:auth_failures`).
    pub const fn rule(self) -> &'static str {
        match self {
            Self::AuthFailures => "alert:auth_failures",
            Self::AuthzFailures => "alert:authz_failures",
            Self::RateLimitHits => "alert:rate_limit_hits",
            Self::LargeMessages => "alert:large_messages",
        }
    }

    /// The static reason of the `Alert` event.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::AuthFailures => "failed authentications above threshold",
            Self::AuthzFailures => "failed authorizations above threshold",
            Self::RateLimitHits => "rate-limit rejections above threshold",
            Self::LargeMessages => "large messages above threshold",
        }
    }

    /// The class an event counts toward, if any. Oversized messages are recognized by kind and
    /// reason: `TransportRejected` with [`LARGE_MESSAGE_REASON`] or `MalformedMessage` with
    /// [`LARGE_STDIO_MESSAGE_REASON`].
    pub fn of(event: &SecurityEvent) -> Option<Self> {
        match event.kind {
            SecurityEventKind::AuthenticateFail => Some(Self::AuthFailures),
            SecurityEventKind::AuthorizeFail => Some(Self::AuthzFailures),
            SecurityEventKind::RateLimitExceeded => Some(Self::RateLimitHits),
            SecurityEventKind::TransportRejected if event.reason == LARGE_MESSAGE_REASON => Some(Self::LargeMessages),
            SecurityEventKind::MalformedMessage if event.reason == LARGE_STDIO_MESSAGE_REASON => {
                Some(Self::LargeMessages)
            }
            _ => None,
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::AuthFailures => 0,
            Self::AuthzFailures => 1,
            Self::RateLimitHits => 2,
            Self::LargeMessages => 3,
        }
    }
}

/// Per-class counters and the "already fired in this window" marks.
#[derive(Debug)]
pub(crate) struct AlertCounters {
    windows: [RateWindow; 4],
    fired: [AtomicU64; 4],
    thresholds: [u64; 4],
    window_ms: u64,
}

impl AlertCounters {
    pub(crate) fn new(t: &Thresholds, window_secs: u64) -> Self {
        Self {
            windows: Default::default(),
            fired: Default::default(),
            thresholds: [t.auth_failures, t.authz_failures, t.rate_limit_hits, t.large_messages],
            window_ms: window_secs.saturating_mul(1000).max(1),
        }
    }

    /// The threshold of `class` (0: disabled).
    pub(crate) fn threshold(&self, class: AlertClass) -> u64 {
        self.thresholds[class.index()]
    }

    /// Count one event of `class` at `now` (ms). Returns the estimated count when this event
    /// makes the class cross its threshold for the first time in the current window.
    pub(crate) fn hit(&self, class: AlertClass, now: u64) -> Option<u64> {
        let i = class.index();
        let threshold = self.thresholds[i];
        if threshold == 0 {
            return None;
        }
        let count = self.windows[i].hit(now, self.window_ms);
        if count <= threshold {
            return None;
        }
        // Window numbers start at 1 so that 0 means "never fired".
        let w = now / self.window_ms + 1;
        (self.fired[i].swap(w, Ordering::AcqRel) != w).then_some(count)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn events_map_to_classes() {
        let ev = |k, r| SecurityEvent::new(k, r, SystemTime::UNIX_EPOCH);
        assert_eq!(AlertClass::of(&ev(SecurityEventKind::AuthenticateFail, "x")), Some(AlertClass::AuthFailures));
        assert_eq!(AlertClass::of(&ev(SecurityEventKind::AuthorizeFail, "x")), Some(AlertClass::AuthzFailures));
        assert_eq!(AlertClass::of(&ev(SecurityEventKind::RateLimitExceeded, "x")), Some(AlertClass::RateLimitHits));
        let big = ev(SecurityEventKind::TransportRejected, LARGE_MESSAGE_REASON);
        assert_eq!(AlertClass::of(&big), Some(AlertClass::LargeMessages));
        let big = ev(SecurityEventKind::MalformedMessage, LARGE_STDIO_MESSAGE_REASON);
        assert_eq!(AlertClass::of(&big), Some(AlertClass::LargeMessages));
        assert_eq!(AlertClass::of(&ev(SecurityEventKind::TransportRejected, "wrong accept")), None);
        assert_eq!(AlertClass::of(&ev(SecurityEventKind::Authenticated, "ok")), None);
    }

    #[test]
    fn fires_once_per_window_above_threshold() {
        let t = Thresholds { auth_failures: 3, authz_failures: 0, rate_limit_hits: 1, large_messages: 1 };
        let c = AlertCounters::new(&t, 60);
        let fired: Vec<_> = (0..10).filter_map(|i| c.hit(AlertClass::AuthFailures, 1_000 + i)).collect();
        assert_eq!(fired, vec![4], "fires on the 4th event only");
        // Disabled class never fires.
        assert!((0..1000).all(|i| c.hit(AlertClass::AuthzFailures, i).is_none()));
        // Next window, the carried-over estimate still exceeds 3: one more alert.
        assert!(c.hit(AlertClass::AuthFailures, 61_000).is_some());
        assert!(c.hit(AlertClass::AuthFailures, 61_001).is_none());
    }
}
