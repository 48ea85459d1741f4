//! Erasure: every record of one client becomes a tombstone (header, `"erased":true`, digest,
//! chain). The body, with the client id, peer, parameters digest and the random salt, is gone;
//! the salt makes the digest useless for guessing the body back. The chain still verifies.

use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::files::{LogPaths, replace_atomic};
use crate::key::AuditKey;
use crate::line::{json_str, parse, tombstone};
use crate::meta::Meta;
use crate::reader::{Lines, Meter, Progress};
use crate::sink::FileAuditSink;

/// What an erasure did (counts only: the subject is not recorded anywhere).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EraseReport {
    /// Records replaced by tombstones.
    pub records_erased: u64,
    /// Files rewritten (atomically: temporary file, fsync, rename).
    pub files_rewritten: u64,
    /// Files scanned.
    pub files_scanned: u64,
}

/// Erase `client_id` from a log no server is writing (`active` is the active file path), then
/// append an `erasure` record holding only the counts.
pub fn erase_client(
    active: &Path,
    client_id: &str,
    key: &AuditKey,
    now: std::time::SystemTime,
    progress: &mut dyn FnMut(Progress),
) -> Result<EraseReport, AuditError> {
    let paths = LogPaths::new(active)?;
    let lock = paths.writer_lock()?;
    let _maintenance = paths.maintenance_lock()?;
    let report = erase_in(&paths.all_files()?, client_id, progress)?;
    let meta = Meta::Erasure { records: report.records_erased, files: report.files_rewritten };
    let (mut log, cut) = super::open_offline(&paths, key, now, lock)?;
    super::append_offline(&mut log, cut, now, &meta)?;
    Ok(report)
}

impl FileAuditSink {
    /// Erase `client_id` while this sink's writer runs: the active file is rotated first so that
    /// every record written before the call is in a closed file, those files are rewritten, and an
    /// `erasure` record with the counts is appended and synced. Blocking: call it from a blocking
    /// thread.
    pub fn erase_client(&self, client_id: &str, progress: &mut dyn FnMut(Progress)) -> Result<EraseReport, AuditError> {
        let _maintenance = self.paths.maintenance_lock()?;
        self.rotate()?;
        let files: Vec<PathBuf> = self.paths.rotated()?.into_iter().map(|r| r.path).collect();
        let report = erase_in(&files, client_id, progress)?;
        self.append_meta(Meta::Erasure { records: report.records_erased, files: report.files_rewritten })?;
        Ok(report)
    }
}

fn body_client(body: &serde_json::Value) -> Option<&str> {
    body.get("client_id").and_then(|v| v.as_str())
}

/// Rewrite each file holding records of `client_id`, replacing them by tombstones.
pub(crate) fn erase_in(
    files: &[PathBuf],
    client_id: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<EraseReport, AuditError> {
    let mut needle = b"\"client_id\":".to_vec();
    json_str(client_id, &mut needle);
    let mut meter = Meter::new(files, progress);
    let mut report = EraseReport::default();
    for path in files {
        report.files_scanned += 1;
        let mut out = Vec::new();
        let mut erased = 0;
        let mut lines = Lines::open(path)?;
        while let Some(raw) = lines.next_line()? {
            meter.line(raw.len);
            let text = raw.text.map_err(|_| AuditError::corrupt(path, raw.number, "not UTF-8"))?;
            let hit = raw.terminated && memfind(text.as_bytes(), &needle);
            if !hit {
                out.extend_from_slice(text.as_bytes());
                if raw.terminated {
                    out.push(b'\n');
                }
                continue;
            }
            let parsed = parse(&text).map_err(|e| AuditError::corrupt(path, raw.number, e))?;
            let matches = parsed
                .line
                .body
                .and_then(|b| serde_json::from_str::<serde_json::Value>(b.get()).ok())
                .is_some_and(|b| body_client(&b) == Some(client_id));
            if !matches {
                out.extend_from_slice(text.as_bytes());
                out.push(b'\n');
                continue;
            }
            if !parsed.body_matches() {
                return Err(AuditError::corrupt(path, raw.number, "the record does not match its digest (tampered?)"));
            }
            out.extend_from_slice(&tombstone(&parsed));
            erased += 1;
        }
        if erased > 0 {
            replace_atomic(path, &out)?;
            report.records_erased += erased;
            report.files_rewritten += 1;
        }
        meter.report();
    }
    Ok(report)
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
