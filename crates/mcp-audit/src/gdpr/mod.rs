//! GDPR operations on a log, keeping it verifiable: erasure of one client's records
//! (tombstones that keep digest and chain), export of one client's records as one JSON
//! document, and retention purge of whole rotated files (accounted for by a chained purge
//! record).
//!
//! Each operation exists twice: as a free function for a log that no server is writing (the CLI
//! with the server stopped; it refuses with [`AuditError::WriterActive`](crate::AuditError)
//! otherwise), and as a method of [`FileAuditSink`](crate::FileAuditSink) that runs inside the
//! server, coordinating with its writer thread. Export only reads and works either way.

mod erase;
mod export;
mod purge;

pub use erase::{EraseReport, erase_client};
pub use export::{EXPORT_FORMAT, export_client};
pub use purge::{PurgeReport, purge_older_than};

use std::fs::File;
use std::time::SystemTime;

use crate::error::AuditError;
use crate::files::LogPaths;
use crate::key::AuditKey;
use crate::logfile::LogFile;
use crate::meta::{Meta, encode_meta};

/// Open the active file of a log no server is writing (we hold its writer `lock`), creating it
/// if needed; returns it and the bytes of an incomplete tail that were cut off.
fn open_offline(paths: &LogPaths, key: &AuditKey, now: SystemTime, lock: File) -> Result<(LogFile, u64), AuditError> {
    LogFile::open(paths.clone(), key.clone(), now, lock, None)
}

/// Append `meta` (after a recovery record when `cut` > 0) and sync.
fn append_offline(log: &mut LogFile, cut: u64, now: SystemTime, meta: &Meta) -> Result<(), AuditError> {
    let key = log.key().clone();
    let mut state = log.committed;
    let mut buf = Vec::new();
    let mut lines = 1;
    if cut > 0 {
        encode_meta(&key, &mut state, &Meta::Recovery { truncated_bytes: cut }, now, &mut buf);
        lines += 1;
    }
    encode_meta(&key, &mut state, meta, now, &mut buf);
    log.append(&buf, lines, state).and_then(|()| log.sync()).map_err(|e| AuditError::io(log.path(), "write", e))
}
