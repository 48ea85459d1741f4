//! Verification of a log: every body against its digest, every line against the chain, files in
//! index order with anchors that continue the chain, and gaps only where a purge record (itself
//! chained) accounts for them.

use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::key::AuditKey;
use crate::line::{self, ChainState};
use crate::meta::{self, Purge, read_anchor};
use crate::reader::{Lines, Meter, Progress};

mod report;

pub use report::{FileReport, Problem, VerifyFailure, VerifyReport};

fn fail(path: &Path, line: u64, problem: Problem) -> AuditError {
    AuditError::Tampered(Box::new(VerifyFailure { path: path.to_owned(), line, problem }))
}

/// Every file of the log whose active file is `active`: rotated files oldest first, then the
/// active file. What `mcp-server audit verify` checks when given the log's path.
pub fn log_files(active: &Path) -> Result<Vec<PathBuf>, AuditError> {
    crate::files::LogPaths::new(active)?.all_files()
}

/// Verify `paths` (in any order; they are put in chain order by their anchors) with `key`.
/// Returns the first problem as [`AuditError::Tampered`] (with file and line), or
/// [`AuditError::WrongKey`] when the files were written with another key.
pub fn verify(
    paths: &[PathBuf],
    key: &AuditKey,
    progress: &mut dyn FnMut(Progress),
) -> Result<VerifyReport, AuditError> {
    verify_with_keys(paths, std::slice::from_ref(key), progress)
}

/// [`verify`] a log written with several keys (the audit key was rotated): each file is checked
/// with the key its anchor names, looked up by key id in `keys` (the current key and the
/// earlier versions still kept). The chain runs across the key change: the first file of a new
/// key starts from the last chain value of the previous file. A file whose key is not in `keys`
/// is [`AuditError::WrongKey`].
pub fn verify_with_keys(
    paths: &[PathBuf],
    keys: &[AuditKey],
    progress: &mut dyn FnMut(Progress),
) -> Result<VerifyReport, AuditError> {
    let files = chain_order(paths, keys)?;
    let ordered: Vec<PathBuf> = files.iter().map(|f| f.1.clone()).collect();
    let mut meter = Meter::new(&ordered, progress);
    let final_index = files.last().map(|f| f.0);
    let Some(first_key) = files.first().map(|f| f.2) else {
        return Ok(VerifyReport::default());
    };
    let mut v = Verifier {
        key: first_key,
        state: None,
        purges: Vec::new(),
        needs_purge: None,
        final_index,
        report: VerifyReport::default(),
    };
    let mut last_kind = String::new();
    for (index, path, key) in &files {
        v.key = key;
        let file = v.file(*index, path, &mut meter, &mut last_kind)?;
        v.report.files.push(file);
        meter.report();
    }
    if let Some((index, seq, prev_chain)) = v.needs_purge.take() {
        let covered = v
            .purges
            .iter()
            .any(|p| p.through_file_index + 1 == index && p.through_seq + 1 == seq && p.through_chain == prev_chain);
        if !covered {
            let path = files.first().map(|f| f.1.clone()).unwrap_or_default();
            return Err(fail(&path, 1, Problem::FilesMissing { after: None, next: index }));
        }
        v.report.purged_before = Some(index);
    }
    v.report.clean_shutdown = last_kind == meta::SHUTDOWN;
    Ok(v.report)
}

/// The files with their indexes and keys, sorted by index; each must open with an anchor for
/// one of `keys`.
fn chain_order<'k>(paths: &[PathBuf], keys: &'k [AuditKey]) -> Result<Vec<(u64, PathBuf, &'k AuditKey)>, AuditError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let first = crate::files::read_first_line(path)?
            .ok_or_else(|| fail(path, 1, Problem::Anchor("the file has no complete first line".into())))?;
        let (_, anchor, _) = read_anchor(path, &first).map_err(|e| fail(path, 1, Problem::Anchor(e.to_string())))?;
        let Some(key) = keys.iter().find(|k| k.key_id() == anchor.key_id) else {
            let expected = keys.iter().map(AuditKey::key_id).collect::<Vec<_>>().join(", ");
            return Err(AuditError::WrongKey { path: path.clone(), expected, found: anchor.key_id });
        };
        files.push((anchor.file_index, path.clone(), key));
    }
    files.sort_by_key(|f| f.0);
    if let Some(w) = files.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(fail(&w[1].1, 1, Problem::DuplicateFile(w[1].0)));
    }
    Ok(files)
}

struct Verifier<'k> {
    key: &'k AuditKey,
    /// Index of the last file verified and the chain state after it.
    state: Option<(u64, ChainState)>,
    purges: Vec<Purge>,
    /// The first file does not start the log: (its index, its anchor's seq, its prev_chain).
    needs_purge: Option<(u64, u64, String)>,
    /// Index of the newest file: the only one whose unterminated last line is a crash's torn
    /// write rather than damage.
    final_index: Option<u64>,
    report: VerifyReport,
}

impl Verifier<'_> {
    fn file(
        &mut self,
        index: u64,
        path: &Path,
        meter: &mut Meter<'_>,
        last_kind: &mut String,
    ) -> Result<FileReport, AuditError> {
        let mut lines = Lines::open(path)?;
        let mut file = FileReport { path: path.to_owned(), file_index: index, lines: 0, seq: (0, 0) };
        while let Some(raw) = lines.next_line()? {
            let n = raw.number;
            let last = lines.peek()?.is_none();
            if last && !raw.terminated && n > 1 && crate::files::LogPaths::new(path).is_ok_and(|p| p.is_live()) {
                // A running writer is appending this line right now.
                self.report.in_progress = true;
                break;
            }
            if last && !raw.terminated && n > 1 && self.final_index == Some(index) {
                // A write cut short by a crash (kill -9, power cut): the writer acknowledges a
                // record only after writing its newline (and fsyncing under `every_record`), so
                // this record was never acknowledged. The next start cuts it off and writes a
                // `recovery` record. Cutting records off the end at a line boundary cannot be
                // detected either, so failing here would protect nothing.
                self.report.torn_tail_bytes = Some(raw.len as u64);
                break;
            }
            let text = raw.text.map_err(|_| fail(path, n, Problem::Malformed("not UTF-8".into())))?;
            let parsed = match line::parse(&text) {
                Ok(p) if raw.terminated => p,
                _ if last && !raw.terminated => return Err(fail(path, n, Problem::Truncated)),
                Ok(_) => return Err(fail(path, n, Problem::Truncated)),
                Err(e) => return Err(fail(path, n, Problem::Malformed(e))),
            };
            let seq = parsed.line.seq;
            if (n == 1) != (parsed.line.kind == meta::ANCHOR) {
                let what = if n == 1 { "the first line is not an anchor" } else { "an anchor inside a file" };
                return Err(fail(path, n, Problem::Anchor(what.into())));
            }
            let prev = if n == 1 {
                file.seq.0 = seq;
                self.anchor(index, path, &parsed)?
            } else {
                self.state.map(|s| s.1).unwrap_or(ChainState::GENESIS)
            };
            if seq != prev.next_seq {
                let next_is_expected = lines
                    .peek()?
                    .and_then(|l| l.text.as_ref().ok())
                    .and_then(|t| line::parse(t).ok().map(|p| p.line.seq == prev.next_seq));
                let (expected_seq, found_seq) = (prev.next_seq, seq);
                let problem = if seq > prev.next_seq && next_is_expected != Some(true) {
                    Problem::RecordsMissing { expected_seq, found_seq }
                } else {
                    Problem::Reordered { expected_seq, found_seq }
                };
                return Err(fail(path, n, problem));
            }
            if !parsed.body_matches() {
                return Err(fail(path, n, Problem::BodyModified));
            }
            if parsed.expected_chain(self.key.chain_key(), &prev.prev) != parsed.chain {
                return Err(fail(path, n, Problem::ChainBroken));
            }
            self.report.erased += u64::from(parsed.line.erased);
            match (parsed.line.kind.as_ref(), parsed.line.body) {
                (meta::PURGE, Some(b)) => {
                    let purge = meta::parse_purge(b.get()).map_err(|e| fail(path, n, Problem::Malformed(e)))?;
                    self.purges.push(purge);
                }
                (meta::RECOVERY, _) => self.report.recoveries += 1,
                _ => {}
            }
            last_kind.clear();
            last_kind.push_str(&parsed.line.kind);
            self.state = Some((index, ChainState { next_seq: seq + 1, prev: parsed.chain }));
            file.lines += 1;
            file.seq.1 = seq;
            self.report.records += 1;
            meter.line(raw.len);
        }
        if file.lines == 0 {
            return Err(fail(path, 1, Problem::Anchor("the file is empty".into())));
        }
        Ok(file)
    }

    /// Check that the anchor of file `index` continues the previous file (or starts the log, or
    /// follows purged files); returns the chain state its own chain value is computed from.
    fn anchor(&mut self, index: u64, path: &Path, parsed: &line::Parsed<'_>) -> Result<ChainState, AuditError> {
        let seq = parsed.line.seq;
        let body = parsed.line.body.map(|b| b.get()).unwrap_or("");
        let anchor = meta::parse_anchor(body).map_err(|e| fail(path, 1, Problem::Anchor(e)))?;
        let prev = crate::util::unhex::<32>(&anchor.prev_chain)
            .ok_or_else(|| fail(path, 1, Problem::Anchor("prev_chain is not hex".into())))?;
        match self.state {
            Some((i, _)) if i + 1 != index => {
                return Err(fail(path, 1, Problem::FilesMissing { after: Some(i), next: index }));
            }
            Some((_, st)) if seq > st.next_seq => {
                return Err(fail(path, 1, Problem::RecordsMissing { expected_seq: st.next_seq, found_seq: seq }));
            }
            Some((_, st)) if seq < st.next_seq => {
                return Err(fail(path, 1, Problem::Reordered { expected_seq: st.next_seq, found_seq: seq }));
            }
            Some((_, st)) if st.prev != prev => return Err(fail(path, 1, Problem::ChainBroken)),
            Some(_) => {}
            None if index == 0 && prev == [0; 32] && seq == 0 => {}
            None => self.needs_purge = Some((index, seq, anchor.prev_chain.clone())),
        }
        Ok(ChainState { next_seq: seq, prev })
    }
}
