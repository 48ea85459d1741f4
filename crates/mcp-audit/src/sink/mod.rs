//! [`FileAuditSink`]: the request-path side. Records are filtered, handed to a bounded queue with
//! `try_send` (never blocking) and written by the writer thread behind [`WriterHandle`].

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

use mcp_core::traits::{AuditSink, BackendError};
use mcp_core::{AuditRecord, BoxFuture, Clock, ErrorKind, SecurityEvent};
use ring::hmac;

use crate::body::{class_of_event, class_of_method};
use crate::config::{FsyncPolicy, OnFailure};
use crate::error::AuditError;
use crate::files::LogPaths;
use crate::key::AuditKey;
use crate::meta::Meta;
use crate::select::{EventClass, Field};
use crate::shared::{AuditStats, DegradedCause, QUEUE_FULL, Shared, WRITE_FAILED, bump};
use crate::ticket::{self, Ticket};
use crate::writer::Msg;

mod start;

pub use start::{SinkOptions, WriterHandle};

/// The file audit sink. Cheap to clone; every clone feeds the same writer.
///
/// Guarantees:
/// - [`audit`](AuditSink::audit) / [`record`](AuditSink::record) never block: they filter, then
///   `try_send` into the bounded queue. `Ok` means the record is queued (or, under `fail_open`,
///   possibly dropped and counted); `Err` (only under `fail_closed`) means it was refused.
/// - Every record accepted is written unless the storage fails: on graceful shutdown
///   ([`WriterHandle::shutdown`] or dropping the handle) the writer drains the queue, writes a
///   `shutdown` record and syncs before it exits. `flush` / [`flush_blocking`](Self::flush_blocking)
///   wait until everything accepted before the call is written and synced.
/// - With `fsync = "every_record"`, await the [`Ticket`] from
///   [`audit_durable`](Self::audit_durable) before sending the response: a completed ticket means
///   the record is on stable storage, so every request that got a response has its record even
///   after `kill -9` or a power cut. With the other policies a ticket completes once the record
///   is written to the operating system (it survives a process kill, not a power cut).
#[derive(Clone)]
pub struct FileAuditSink {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    /// The parameter-digest subkey of the current audit key (swapped by `rotate_key`).
    params: Arc<std::sync::RwLock<hmac::Key>>,
    fsync: FsyncPolicy,
    pub(crate) paths: LogPaths,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for FileAuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileAuditSink")
            .field("path", &self.paths.active)
            .field("fsync", &self.fsync)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

const UNAVAILABLE: BackendError = BackendError { kind: ErrorKind::Unavailable, reason: "audit log unavailable" };

impl FileAuditSink {
    /// The active log file.
    pub fn log_path(&self) -> &Path {
        &self.paths.active
    }

    /// The configured fsync policy (with `every_record`, await [`audit_durable`](Self::audit_durable)
    /// before answering a request).
    pub fn fsync_policy(&self) -> FsyncPolicy {
        self.fsync
    }

    /// Counters since start.
    pub fn stats(&self) -> AuditStats {
        self.shared.stats()
    }

    /// Like [`AuditSink::audit`], and returns a [`Ticket`] that completes once the record is
    /// durable (after fsync under `every_record`). A record the configuration filters out gets a
    /// ticket that is already complete.
    pub fn audit_durable(&self, record: AuditRecord) -> Result<Ticket, BackendError> {
        if !record.always && !self.wants(class_of_method(&record.method)) {
            return Ok(Ticket::ready());
        }
        let (c, t) = ticket::ticket();
        self.enqueue(Msg::Audit(record, Some(c)))?;
        Ok(t)
    }

    /// Like [`AuditSink::record`], with a [`Ticket`] as for [`audit_durable`](Self::audit_durable).
    pub fn record_durable(&self, event: SecurityEvent) -> Result<Ticket, BackendError> {
        if !self.wants(class_of_event(event.kind)) {
            return Ok(Ticket::ready());
        }
        let (c, t) = ticket::ticket();
        self.enqueue(Msg::Event(event, Some(c)))?;
        Ok(t)
    }

    fn wants(&self, class: EventClass) -> bool {
        self.shared.events & class.bit() != 0
    }

    fn enqueue(&self, msg: Msg) -> Result<(), BackendError> {
        let s = &self.shared;
        let closed = s.policy == OnFailure::FailClosed;
        if closed && s.flags() & WRITE_FAILED != 0 {
            bump(&s.counters.refused, 1);
            return Err(UNAVAILABLE);
        }
        let urgent = !matches!(msg, Msg::Audit(_, None) | Msg::Event(_, None));
        match self.tx.try_send(msg) {
            Ok(()) => {
                bump(&s.counters.accepted, 1);
                s.clear(QUEUE_FULL);
                if urgent {
                    s.wake();
                }
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                s.degrade(QUEUE_FULL, DegradedCause::QueueFull);
                self.lost(closed)
            }
            Err(TrySendError::Disconnected(_)) => self.lost(closed),
        }
    }

    fn lost(&self, closed: bool) -> Result<(), BackendError> {
        if closed {
            bump(&self.shared.counters.refused, 1);
            Err(UNAVAILABLE)
        } else {
            bump(&self.shared.counters.dropped, 1);
            Ok(())
        }
    }

    /// Send a control message, waiting for queue space (maintenance and shutdown only).
    pub(crate) fn control(&self, make: impl FnOnce(ticket::Completer) -> Msg) -> Ticket {
        let (c, t) = ticket::ticket();
        // A send error drops the message and its completer, which fails the ticket.
        let _ = self.tx.send(make(c));
        self.shared.wake();
        t
    }

    /// Block until every record accepted before this call is written and synced.
    pub fn flush_blocking(&self) -> Result<(), AuditError> {
        self.control(Msg::Flush).wait()
    }

    /// Close the active file and start the next one now (blocking).
    pub fn rotate(&self) -> Result<(), AuditError> {
        self.control(Msg::Rotate).wait()
    }

    /// Switch to `key` (the audit key was rotated), blocking: everything accepted so far is
    /// written and synced with the old key, the active file is closed, and the next file — its
    /// anchor naming the new key id — and every record after it use `key`. Parameter digests use
    /// the new key from the moment this returns. On error the old key stays in use; try again.
    pub fn rotate_key(&self, key: AuditKey) -> Result<(), AuditError> {
        let params = key.params_key().clone();
        self.control(|c| Msg::RotateKey(key, c)).wait()?;
        match self.params.write() {
            Ok(mut k) => *k = params,
            Err(poisoned) => *poisoned.into_inner() = params,
        }
        Ok(())
    }

    pub(crate) fn append_meta(&self, meta: Meta) -> Result<(), AuditError> {
        self.control(|c| Msg::Meta(meta, c)).wait()?;
        self.flush_blocking()
    }
}

/// Keyed digest of parameters: HMAC-SHA-256 under the audit key's parameter subkey over their
/// canonical JSON.
pub(crate) fn keyed_params_hash(key: &hmac::Key, params: &serde_json::Value) -> [u8; 32] {
    let mut canon = Vec::with_capacity(256);
    mcp_core::canonical_json(params, &mut canon);
    let tag = hmac::sign(key, &canon);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

impl AuditSink for FileAuditSink {
    fn record(&self, event: SecurityEvent) -> Result<(), BackendError> {
        if !self.wants(class_of_event(event.kind)) {
            return Ok(());
        }
        self.enqueue(Msg::Event(event, None))
    }

    fn audit(&self, record: AuditRecord) -> Result<(), BackendError> {
        if !record.always && !self.wants(class_of_method(&record.method)) {
            return Ok(());
        }
        self.enqueue(Msg::Audit(record, None))
    }

    fn durable_mode(&self) -> bool {
        self.fsync == FsyncPolicy::EveryRecord
    }

    fn audit_durable(&self, record: AuditRecord) -> BoxFuture<'static, Result<(), BackendError>> {
        match FileAuditSink::audit_durable(self, record) {
            Ok(ticket) => Box::pin(async move {
                ticket.await.map_err(|_| BackendError {
                    kind: ErrorKind::Unavailable,
                    reason: "audit record could not be made durable",
                })
            }),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn is_failing_closed(&self) -> bool {
        self.shared.policy == OnFailure::FailClosed && self.shared.flags() != 0
    }

    fn params_hash(&self, params: &serde_json::Value) -> Option<[u8; 32]> {
        if self.shared.include & Field::ParamsHash.bit() == 0 {
            return None;
        }
        let key = match self.params.read() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(keyed_params_hash(&key, params))
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        let (c, t) = ticket::ticket();
        match self.tx.try_send(Msg::Flush(c)) {
            Ok(()) => self.shared.wake(),
            Err(TrySendError::Full(msg)) => {
                // Queue full: hand the blocking send to a helper thread instead of blocking here.
                let (tx, shared) = (self.tx.clone(), self.shared.clone());
                let _ = std::thread::Builder::new().name("mcp-audit-flush".into()).spawn(move || {
                    let _ = tx.send(msg);
                    shared.wake();
                });
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
        Box::pin(async move { t.await.map_err(|_| UNAVAILABLE) })
    }
}
