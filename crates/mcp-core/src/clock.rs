use std::time::{Instant, SystemTime};

/// Injected time, so tests can move it.
pub trait Clock: std::fmt::Debug + Send + Sync + 'static {
    /// Wall-clock time (for expiry of tokens and records).
    fn now(&self) -> SystemTime;
    /// Monotonic time (for durations and rate limits).
    fn instant(&self) -> Instant;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
}
