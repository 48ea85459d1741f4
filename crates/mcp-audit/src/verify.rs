//! Verification of a log: every body against its digest, every line against the chain, files in
//! index order with anchors that continue the chain, and gaps only where a purge record (itself
//! chained) accounts for them.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::AuditError;
use crate::key::AuditKey;
use crate::line::{self, ChainState};
use crate::logfile::read_anchor;
use crate::meta::{self, Purge};
use crate::reader::{Lines, Meter, Progress};

/// What is wrong with a log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The line is not a record.
    Malformed(String),
    /// The file ends in the middle of a record.
    Truncated,
    /// The body does not match its digest: the record was modified.
    BodyModified,
    /// The chain value does not follow from the previous record: the record's header, digest or
    /// chain was modified, or a record was forged or inserted.
    ChainBroken,
    /// Records are missing: the sequence jumps.
    RecordsMissing {
        /// The sequence number expected here.
        expected_seq: u64,
        /// The one found.
        found_seq: u64,
    },
    /// Records are out of order or repeated.
    Reordered {
        /// The sequence number expected here.
        expected_seq: u64,
        /// The one found.
        found_seq: u64,
    },
    /// The first line of the file is not an anchor, or an anchor appears later.
    Anchor(String),
    /// Whole files are missing between two files (or before the first) and no purge record
    /// accounts for them.
    FilesMissing {
        /// Index of the last file present before the gap, if any.
        after: Option<u64>,
        /// Index of the file after the gap.
        next: u64,
    },
    /// Two files claim the same index.
    DuplicateFile(u64),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "malformed record: {e}"),
            Self::Truncated => f.write_str("truncated: the file ends inside a record"),
            Self::BodyModified => f.write_str("record modified: its body does not match its digest"),
            Self::ChainBroken => f.write_str("chain broken: the record was modified, forged or inserted"),
            Self::RecordsMissing { expected_seq, found_seq } => {
                write!(f, "records removed: expected seq {expected_seq}, found {found_seq}")
            }
            Self::Reordered { expected_seq, found_seq } => {
                write!(f, "records reordered or repeated: expected seq {expected_seq}, found {found_seq}")
            }
            Self::Anchor(e) => write!(f, "bad anchor: {e}"),
            Self::FilesMissing { after: Some(a), next } => {
                write!(f, "files removed: index {a} is followed by index {next}")
            }
            Self::FilesMissing { after: None, next } => write!(
                f,
                "files removed: the oldest file present has index {next} and no purge record accounts for the earlier ones"
            ),
            Self::DuplicateFile(i) => write!(f, "two files claim index {i}"),
        }
    }
}

/// Where verification failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit log {} line {}: {}", self.path.display(), self.line, self.problem)
    }
}

/// One verified file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its index in the chain of files.
    pub file_index: u64,
    /// Lines, anchor included.
    pub lines: u64,
    /// Sequence numbers of its first and last lines.
    pub seq: (u64, u64),
}

/// The result of a successful verification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Files in chain order.
    pub files: Vec<FileReport>,
    /// Lines verified.
    pub records: u64,
    /// Erased records (tombstones) among them.
    pub erased: u64,
    /// Files before this index were removed by a retention purge that a purge record accounts for.
    pub purged_before: Option<u64>,
    /// Recovery records (an incomplete tail was cut off after a crash).
    pub recoveries: u64,
    /// The last record is a clean `shutdown` (false while a server writes, or after a crash).
    pub clean_shutdown: bool,
}

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
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let first = crate::files::read_first_line(path)?
            .ok_or_else(|| fail(path, 1, Problem::Anchor("the file has no complete first line".into())))?;
        let (_, anchor, _) = read_anchor(path, &first).map_err(|e| fail(path, 1, Problem::Anchor(e.to_string())))?;
        if anchor.key_id != key.key_id() {
            return Err(AuditError::WrongKey { path: path.clone(), expected: key.key_id(), found: anchor.key_id });
        }
        files.push((anchor.file_index, path.clone()));
    }
    files.sort_by_key(|f| f.0);
    if let Some(w) = files.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(fail(&w[1].1, 1, Problem::DuplicateFile(w[1].0)));
    }
    let ordered: Vec<PathBuf> = files.iter().map(|f| f.1.clone()).collect();
    let mut meter = Meter::new(&ordered, progress);
    let mut report = VerifyReport::default();
    let mut purges: Vec<Purge> = Vec::new();
    let mut state: Option<(u64, ChainState)> = None;
    let mut needs_purge: Option<(u64, String)> = None;
    let mut last_kind = String::new();
    for (index, path) in &files {
        let mut lines = Lines::open(path)?;
        let mut file = FileReport { path: path.clone(), file_index: *index, lines: 0, seq: (0, 0) };
        while let Some(raw) = lines.next_line()? {
            let n = raw.number;
            let last = lines.peek()?.is_none();
            let text = raw.text.map_err(|_| fail(path, n, Problem::Malformed("not UTF-8".into())))?;
            let parsed = match line::parse(&text) {
                Ok(p) if raw.terminated => p,
                _ if last && !raw.terminated => return Err(fail(path, n, Problem::Truncated)),
                Ok(_) => return Err(fail(path, n, Problem::Truncated)),
                Err(e) => return Err(fail(path, n, Problem::Malformed(e))),
            };
            let seq = parsed.line.seq;
            let is_anchor = parsed.line.kind == meta::ANCHOR;
            if (n == 1) != is_anchor {
                let what = if n == 1 { "the first line is not an anchor" } else { "an anchor inside a file" };
                return Err(fail(path, n, Problem::Anchor(what.into())));
            }
            let prev = if n == 1 {
                let body = parsed.line.body.map(|b| b.get()).unwrap_or("");
                let anchor = meta::parse_anchor(body).map_err(|e| fail(path, 1, Problem::Anchor(e)))?;
                let anchor_prev = crate::util::unhex::<32>(&anchor.prev_chain)
                    .ok_or_else(|| fail(path, 1, Problem::Anchor("prev_chain is not hex".into())))?;
                match state {
                    Some((i, _)) if i + 1 != *index => {
                        return Err(fail(path, 1, Problem::FilesMissing { after: Some(i), next: *index }));
                    }
                    Some((_, st)) if st.next_seq != seq && seq > st.next_seq => {
                        return Err(fail(
                            path,
                            1,
                            Problem::RecordsMissing { expected_seq: st.next_seq, found_seq: seq },
                        ));
                    }
                    Some((_, st)) if st.next_seq != seq || st.prev != anchor_prev => {
                        return Err(fail(path, 1, Problem::ChainBroken));
                    }
                    Some(_) => {}
                    None if *index == 0 && anchor_prev == [0; 32] && seq == 0 => {}
                    None => needs_purge = Some((*index, anchor.prev_chain.clone())),
                }
                file.seq.0 = seq;
                ChainState { next_seq: seq, prev: anchor_prev }
            } else {
                state.map(|s| s.1).unwrap_or(ChainState::GENESIS)
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
            if parsed.expected_chain(key.chain_key(), &prev.prev) != parsed.chain {
                return Err(fail(path, n, Problem::ChainBroken));
            }
            report.erased += u64::from(parsed.line.erased);
            match (parsed.line.kind.as_ref(), parsed.line.body) {
                (meta::PURGE, Some(b)) => {
                    purges.push(meta::parse_purge(b.get()).map_err(|e| fail(path, n, Problem::Malformed(e)))?)
                }
                (meta::RECOVERY, _) => report.recoveries += 1,
                _ => {}
            }
            last_kind.clear();
            last_kind.push_str(&parsed.line.kind);
            state = Some((*index, ChainState { next_seq: seq + 1, prev: parsed.chain }));
            file.lines += 1;
            file.seq.1 = seq;
            report.records += 1;
            meter.line(raw.len);
        }
        if file.lines == 0 {
            return Err(fail(path, 1, Problem::Anchor("the file is empty".into())));
        }
        report.files.push(file);
        meter.report();
    }
    if let Some((index, prev_chain)) = needs_purge {
        let covered = purges.iter().any(|p| p.through_file_index + 1 == index && p.through_chain == prev_chain);
        if !covered {
            let path = files.first().map(|f| f.1.clone()).unwrap_or_default();
            return Err(fail(&path, 1, Problem::FilesMissing { after: None, next: index }));
        }
        report.purged_before = Some(index);
    }
    report.clean_shutdown = last_kind == meta::SHUTDOWN;
    Ok(report)
}
