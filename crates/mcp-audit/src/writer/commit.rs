//! Committing batches: write, fsync per policy, failure and recovery, rotation.

use std::time::{Duration, Instant};

use super::Writer;
use crate::config::{FsyncPolicy, OnFailure};
use crate::error::AuditError;
use crate::shared::{DegradedCause, WRITE_FAILED, bump};
use crate::ticket::Undone;

impl Writer {
    /// Write what is buffered; sync when forced or when the policy says every record. While
    /// failing, only a storage operation that really succeeds ends the failure.
    pub(super) fn commit(&mut self, force_sync: bool) -> Result<(), Undone> {
        // fail_closed keeps what it could not write and retries on a schedule; fail_open tries
        // every batch (dropping it on failure), so the first batch that succeeds ends the failure.
        let closed = self.shared.policy == OnFailure::FailClosed;
        if closed && self.failing && !force_sync && Instant::now() < self.next_retry {
            return Err(Undone::WriteFailed);
        }
        let mut proved = match self.log.ensure_active(self.clock.now()) {
            Ok(created) => created,
            Err(e) => return Err(self.fail(&e)),
        };
        if !self.buf.is_empty() {
            let state = self.tentative;
            if let Err(e) = self.log.append(&self.buf, self.lines, state) {
                return Err(self.fail(&AuditError::io(&self.path, "write", e)));
            }
            bump(&self.shared.counters.written, self.lines);
            bump(&self.shared.counters.batches, 1);
            self.buf.clear();
            self.lines = 0;
            self.unsynced = true;
            proved = true;
        }
        if self.unsynced && (force_sync || self.failing || self.fsync == FsyncPolicy::EveryRecord) {
            if let Err(e) = self.sync() {
                return Err(self.fail(&e));
            }
            proved = true;
        }
        if self.failing && !proved && self.rotation_due() {
            // The failure may have been a rotation: retrying it is the probe.
            self.rotate()?;
            proved = true;
        }
        if self.failing && !proved && !closed {
            return Err(Undone::WriteFailed);
        }
        self.failing = false;
        self.shared.clear(WRITE_FAILED);
        for c in self.waiters.drain(..) {
            c.complete(Ok(()));
        }
        if self.rotation_due() {
            return self.rotate();
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), AuditError> {
        self.log.sync().map_err(|e| AuditError::io(&self.path, "fsync", e))?;
        bump(&self.shared.counters.fsyncs, 1);
        self.unsynced = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn fail(&mut self, e: &AuditError) -> Undone {
        bump(&self.shared.counters.write_errors, 1);
        let kind = match e {
            AuditError::Io { source, .. } => source.kind(),
            _ => std::io::ErrorKind::Other,
        };
        if !self.failing {
            tracing::error!(target: "mcp_audit", error = %e, "audit log write failed");
        }
        self.failing = true;
        self.next_retry = Instant::now() + self.retry;
        self.shared.degrade(WRITE_FAILED, DegradedCause::WriteFailed(kind));
        if self.shared.policy == OnFailure::FailOpen {
            self.drop_pending();
        }
        for c in self.waiters.drain(..) {
            c.complete(Err(Undone::WriteFailed));
        }
        Undone::WriteFailed
    }

    /// `fail_open`: give up the records not yet written (counted), keeping the chain where the
    /// file ends.
    fn drop_pending(&mut self) {
        bump(&self.shared.counters.dropped, self.lines);
        self.buf.clear();
        self.lines = 0;
        self.tentative = self.log.committed;
        for c in self.waiters.drain(..) {
            c.complete(Err(Undone::WriteFailed));
        }
    }

    fn rotation_due(&self) -> bool {
        if self.log.records == 0 {
            return false;
        }
        let by_size = self.rotate_size > 0 && self.log.good_len >= self.rotate_size;
        let by_age = self
            .rotate_interval
            .is_some_and(|iv| self.clock.now().duration_since(self.log.opened_at).unwrap_or_default() >= iv);
        by_size || by_age
    }

    pub(super) fn rotate(&mut self) -> Result<(), Undone> {
        let rotated = self.log.rotate(self.clock.now());
        self.after_rotation(rotated)
    }

    /// Rotate and write the next files with `key` (after a rotation of the audit key).
    pub(super) fn rotate_key(&mut self, key: crate::key::AuditKey) -> Result<(), Undone> {
        let rotated = self.log.rotate_with_key(key, self.clock.now());
        self.after_rotation(rotated)
    }

    /// Book-keeping shared by both rotations: count it, and the new file starts synced.
    fn after_rotation(&mut self, rotated: Result<(), crate::AuditError>) -> Result<(), Undone> {
        match rotated {
            Ok(()) => {
                bump(&self.shared.counters.rotations, 1);
                self.tentative = self.log.committed;
                self.unsynced = false;
                Ok(())
            }
            Err(e) => Err(self.fail(&e)),
        }
    }

    /// Commit early when the file plus what is buffered reaches the rotation size, so files
    /// rotate at record granularity even inside a large batch.
    pub(super) fn rotate_if_full(&mut self) {
        if self.rotate_size > 0 && self.log.good_len + self.buf.len() as u64 >= self.rotate_size {
            let _ = self.commit(false);
        }
    }

    /// Scheduled work: interval fsync, rotation by age, retry after a failure.
    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        if self.failing {
            if self.shared.policy == OnFailure::FailClosed && now >= self.next_retry {
                let _ = self.commit(true);
            }
            return;
        }
        if let (true, FsyncPolicy::Interval { interval_ms }) = (self.unsynced, self.fsync)
            && now >= self.last_sync + Duration::from_millis(interval_ms)
            && let Err(e) = self.sync()
        {
            let _ = self.fail(&e);
        }
        if !self.failing && self.rotation_due() {
            let _ = self.rotate();
        }
    }
}
