//! Two sliding windows.
//!
//! - [`SlidingLog`]: exact. Keeps the timestamps of the last `cap` events of one key, so "were
//!   there `cap` events within the window?" is answered exactly with at most `cap` timestamps of
//!   memory. Used for failed attempts (cap = `block_after`).
//! - [`RateWindow`]: approximate and lock-free. Counts events in fixed windows and estimates
//!   the sliding count as `previous * (1 - elapsed fraction) + current`, the usual sliding
//!   window counter. Used for the alert thresholds, which every failure of every client touches.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Timestamps (ms) of the most recent events of one key, at most `cap` of them.
#[derive(Debug, Default)]
pub(crate) struct SlidingLog {
    times: VecDeque<u64>,
}

impl SlidingLog {
    /// Record an event at `now` and return how many of the last `cap` events lie within
    /// `(now - window, now]`. A `now` earlier than the newest stored event (two threads racing
    /// between reading the clock and taking the lock) is treated as equal to it.
    pub(crate) fn record(&mut self, now: u64, window: u64, cap: usize) -> usize {
        let now = self.times.back().map_or(now, |&last| now.max(last));
        self.expire(now, window);
        if self.times.len() >= cap {
            self.times.pop_front();
        }
        self.times.push_back(now);
        self.times.len()
    }

    /// Events within `(now - window, now]`, at most `cap`.
    pub(crate) fn count(&mut self, now: u64, window: u64) -> usize {
        self.expire(now, window);
        self.times.len()
    }

    /// Forget every event.
    pub(crate) fn clear(&mut self) {
        self.times.clear();
    }

    fn expire(&mut self, now: u64, window: u64) {
        while self.times.front().is_some_and(|&t| t.saturating_add(window) <= now) {
            self.times.pop_front();
        }
    }
}

/// A lock-free sliding-window counter. State: the current window number and its count packed
/// into one `AtomicU64` (32 bits each), plus the previous window's count.
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    current: AtomicU64,
    previous: AtomicU32,
}

fn pack(window: u64, count: u64) -> u64 {
    ((window & 0xFFFF_FFFF) << 32) | (count & 0xFFFF_FFFF)
}

fn unpack(v: u64) -> (u64, u64) {
    (v >> 32, v & 0xFFFF_FFFF)
}

impl RateWindow {
    /// Count one event at `now` (ms) and return the estimated number of events within the last
    /// `window_ms`, this one included.
    pub(crate) fn hit(&self, now: u64, window_ms: u64) -> u64 {
        let w = (now / window_ms) & 0xFFFF_FFFF;
        let mut cur = self.current.load(Ordering::Acquire);
        loop {
            let (cw, cc) = unpack(cur);
            let next = if cw == w { pack(w, cc.saturating_add(1).min(0xFFFF_FFFF)) } else { pack(w, 1) };
            match self.current.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if cw != w {
                        let prev = if cw + 1 == w { cc } else { 0 };
                        self.previous.store(u32::try_from(prev).unwrap_or(u32::MAX), Ordering::Release);
                    }
                    return self.estimate(unpack(next).1, now, window_ms);
                }
                Err(actual) => cur = actual,
            }
        }
    }

    fn estimate(&self, count: u64, now: u64, window_ms: u64) -> u64 {
        let elapsed = now % window_ms;
        let prev = u64::from(self.previous.load(Ordering::Acquire));
        // prev * (window - elapsed) / window, rounded down, in integers.
        count + prev * (window_ms - elapsed) / window_ms
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn log_counts_within_window_and_expires() {
        let mut log = SlidingLog::default();
        assert_eq!(log.record(1000, 300, 5), 1);
        assert_eq!(log.record(1100, 300, 5), 2);
        assert_eq!(log.record(1299, 300, 5), 3);
        // 1000 falls out at exactly now = 1300 (window is (now - 300, now]).
        assert_eq!(log.record(1300, 300, 5), 3);
        assert_eq!(log.count(10_000, 300), 0);
    }

    #[test]
    fn rate_window_estimates() {
        let r = RateWindow::default();
        for _ in 0..10 {
            r.hit(5_000, 60_000);
        }
        // Next window, half-way: 10 * 0.5 + 1.
        assert_eq!(r.hit(90_000, 60_000), 6);
        // Two windows later the old count is gone.
        assert_eq!(r.hit(200_000, 60_000), 1);
    }

    proptest! {
        /// The exact log agrees with a naive model: min(cap, events in (now - window, now]).
        #[test]
        fn sliding_log_matches_naive_model(
            gaps in proptest::collection::vec(0u64..200, 1..200),
            window in 1u64..1000,
            cap in 1usize..12,
        ) {
            let mut log = SlidingLog::default();
            let mut all = Vec::new();
            let mut now = 0u64;
            for g in gaps {
                now += g;
                all.push(now);
                let got = log.record(now, window, cap);
                let naive = all.iter().filter(|&&t| t + window > now).count().min(cap);
                prop_assert_eq!(got, naive);
            }
        }

        /// The estimate lies between the events of the current fixed window and those of the
        /// current plus the previous window.
        #[test]
        fn rate_window_is_bounded_by_fixed_windows(
            gaps in proptest::collection::vec(0u64..5_000, 1..300),
            window in 1_000u64..20_000,
        ) {
            let r = RateWindow::default();
            let mut all = Vec::new();
            let mut now = 0u64;
            for g in gaps {
                now += g;
                all.push(now);
                let est = r.hit(now, window);
                let w = now / window;
                let cur = all.iter().filter(|&&t| t / window == w).count() as u64;
                let prev = all.iter().filter(|&&t| w > 0 && t / window == w - 1).count() as u64;
                prop_assert!(est >= cur && est <= cur + prev, "est {} cur {} prev {}", est, cur, prev);
            }
        }
    }
}
