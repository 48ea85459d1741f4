//! The writer thread: drains the queue in batches, encodes and chains records, writes each batch
//! with one `write`, applies the fsync policy, rotates, and retries after failures.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use mcp_core::{AuditRecord, Clock, SecurityEvent};

use crate::body::{self, Salts};
use crate::config::{FsyncPolicy, OnFailure};
use crate::error::AuditError;
use crate::line::{self, ChainState};
use crate::logfile::{LogFile, encode_meta};
use crate::meta::Meta;
use crate::select::Field;
use crate::shared::{DegradedCause, Shared, WRITE_FAILED, bump};
use crate::ticket::{Completer, Undone};
use crate::util::rfc3339_millis;

const MAX_BATCH: usize = 4096;
const MAX_BUF: usize = 4 << 20;

/// A message to the writer.
pub(crate) enum Msg {
    Audit(AuditRecord, Option<Completer>),
    Event(SecurityEvent, Option<Completer>),
    Meta(Meta, Completer),
    Flush(Completer),
    Rotate(Completer),
    Shutdown(Completer),
}

pub(crate) struct Writer {
    pub log: LogFile,
    pub shared: Arc<Shared>,
    pub rx: Receiver<Msg>,
    pub clock: Arc<dyn Clock>,
    pub fsync: FsyncPolicy,
    pub rotate_size: u64,
    pub rotate_interval: Option<Duration>,
    pub retry: Duration,
    pub salts: Salts,
    pub buf: Vec<u8>,
    pub scratch: Vec<u8>,
    pub path: std::path::PathBuf,
    pub lines: u64,
    pub tentative: ChainState,
    pub waiters: Vec<Completer>,
    pub unsynced: bool,
    pub last_sync: Instant,
    pub failing: bool,
    pub next_retry: Instant,
}

impl Writer {
    pub(crate) fn run(mut self) {
        loop {
            let first = match self.deadline() {
                None => match self.rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                },
                Some(wait) => match self.rx.recv_timeout(wait) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            if let Some(msg) = first {
                let mut n = 1;
                if self.handle(msg) {
                    return;
                }
                while n < MAX_BATCH && self.buf.len() < MAX_BUF {
                    let Ok(msg) = self.rx.try_recv() else { break };
                    n += 1;
                    if self.handle(msg) {
                        return;
                    }
                }
            }
            let _ = self.commit(false);
            self.tick();
        }
        // Every sender is gone: write what is left and a shutdown record.
        self.stop(None);
    }

    /// How long to sleep before the next scheduled action (None: until a message arrives).
    fn deadline(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut due: Option<Instant> = None;
        let mut at = |t: Instant| due = Some(due.map_or(t, |d| d.min(t)));
        if self.failing && self.shared.policy == OnFailure::FailClosed {
            at(self.next_retry);
        }
        if let (true, FsyncPolicy::Interval { interval_ms }) = (self.unsynced, self.fsync) {
            at(self.last_sync + Duration::from_millis(interval_ms));
        }
        if let (Some(iv), true) = (self.rotate_interval, self.log.records > 0) {
            let age = self.clock.now().duration_since(self.log.opened_at).unwrap_or_default();
            at(now + iv.saturating_sub(age));
        }
        due.map(|d| d.saturating_duration_since(now))
    }

    /// Handle one message; true when the writer must stop.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Audit(rec, c) => {
                let kind = body::class_of_method(&rec.method).as_str();
                self.encode_record(rec.at, kind, |include, salt, out| body::audit_body(&rec, include, salt, out));
                self.waiters.extend(c);
                self.rotate_if_full();
            }
            Msg::Event(ev, c) => {
                let kind = body::class_of_event(ev.kind).as_str();
                self.encode_record(ev.at, kind, |include, salt, out| body::event_body(&ev, include, salt, out));
                self.waiters.extend(c);
                self.rotate_if_full();
            }
            Msg::Meta(meta, c) => {
                encode_meta(self.log.key(), &mut self.tentative, &meta, self.clock.now(), &mut self.buf);
                self.lines += 1;
                self.waiters.push(c);
            }
            Msg::Flush(c) => {
                let r = self.commit(true);
                c.complete(r);
            }
            Msg::Rotate(c) => {
                let r = self.commit(true).and_then(|()| self.rotate());
                c.complete(r);
            }
            Msg::Shutdown(c) => {
                self.stop(Some(c));
                return true;
            }
        }
        false
    }

    fn encode_record(
        &mut self,
        at: std::time::SystemTime,
        kind: &'static str,
        fill: impl FnOnce(u16, &[u8; body::SALT_LEN], &mut Vec<u8>),
    ) {
        let Some(salt) = self.salts.next() else {
            // No randomness: never write an unsalted body; count it as lost.
            bump(&self.shared.counters.write_errors, 1);
            bump(&self.shared.counters.dropped, 1);
            tracing::error!(target: "mcp_audit", "system random generator failed; audit record dropped");
            return;
        };
        let ts = (self.shared.include & Field::Timestamp.bit() != 0).then(|| rfc3339_millis(at));
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        fill(self.shared.include, &salt, &mut scratch);
        line::write_line(self.log.key().chain_key(), &mut self.tentative, ts.as_deref(), kind, &scratch, &mut self.buf);
        self.scratch = scratch;
        self.lines += 1;
    }

    /// Write what is buffered; sync when forced or when the policy says every record. While
    /// failing, only a storage operation that really succeeds ends the failure.
    fn commit(&mut self, force_sync: bool) -> Result<(), Undone> {
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

    fn rotate(&mut self) -> Result<(), Undone> {
        match self.log.rotate(self.clock.now()) {
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
    fn rotate_if_full(&mut self) {
        if self.rotate_size > 0 && self.log.good_len + self.buf.len() as u64 >= self.rotate_size {
            let _ = self.commit(false);
        }
    }

    /// Scheduled work: interval fsync, rotation by age, retry after a failure.
    fn tick(&mut self) {
        let now = Instant::now();
        if self.failing && self.shared.policy == OnFailure::FailClosed && now >= self.next_retry {
            let _ = self.commit(true);
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

    /// Write everything left plus a shutdown record, sync, and complete `done`.
    fn stop(&mut self, done: Option<Completer>) {
        encode_meta(self.log.key(), &mut self.tentative, &Meta::Shutdown, self.clock.now(), &mut self.buf);
        self.lines += 1;
        let r = self.commit(true);
        if r.is_err() {
            tracing::error!(target: "mcp_audit", "audit writer stopped with unwritten records");
        }
        if let Some(c) = done {
            c.complete(r);
        }
    }
}
