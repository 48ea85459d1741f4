//! Starting the sink: [`SinkOptions`], the writer thread, and [`WriterHandle`] which stops it.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::{Duration, Instant};

use mcp_core::{Clock, SystemClock};

use super::FileAuditSink;
use crate::body::Salts;
use crate::config::AuditLogConfig;
use crate::error::AuditError;
use crate::files::LogPaths;
use crate::key::AuditKey;
use crate::logfile::LogFile;
use crate::meta::{Meta, encode_meta};
use crate::select::{EventClass, Field, mask};
use crate::shared::{AuditStats, FaultHook, HealthHook, Shared};
use crate::ticket;
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
    /// Earlier versions of the key (a rotated `key_secret`): an active file written with one of
    /// them is closed and the log continues in a new file with the current key, instead of
    /// refusing to start. Default none.
    pub previous_keys: Vec<AuditKey>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self { clock: Arc::new(SystemClock), on_health: None, fault: None, previous_keys: Vec::new() }
    }
}

impl std::fmt::Debug for SinkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkOptions")
            .field("clock", &self.clock)
            .field("on_health", &self.on_health.is_some())
            .field("fault", &self.fault.is_some())
            .field("previous_keys", &self.previous_keys)
            .finish()
    }
}

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
        let (mut log, cut) = LogFile::open_rolling(
            paths.clone(),
            key.clone(),
            &options.previous_keys,
            now,
            lock,
            options.fault.clone(),
        )?;
        let mut tentative = log.committed;
        let mut buf = Vec::new();
        if cut > 0 {
            encode_meta(&key, &mut tentative, &Meta::Recovery { truncated_bytes: cut }, now, &mut buf);
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
            ts: crate::util::TsCache::default(),
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
        let _ = shared.writer.set(thread.thread().clone());
        let sink = Self {
            tx: tx.clone(),
            shared: shared.clone(),
            params: Arc::new(std::sync::RwLock::new(key.params_key().clone())),
            fsync: config.fsync,
            paths,
            clock: options.clock,
        };
        Ok((sink, WriterHandle { tx, thread: Some(thread), shared }))
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
        self.shared.wake();
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
