//! Records the log writes about itself: the anchor opening every file, purge and erasure notes,
//! recovery after a crash, and a clean shutdown. None carries personal data.

use std::path::Path;
use std::time::SystemTime;

use serde::Deserialize;
use serde_json::json;

use crate::error::AuditError;
use crate::key::AuditKey;
use crate::line::{self, ChainState};
use crate::util::{hex, parse_rfc3339_millis, rfc3339_millis, unhex};

/// Format tag written into every anchor.
pub(crate) const FORMAT: &str = "mcp-audit/1";

/// `type` of the first line of every file.
pub(crate) const ANCHOR: &str = "anchor";
/// `type` of a retention purge note.
pub(crate) const PURGE: &str = "purge";
/// `type` of an erasure note.
pub(crate) const ERASURE: &str = "erasure";
/// `type` of a note that an incomplete tail was cut off at startup.
pub(crate) const RECOVERY: &str = "recovery";
/// `type` of the last record a cleanly stopped writer writes.
pub(crate) const SHUTDOWN: &str = "shutdown";

/// A record the log writes about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Meta {
    /// Opens a file.
    Anchor(Anchor),
    /// Files before `through_file_index` were deleted by retention.
    Purge(Purge),
    /// Records of one subject were erased (counts only, never the subject).
    Erasure {
        /// Records replaced by tombstones.
        records: u64,
        /// Files rewritten.
        files: u64,
    },
    /// An incomplete tail was cut off when the writer started.
    Recovery {
        /// Bytes removed.
        truncated_bytes: u64,
    },
    /// The writer stopped cleanly.
    Shutdown,
}

/// The anchor body.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Anchor {
    pub file_id: String,
    pub file_index: u64,
    pub format: String,
    pub key_id: String,
    pub prev_chain: String,
}

/// The purge body.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Purge {
    /// Oldest time kept.
    pub cutoff: String,
    /// Names of the deleted files.
    pub removed_files: Vec<String>,
    /// Chain value of the last line of the last deleted file.
    pub through_chain: String,
    /// Index of the last deleted file.
    pub through_file_index: u64,
    /// Sequence number of the last deleted line.
    pub through_seq: u64,
}

impl Meta {
    /// The `type` of the record.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Anchor(_) => ANCHOR,
            Self::Purge(_) => PURGE,
            Self::Erasure { .. } => ERASURE,
            Self::Recovery { .. } => RECOVERY,
            Self::Shutdown => SHUTDOWN,
        }
    }

    /// The canonical body.
    pub(crate) fn body(&self) -> Vec<u8> {
        let v = match self {
            Self::Anchor(a) => json!({
                "file_id": a.file_id, "file_index": a.file_index, "format": a.format,
                "key_id": a.key_id, "prev_chain": a.prev_chain,
            }),
            Self::Purge(p) => json!({
                "cutoff": p.cutoff, "removed_files": p.removed_files, "through_chain": p.through_chain,
                "through_file_index": p.through_file_index, "through_seq": p.through_seq,
            }),
            Self::Erasure { records, files } => json!({"records_erased": records, "files_rewritten": files}),
            Self::Recovery { truncated_bytes } => {
                json!({"reason": "incomplete record at the end of the file after a crash", "truncated_bytes": truncated_bytes})
            }
            Self::Shutdown => json!({}),
        };
        let mut out = Vec::with_capacity(192);
        mcp_core::canonical_json(&v, &mut out);
        out
    }
}

impl Anchor {
    /// The anchor of file `file_index` continuing from `prev_chain`.
    pub(crate) fn new(file_index: u64, file_id: &[u8; 8], key_id: String, prev_chain: &[u8; 32]) -> Self {
        Self { file_id: hex(file_id), file_index, format: FORMAT.into(), key_id, prev_chain: hex(prev_chain) }
    }
}

/// Parse a meta body of type `kind` (anchor and purge are the ones anybody reads back).
pub(crate) fn parse_anchor(body: &str) -> Result<Anchor, String> {
    serde_json::from_str(body).map_err(|e| format!("malformed anchor ({e})"))
}

/// Parse a purge body.
pub(crate) fn parse_purge(body: &str) -> Result<Purge, String> {
    serde_json::from_str(body).map_err(|e| format!("malformed purge record ({e})"))
}

/// Append a meta record line for `meta` at `now`, advancing `state`.
pub(crate) fn encode_meta(key: &AuditKey, state: &mut ChainState, meta: &Meta, now: SystemTime, out: &mut Vec<u8>) {
    let ts = rfc3339_millis(now);
    line::write_line(key.chain_key(), state, Some(&ts), meta.kind(), &meta.body(), out);
}

/// Parse a file's first line as its anchor: (start time, anchor, seq of the anchor).
pub(crate) fn read_anchor(path: &Path, first: &str) -> Result<(SystemTime, Anchor, u64), AuditError> {
    let p = line::parse(first).map_err(|e| AuditError::corrupt(path, 1, e))?;
    let body = match (p.line.kind.as_ref(), p.line.body) {
        (ANCHOR, Some(b)) => b,
        _ => return Err(AuditError::corrupt(path, 1, "the first line is not an anchor")),
    };
    let anchor = parse_anchor(body.get()).map_err(|e| AuditError::corrupt(path, 1, e))?;
    if unhex::<32>(&anchor.prev_chain).is_none() {
        return Err(AuditError::corrupt(path, 1, "anchor prev_chain is not 64 hex digits"));
    }
    let at = p.line.ts.as_deref().and_then(parse_rfc3339_millis).unwrap_or(SystemTime::UNIX_EPOCH);
    Ok((at, anchor, p.line.seq))
}
