//! Retention purge: whole rotated files whose rotation time is older than the window are
//! deleted, oldest first. A `purge` record naming them and the chain value they ended with is
//! written (and synced) *before* deletion, so `verify` accepts the gap, and a crash in between
//! leaves files that are merely still there.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::AuditError;
use crate::files::{self, LogPaths, Rotated};
use crate::key::AuditKey;
use crate::line::parse;
use crate::meta::{Meta, Purge, read_anchor};
use crate::reader::{Meter, Progress};
use crate::sink::FileAuditSink;
use crate::util::{hex, rfc3339_millis};

/// What a purge removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Files deleted.
    pub files_removed: Vec<PathBuf>,
    /// Lines they held (anchors included).
    pub records_removed: u64,
    /// Their total size.
    pub bytes_removed: u64,
}

/// Purge rotated files older than `days` (before `now`) from a log no server is writing.
pub fn purge_older_than(
    active: &Path,
    key: &AuditKey,
    days: u32,
    now: SystemTime,
    progress: &mut dyn FnMut(Progress),
) -> Result<PurgeReport, AuditError> {
    let paths = LogPaths::new(active)?;
    let lock = paths.writer_lock()?;
    let _maintenance = paths.maintenance_lock()?;
    let (mut log, cut) = super::open_offline(&paths, key, now, lock)?;
    let Some(plan) = plan(&paths, days, now)? else { return Ok(PurgeReport::default()) };
    super::append_offline(&mut log, cut, now, &Meta::Purge(plan.meta.clone()))?;
    execute(&paths, plan, progress)
}

impl FileAuditSink {
    /// Purge rotated files older than `days` while this sink's writer runs (the purge record goes
    /// through the writer and is synced before any file is deleted). Blocking: call it from a
    /// blocking thread, on a schedule and for `mcp-server gdpr purge`.
    pub fn purge_older_than(&self, days: u32, progress: &mut dyn FnMut(Progress)) -> Result<PurgeReport, AuditError> {
        let _maintenance = self.paths.maintenance_lock()?;
        let Some(plan) = plan(&self.paths, days, self.clock.now())? else { return Ok(PurgeReport::default()) };
        self.append_meta(Meta::Purge(plan.meta.clone()))?;
        execute(&self.paths, plan, progress)
    }
}

struct Plan {
    files: Vec<Rotated>,
    meta: Purge,
    records: u64,
}

fn plan(paths: &LogPaths, days: u32, now: SystemTime) -> Result<Option<Plan>, AuditError> {
    let cutoff = now.checked_sub(Duration::from_secs(u64::from(days) * 86_400)).unwrap_or(SystemTime::UNIX_EPOCH);
    let rotated = paths.rotated()?;
    let count = rotated.iter().take_while(|r| r.rotated_at < cutoff).count();
    if count == 0 {
        return Ok(None);
    }
    let (old, rest) = rotated.split_at(count);
    let (Some(first), Some(last)) = (old.first(), old.last()) else { return Ok(None) };
    let tail = files::read_tail(&last.path)?;
    let last_line = match (tail.last_line, tail.partial) {
        (Some(l), 0) => l,
        _ => return Err(AuditError::corrupt(&last.path, 0, "rotated file does not end with a complete record")),
    };
    let end = parse(&last_line).map_err(|e| AuditError::corrupt(&last.path, 0, e))?;
    // The file after the purged ones must continue exactly where they end: never let a purge
    // hide a break.
    let next = rest.first().map(|r| r.path.clone()).unwrap_or_else(|| paths.active.clone());
    let next_first = files::read_first_line(&next)?.unwrap_or_default();
    let (_, anchor, anchor_seq) = read_anchor(&next, &next_first)?;
    if anchor.prev_chain != hex(&end.chain) || anchor_seq != end.line.seq + 1 {
        return Err(AuditError::corrupt(
            &next,
            1,
            "does not continue the chain of the files to purge; refusing to purge",
        ));
    }
    let first_line = files::read_first_line(&first.path)?.unwrap_or_default();
    let (_, _, first_seq) = read_anchor(&first.path, &first_line)?;
    let meta = Purge {
        cutoff: rfc3339_millis(cutoff),
        removed_files: old
            .iter()
            .map(|r| r.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect(),
        through_chain: hex(&end.chain),
        through_file_index: last.index,
        through_seq: end.line.seq,
    };
    Ok(Some(Plan { files: old.to_vec(), meta, records: end.line.seq + 1 - first_seq }))
}

fn execute(paths: &LogPaths, plan: Plan, progress: &mut dyn FnMut(Progress)) -> Result<PurgeReport, AuditError> {
    let list: Vec<PathBuf> = plan.files.iter().map(|r| r.path.clone()).collect();
    let mut meter = Meter::new(&list, progress);
    let mut report = PurgeReport { records_removed: plan.records, ..PurgeReport::default() };
    for path in list {
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        std::fs::remove_file(&path).map_err(|e| AuditError::io(&path, "delete", e))?;
        meter.progress.bytes += len;
        meter.report();
        report.bytes_removed += len;
        report.files_removed.push(path);
    }
    meter.progress.records = plan.records;
    meter.report();
    files::sync_dir(&paths.dir)?;
    Ok(report)
}
