//! [`FileAuditSink`]: the request-path side. Records are filtered, handed to a bounded queue with
//! `try_send` (never blocking) and written by the writer thread behind [`WriterHandle`].

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use mcp_core::traits::{AuditSink, BackendError};
use mcp_core::{AuditRecord, BoxFuture, Clock, ErrorKind, SecurityEvent, SystemClock};
use ring::hmac;

use crate::body::{Salts, class_of_event, class_of_method};
use crate::config::{AuditLogConfig, FsyncPolicy, OnFailure};
use crate::error::AuditError;
use crate::files::LogPaths;
use crate::key::AuditKey;
use crate::logfile::{FaultHook, LogFile};
use crate::meta::Meta;
use crate::select::{EventClass, Field, mask};
use crate::shared::{AuditStats, DegradedCause, HealthHook, QUEUE_FULL, Shared, WRITE_FAILED, bump};
use crate::ticket::{self, Ticket};
use crate::writer::{Msg, Writer};

/// Options beyond the config file.
#[derive(Clone)]
pub struct SinkOptions {
    /// Time source for timestamps of meta records and rotation (default: the system clock).
    pub clock: Arc<dyn Clock>,
    /// Called on every health transition (emit `AuditDegraded` from here).
    pub on_health: Option<HealthHook>,
    /// Fault injection for tests and drills (default none).
    pub fault: Option<FaultHook>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self { clock: Arc::new(SystemClock), on_health: None, fault: None }
    }
}

impl std::fmt::Debug for SinkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkOptions")
            .field("clock", &self.clock)
            .field("on_health", &self.on_health.is_some())
            .field("fault", &self.fault.is_some())
            .finish()
    }
}

/// The file audit sink. Cheap to clone; every clone feeds the same writer.
#[derive(Clone)]
pub struct FileAuditSink {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    params: hmac::Key,
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
    /// Start the writer thread on `config.log_path(data_dir)` with the system clock.
    pub fn start(config: &AuditLogConfig, data_dir: &Path, key: AuditKey) -> Result<(Self, WriterHandle), AuditError> {
        Self::start_with(config, data_dir, key, SinkOptions::default())
    }

    /// Start with explicit [`SinkOptions`]. Fails when the log is locked by another writer,
    /// cannot be created, was written with another key, or ends in a damaged record.
    pub fn start_with(
        config: &AuditLogConfig,
        data_dir: &Path,
        key: AuditKey,
        options: SinkOptions,
    ) -> Result<(Self, WriterHandle), AuditError> {
        config.validate()?;
        let paths = LogPaths::new(&config.log_path(data_dir))?;
        crate::files::ensure_dir(&paths.dir)?;
        let lock = paths.writer_lock()?;
        let now = options.clock.now();
        let (mut log, cut) = LogFile::open(paths.clone(), key.clone(), now, lock, options.fault.clone())?;
        let mut tentative = log.committed;
        let mut buf = Vec::new();
        if cut > 0 {
            crate::logfile::encode_meta(&key, &mut tentative, &Meta::Recovery { truncated_bytes: cut }, now, &mut buf);
            log.append(&buf, 1, tentative)
                .and_then(|()| log.sync())
                .map_err(|e| AuditError::io(&paths.active, "write", e))?;
            buf.clear();
        }
        let shared = Arc::new(Shared::new(
            config.on_failure,
            mask(&config.events, EventClass::bit),
            mask(&config.include, Field::bit),
            options.on_health.clone(),
        ));
        let (tx, rx) = sync_channel(config.queue_capacity);
        let writer = Writer {
            log,
            shared: shared.clone(),
            rx,
            clock: options.clock.clone(),
            fsync: config.fsync,
            rotate_size: config.rotate_size_bytes,
            rotate_interval: (config.rotate_interval_secs > 0)
                .then(|| Duration::from_secs(config.rotate_interval_secs)),
            retry: config.retry_interval(),
            salts: Salts::new(),
            buf,
            scratch: Vec::new(),
            path: paths.active.clone(),
            lines: 0,
            tentative,
            waiters: Vec::new(),
            unsynced: false,
            last_sync: Instant::now(),
            failing: false,
            next_retry: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("mcp-audit-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| AuditError::io(&paths.active, "start the writer thread for", e))?;
        let sink = Self {
            tx: tx.clone(),
            shared: shared.clone(),
            params: key.params_key().clone(),
            fsync: config.fsync,
            paths,
            clock: options.clock,
        };
        Ok((sink, WriterHandle { tx, thread: Some(thread), shared }))
    }

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
        match self.tx.try_send(msg) {
            Ok(()) => {
                bump(&s.counters.accepted, 1);
                s.clear(QUEUE_FULL);
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

    fn is_failing_closed(&self) -> bool {
        self.shared.policy == OnFailure::FailClosed && self.shared.flags() != 0
    }

    fn params_hash(&self, params: &serde_json::Value) -> Option<[u8; 32]> {
        if self.shared.include & Field::ParamsHash.bit() == 0 {
            return None;
        }
        Some(keyed_params_hash(&self.params, params))
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        let (c, t) = ticket::ticket();
        match self.tx.try_send(Msg::Flush(c)) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => {
                // Queue full: hand the blocking send to a helper thread instead of blocking here.
                let tx = self.tx.clone();
                let _ = std::thread::Builder::new().name("mcp-audit-flush".into()).spawn(move || {
                    let _ = tx.send(msg);
                });
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
        Box::pin(async move { t.await.map_err(|_| UNAVAILABLE) })
    }
}

/// Owns the writer thread. [`shutdown`](Self::shutdown) (or dropping it) writes everything
/// accepted so far plus a `shutdown` record, syncs, and joins the thread; records offered after
/// that are refused (`fail_closed`) or dropped (`fail_open`).
#[derive(Debug)]
pub struct WriterHandle {
    tx: SyncSender<Msg>,
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl WriterHandle {
    /// Drain the queue, write a shutdown record, sync, join the writer; returns the final counters.
    pub fn shutdown(mut self) -> Result<AuditStats, AuditError> {
        let r = self.stop();
        r.map(|()| self.shared.stats())
    }

    fn stop(&mut self) -> Result<(), AuditError> {
        let Some(thread) = self.thread.take() else { return Ok(()) };
        let (c, t) = ticket::ticket();
        let _ = self.tx.send(Msg::Shutdown(c));
        let r = t.wait();
        let _ = thread.join();
        r
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
