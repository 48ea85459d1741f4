//! Whether the shared store is reachable, with one probe per retry interval while it is not.
//!
//! The state is a generation counter: even while healthy, odd while degraded, bumped on every
//! transition. A call records the generation it started in, and only a call that started in the
//! current generation may change it: a request that was already in flight when Redis went down
//! and still succeeds does not mark it recovered, and a stale failure does not undo a recovery.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub(crate) struct Health {
    generation: AtomicU64,
    /// Engine time from which the next probe may go out.
    next_probe: AtomicU64,
    retry_ns: u64,
}

/// The generation a call started in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket(u64);

impl Health {
    pub(crate) fn new(retry_ns: u64) -> Self {
        Self { generation: AtomicU64::new(0), next_probe: AtomicU64::new(0), retry_ns }
    }

    pub(crate) fn is_degraded(&self) -> bool {
        !self.generation.load(Ordering::Acquire).is_multiple_of(2)
    }

    /// May this request go to the store? Always while healthy; while degraded, one request per
    /// retry interval (the others get the failure policy at once).
    pub(crate) fn try_start(&self, now: u64) -> Option<Ticket> {
        let generation = self.generation.load(Ordering::Acquire);
        if generation.is_multiple_of(2) {
            return Some(Ticket(generation));
        }
        let next = self.next_probe.load(Ordering::Acquire);
        let claimed = now >= next
            && self
                .next_probe
                .compare_exchange(next, now.saturating_add(self.retry_ns), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok();
        claimed.then_some(Ticket(generation))
    }

    /// The call failed; true on the transition from healthy (report it once).
    pub(crate) fn failed(&self, ticket: Ticket, now: u64) -> bool {
        self.next_probe.store(now.saturating_add(self.retry_ns), Ordering::Release);
        ticket.0.is_multiple_of(2)
            && self.generation.compare_exchange(ticket.0, ticket.0 + 1, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    /// The call succeeded; true on the transition from degraded (a probe came back).
    pub(crate) fn succeeded(&self, ticket: Ticket) -> bool {
        !ticket.0.is_multiple_of(2)
            && self.generation.compare_exchange(ticket.0, ticket.0 + 1, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_reported_once_and_probes_are_spaced() {
        let h = Health::new(100);
        let before = h.try_start(0).unwrap();
        let in_flight = h.try_start(1).unwrap();
        assert!(h.failed(before, 10));
        assert!(h.is_degraded());
        assert!(!h.failed(in_flight, 20), "second failure is not a transition");
        assert!(!h.succeeded(in_flight), "a call from before the outage does not mark recovery");
        assert!(h.try_start(50).is_none(), "no probe before the retry interval");
        let probe = h.try_start(120).unwrap();
        assert!(h.try_start(121).is_none(), "only one probe per interval");
        assert!(h.succeeded(probe));
        assert!(!h.is_degraded());
        assert!(!h.succeeded(probe));
        assert!(!h.failed(in_flight, 130), "a stale failure does not undo the recovery");
        assert!(!h.is_degraded());
        assert!(h.try_start(122).is_some());
    }
}
