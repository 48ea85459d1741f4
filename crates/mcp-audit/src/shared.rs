//! State shared by the sink handles and the writer thread: the health flags, the counters and
//! the health hook.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crate::config::OnFailure;

/// Why the log is degraded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DegradedCause {
    /// The queue to the writer was full.
    QueueFull,
    /// Writing, syncing or rotating failed with this error kind.
    WriteFailed(std::io::ErrorKind),
}

/// A change of the sink's health, reported to the [`HealthHook`] on each transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthChange {
    /// Records are being refused (`fail_closed`) or dropped (`fail_open`). The server should
    /// emit an `AuditDegraded` security event.
    Degraded(DegradedCause),
    /// Records are accepted and written again.
    Recovered,
}

/// Called on every health transition, from the thread that observed it (a request handler for a
/// full queue, the writer thread otherwise): keep it short and non-blocking.
pub type HealthHook = Arc<dyn Fn(HealthChange) + Send + Sync>;

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditStats {
    /// Records accepted into the queue.
    pub accepted: u64,
    /// Records written to the file (meta records included).
    pub written: u64,
    /// Records refused with an error under `fail_closed`.
    pub refused: u64,
    /// Records lost under `fail_open` (queue full or write failed).
    pub dropped: u64,
    /// Failed write, fsync or rotate attempts.
    pub write_errors: u64,
    /// fsync calls.
    pub fsyncs: u64,
    /// Batches written.
    pub batches: u64,
    /// Files rotated.
    pub rotations: u64,
}

pub(crate) const QUEUE_FULL: u8 = 1;
pub(crate) const WRITE_FAILED: u8 = 2;

#[derive(Default)]
pub(crate) struct Counters {
    pub accepted: AtomicU64,
    pub written: AtomicU64,
    pub refused: AtomicU64,
    pub dropped: AtomicU64,
    pub write_errors: AtomicU64,
    pub fsyncs: AtomicU64,
    pub batches: AtomicU64,
    pub rotations: AtomicU64,
}

pub(crate) struct Shared {
    pub policy: OnFailure,
    pub events: u16,
    pub include: u16,
    health: AtomicU8,
    pub counters: Counters,
    hook: Option<HealthHook>,
    /// The writer thread, to wake it for messages that must not wait for its next batch.
    pub writer: std::sync::OnceLock<std::thread::Thread>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("policy", &self.policy)
            .field("health", &self.health.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

pub(crate) fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Shared {
    pub(crate) fn new(policy: OnFailure, events: u16, include: u16, hook: Option<HealthHook>) -> Self {
        Self {
            policy,
            events,
            include,
            health: AtomicU8::new(0),
            counters: Counters::default(),
            hook,
            writer: std::sync::OnceLock::new(),
        }
    }

    /// Wake the writer now (durability tickets, flush, rotate, shutdown). Plain records do not:
    /// the writer collects them on its own schedule, so a request never pays a thread wake-up.
    pub(crate) fn wake(&self) {
        if let Some(t) = self.writer.get() {
            t.unpark();
        }
    }

    /// Set a degradation flag, reporting the transition from healthy.
    pub(crate) fn degrade(&self, flag: u8, cause: DegradedCause) {
        if self.health.fetch_or(flag, Ordering::AcqRel) == 0 {
            tracing::error!(target: "mcp_audit", ?cause, policy = ?self.policy, "audit log degraded: records are being {}",
                if self.policy == OnFailure::FailClosed { "refused (fail_closed)" } else { "dropped (fail_open)" });
            if let Some(h) = &self.hook {
                h(HealthChange::Degraded(cause));
            }
        }
    }

    /// Clear a degradation flag, reporting the transition back to healthy.
    pub(crate) fn clear(&self, flag: u8) {
        if self.health.load(Ordering::Relaxed) & flag == 0 {
            return;
        }
        if self.health.fetch_and(!flag, Ordering::AcqRel) == flag {
            tracing::warn!(target: "mcp_audit", "audit log recovered");
            if let Some(h) = &self.hook {
                h(HealthChange::Recovered);
            }
        }
    }

    pub(crate) fn flags(&self) -> u8 {
        self.health.load(Ordering::Acquire)
    }

    pub(crate) fn stats(&self) -> AuditStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        AuditStats {
            accepted: get(&c.accepted),
            written: get(&c.written),
            refused: get(&c.refused),
            dropped: get(&c.dropped),
            write_errors: get(&c.write_errors),
            fsyncs: get(&c.fsyncs),
            batches: get(&c.batches),
            rotations: get(&c.rotations),
        }
    }
}

/// A storage operation a [`FaultHook`] can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoOp {
    /// Appending a batch of records.
    Write,
    /// fsync of the active file.
    Sync,
    /// Renaming the active file and creating the next one.
    Rotate,
}

/// Called before each storage operation; an `Err` makes that operation fail as if the disk had
/// (tests and failure drills: disk full, permission lost).
pub type FaultHook = Arc<dyn Fn(IoOp) -> std::io::Result<()> + Send + Sync>;
