//! Test helpers: a clock the test moves, event builders, channel draining.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mcp_core::{Clock, SecurityEvent, SecurityEventKind};
use mcp_monitor::{MonitoringConfig, SecurityMonitor};
use tokio::sync::mpsc;

/// A clock that only moves when told to. Wall time starts at a fixed, whole second.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<(Instant, SystemTime)>>);

impl ManualClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new((Instant::now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)))))
    }

    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().expect("clock");
        t.0 += d;
        t.1 += d;
    }

    pub fn arc(&self) -> Arc<dyn Clock> {
        Arc::new(self.clone())
    }

    pub fn now(&self) -> SystemTime {
        self.0.lock().expect("clock").1
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.0.lock().expect("clock").1
    }
    fn instant(&self) -> Instant {
        self.0.lock().expect("clock").0
    }
}

/// A monitor built from TOML text (the body of `[monitoring]`).
pub fn monitor_with(toml_text: &str, clock: &ManualClock) -> SecurityMonitor {
    let cfg: MonitoringConfig = toml::from_str(toml_text).expect("config");
    SecurityMonitor::new(&cfg, clock.arc()).expect("monitor")
}

/// An `AuthenticateFail` event.
pub fn auth_fail(principal: Option<&str>, peer: Option<&str>) -> SecurityEvent {
    let mut e = SecurityEvent::new(SecurityEventKind::AuthenticateFail, "invalid token", SystemTime::now())
        .with_peer(peer.map(|p| p.parse().expect("socket addr")));
    if let Some(p) = principal {
        e = e.with_principal(p);
    }
    e
}

/// Everything waiting in a channel.
pub fn recv_all(rx: &mut mpsc::Receiver<SecurityEvent>) -> Vec<SecurityEvent> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}
