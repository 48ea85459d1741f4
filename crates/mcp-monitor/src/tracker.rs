//! Failed-attempt counting per client id and per address, and the escalating block duration.
//!
//! Each key keeps the timestamps of its last `block_after` failures ([`SlidingLog`]). When
//! `block_after` of them fall within `window`, the key is blocked for
//! `block * 2^strikes` (capped at `max_block`), its log is cleared and `strikes` grows by one.
//! `strikes` returns to 0 once `decay` has passed since the end of the key's last block without
//! a new one. Strikes live with the key's counter, so a key evicted for staleness (or a server
//! restart) starts again at the first duration.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::shard::{LastSeen, ShardedMap};
use crate::window::SlidingLog;

/// Tracker limits, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) block_after: usize,
    pub(crate) window: u64,
    pub(crate) block: u64,
    pub(crate) max_block: u64,
    pub(crate) decay: u64,
}

#[derive(Debug, Default)]
struct KeyState {
    log: SlidingLog,
    strikes: u32,
    last_block_end: u64,
    last_seen: u64,
}

impl LastSeen for KeyState {
    fn last_seen(&self) -> u64 {
        self.last_seen
    }
}

impl KeyState {
    fn record(&mut self, now: u64, l: &Limits) -> Option<Duration> {
        self.last_seen = self.last_seen.max(now);
        if self.log.record(now, l.window, l.block_after) < l.block_after {
            return None;
        }
        self.log.clear();
        if self.strikes > 0 && now.saturating_sub(self.last_block_end) >= l.decay {
            self.strikes = 0;
        }
        let mut ms = l.block.min(l.max_block);
        for _ in 0..self.strikes {
            ms = ms.saturating_mul(2).min(l.max_block);
        }
        self.strikes = self.strikes.saturating_add(1).min(64);
        self.last_block_end = now.saturating_add(ms);
        Some(Duration::from_millis(ms))
    }

    /// Still worth keeping at `now`: failures in the window, or strikes not yet decayed.
    fn relevant(&mut self, now: u64, l: &Limits) -> bool {
        self.log.count(now, l.window) > 0 || (self.strikes > 0 && now < self.last_block_end.saturating_add(l.decay))
    }
}

/// Failure counters for client ids and addresses, each bounded.
pub(crate) struct FailureTracker {
    clients: ShardedMap<Arc<str>, KeyState>,
    ips: ShardedMap<IpAddr, KeyState>,
    limits: Limits,
}

impl FailureTracker {
    /// A tracker holding at most about `max_tracked` keys of each type.
    pub(crate) fn new(limits: Limits, max_tracked: usize) -> Self {
        Self { clients: ShardedMap::new(max_tracked), ips: ShardedMap::new(max_tracked), limits }
    }

    /// Count a failure of client `id` at `now`; `Some(duration)` when it must now be blocked.
    pub(crate) fn record_client(&self, id: &Arc<str>, now: u64) -> Option<Duration> {
        self.clients.with(&**id, || Arc::clone(id), KeyState::default, |s| s.record(now, &self.limits))
    }

    /// Count a failure from address `ip` (already normalized) at `now`.
    pub(crate) fn record_ip(&self, ip: IpAddr, now: u64) -> Option<Duration> {
        self.ips.with(&ip, || ip, KeyState::default, |s| s.record(now, &self.limits))
    }

    /// Failures of client `id` within the window ending at `now`.
    pub(crate) fn client_failures(&self, id: &str, now: u64) -> usize {
        self.clients.get_with(id, |s| s.log.count(now, self.limits.window)).unwrap_or(0)
    }

    /// Failures from `ip` within the window ending at `now`.
    pub(crate) fn ip_failures(&self, ip: IpAddr, now: u64) -> usize {
        self.ips.get_with(&ip, |s| s.log.count(now, self.limits.window)).unwrap_or(0)
    }

    /// Forget everything about client `id` (after a manual unblock).
    pub(crate) fn forget_client(&self, id: &str) {
        self.clients.remove(id);
    }

    /// Forget everything about `ip`.
    pub(crate) fn forget_ip(&self, ip: IpAddr) {
        self.ips.remove(&ip);
    }

    /// Drop keys with nothing left to remember.
    pub(crate) fn purge(&self, now: u64) {
        let l = self.limits;
        self.clients.retain_mut(|s| s.relevant(now, &l));
        self.ips.retain_mut(|s| s.relevant(now, &l));
    }

    /// Keys tracked (clients + addresses).
    pub(crate) fn len(&self) -> usize {
        self.clients.len() + self.ips.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits { block_after: 3, window: 1_000, block: 100, max_block: 350, decay: 10_000 };

    #[test]
    fn blocks_after_threshold_and_escalates_with_cap() {
        let mut s = KeyState::default();
        assert_eq!(s.record(0, &L), None);
        assert_eq!(s.record(10, &L), None);
        assert_eq!(s.record(20, &L), Some(Duration::from_millis(100)));
        // The log was cleared: three more failures are needed.
        assert_eq!(s.record(200, &L), None);
        assert_eq!(s.record(210, &L), None);
        assert_eq!(s.record(220, &L), Some(Duration::from_millis(200)));
        for t in [500, 510] {
            assert_eq!(s.record(t, &L), None);
        }
        assert_eq!(s.record(520, &L), Some(Duration::from_millis(350)), "capped at max_block");
    }

    #[test]
    fn failures_outside_window_do_not_count() {
        let mut s = KeyState::default();
        assert_eq!(s.record(0, &L), None);
        assert_eq!(s.record(600, &L), None);
        assert_eq!(s.record(1_200, &L), None, "the first failure left the window");
        assert_eq!(s.record(1_300, &L), Some(Duration::from_millis(100)));
    }

    #[test]
    fn strikes_decay_after_quiet_period() {
        let mut s = KeyState::default();
        for t in [0, 1, 2] {
            s.record(t, &L);
        }
        assert_eq!(s.strikes, 1);
        // Quiet for longer than decay after the block ended: back to the first duration.
        let t = 2 + 100 + L.decay;
        s.record(t, &L);
        s.record(t + 1, &L);
        assert_eq!(s.record(t + 2, &L), Some(Duration::from_millis(100)));
    }

    #[test]
    fn tracker_purges_irrelevant_keys() {
        let t = FailureTracker::new(L, 1_000);
        let id: Arc<str> = "alice".into();
        t.record_client(&id, 0);
        t.record_ip("192.0.2.1".parse().unwrap(), 0);
        assert_eq!(t.client_failures("alice", 10), 1);
        assert_eq!(t.len(), 2);
        t.purge(5_000);
        assert_eq!(t.len(), 0);
    }
}
