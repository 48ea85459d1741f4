//! The writer thread: drains the queue in batches, encodes and chains records, writes each batch
//! with one `write`, applies the fsync policy, rotates, and retries after failures.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use mcp_core::{AuditRecord, Clock, SecurityEvent};

use crate::body::{self, Salts};
use crate::config::{FsyncPolicy, OnFailure};
use crate::line::{self, ChainState};
use crate::logfile::LogFile;
use crate::meta::{Meta, encode_meta};
use crate::select::Field;
use crate::shared::{Shared, bump};
use crate::ticket::Completer;
use crate::util::TsCache;

mod commit;

const MAX_BATCH: usize = 4096;
const MAX_BUF: usize = 4 << 20;
/// How often a busy writer collects queued records.
const BATCH_WAIT: Duration = Duration::from_millis(2);
/// Without records for this long the writer blocks until the next message.
const IDLE: Duration = Duration::from_millis(50);

/// A message to the writer.
pub(crate) enum Msg {
    Audit(AuditRecord, Option<Completer>),
    Event(SecurityEvent, Option<Completer>),
    Meta(Meta, Completer),
    Flush(Completer),
    Rotate(Completer),
    RotateKey(crate::key::AuditKey, Completer),
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
    pub ts: TsCache,
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
        // While records keep coming the writer collects them every BATCH_WAIT without blocking
        // in `recv`, so senders never pay for waking it (messages that must not wait wake it
        // explicitly); after IDLE without records it blocks in `recv` again.
        let mut last_record = Instant::now();
        loop {
            let mut n = 0;
            while n < MAX_BATCH && self.buf.len() < MAX_BUF {
                match self.rx.try_recv() {
                    Ok(msg) => {
                        n += 1;
                        if self.handle(msg) {
                            return;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        // Every sender is gone: write what is left and a shutdown record.
                        let _ = self.commit(false);
                        self.stop(None);
                        return;
                    }
                }
            }
            let _ = self.commit(false);
            self.tick();
            if n > 0 {
                last_record = Instant::now();
            }
            if n >= MAX_BATCH || self.buf.len() >= MAX_BUF {
                continue;
            }
            let deadline = self.deadline();
            if last_record.elapsed() < IDLE {
                std::thread::park_timeout(deadline.map_or(BATCH_WAIT, |d| d.min(BATCH_WAIT)));
                continue;
            }
            let first = match deadline {
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
                last_record = Instant::now();
                if self.handle(msg) {
                    return;
                }
            }
        }
        // Every sender is gone: write what is left and a shutdown record.
        self.stop(None);
    }

    /// How long to sleep before the next scheduled action (None: until a message arrives).
    fn deadline(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut due: Option<Instant> = None;
        let mut at = |t: Instant| due = Some(due.map_or(t, |d| d.min(t)));
        if self.failing {
            // fail_closed retries on a schedule; fail_open waits for the next batch to probe.
            return (self.shared.policy == OnFailure::FailClosed)
                .then(|| self.next_retry.saturating_duration_since(now));
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
            Msg::RotateKey(key, c) => {
                let r = self.commit(true).and_then(|()| self.rotate_key(key));
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
        self.scratch.clear();
        fill(self.shared.include, &salt, &mut self.scratch);
        let ts = (self.shared.include & Field::Timestamp.bit() != 0).then(|| self.ts.format(at));
        line::write_line(self.log.key().chain_key(), &mut self.tentative, ts, kind, &self.scratch, &mut self.buf);
        self.lines += 1;
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
