//! What verification reports: the problem found, where, and a summary of a sound log.

use std::fmt;
use std::path::PathBuf;

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
    /// The active file was being written during verification and its last, incomplete line was
    /// left out (a record in the middle of being appended, not a truncation).
    pub in_progress: bool,
    /// No writer holds the log and its newest file ends in an incomplete line of this many bytes:
    /// a write cut short by a crash, never acknowledged, left out of the check. The next writer
    /// start cuts it off and records a `recovery`.
    pub torn_tail_bytes: Option<u64>,
}
