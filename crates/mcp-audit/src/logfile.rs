//! The active file of a log, opened for appending by exactly one writer (the writer thread, or a
//! maintenance operation while no server runs): resuming the chain where the last file ended,
//! cutting off an incomplete tail left by a crash, appending, syncing and rotating.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::SystemTime;

use ring::rand::{SecureRandom, SystemRandom};

use crate::error::AuditError;
use crate::files::{self, LogPaths};
use crate::key::AuditKey;
use crate::line::{self, ChainState};
use crate::meta::{Anchor, Meta, encode_meta, read_anchor};
use crate::shared::{FaultHook, IoOp};

/// The active file, open for appending.
pub(crate) struct LogFile {
    paths: LogPaths,
    key: AuditKey,
    file: File,
    _lock: File,
    fault: Option<FaultHook>,
    /// Chain state after the last successful append.
    pub committed: ChainState,
    /// File length after the last successful append.
    pub good_len: u64,
    /// Index of the active file (from its anchor).
    pub file_index: u64,
    /// When the active file was started.
    pub opened_at: SystemTime,
    /// Lines after the anchor.
    pub records: u64,
    /// A write failed part-way: cut the file back to `good_len` before the next one.
    dirty: bool,
    /// Renamed away by a rotation whose next file is not created yet.
    orphaned: bool,
}

impl std::fmt::Debug for LogFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFile").field("active", &self.paths.active).field("file_index", &self.file_index).finish()
    }
}

fn state_of(path: &std::path::Path, last_line: &str) -> Result<ChainState, AuditError> {
    let p = line::parse(last_line).map_err(|e| AuditError::corrupt(path, 0, format!("last line: {e}")))?;
    Ok(ChainState { next_seq: p.line.seq + 1, prev: p.chain })
}

impl LogFile {
    /// Open (or start) the active file under the writer `lock`, continuing the chain. Returns the
    /// file and, when an incomplete tail was cut off, how many bytes. An active file written
    /// with one of the `previous` keys (the key was rotated while no writer ran) is closed as a
    /// rotated file and the next one starts with `key`; any other key id is refused.
    pub(crate) fn open_rolling(
        paths: LogPaths,
        key: AuditKey,
        previous: &[AuditKey],
        now: SystemTime,
        lock: File,
        fault: Option<FaultHook>,
    ) -> Result<(Self, u64), AuditError> {
        let found = match files::read_first_line(&paths.active) {
            Ok(Some(first)) => read_anchor(&paths.active, &first).ok().map(|a| a.1.key_id),
            _ => None,
        };
        let old = found.filter(|id| *id != key.key_id()).and_then(|id| previous.iter().find(|k| k.key_id() == id));
        let Some(old) = old else { return Self::open(paths, key, now, lock, fault) };
        let (mut log, cut) = Self::open(paths, old.clone(), now, lock, fault)?;
        log.rotate_with_key(key, now)?;
        tracing::info!(key_id = %log.key.key_id(), "the audit key changed while no writer ran: started a new file");
        Ok((log, cut))
    }

    /// [`Self::open_rolling`] without previous keys.
    pub(crate) fn open(
        paths: LogPaths,
        key: AuditKey,
        now: SystemTime,
        lock: File,
        fault: Option<FaultHook>,
    ) -> Result<(Self, u64), AuditError> {
        files::ensure_dir(&paths.dir)?;
        let active = paths.active.clone();
        let mut cut = 0;
        if active.exists() {
            let tail = files::read_tail(&active)?;
            if tail.partial > 0 {
                let f = OpenOptions::new().write(true).open(&active).map_err(|e| AuditError::io(&active, "open", e))?;
                f.set_len(tail.complete_len)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| AuditError::io(&active, "truncate", e))?;
                cut = tail.partial;
                tracing::warn!(path = %active.display(), bytes = cut, "cut off an incomplete audit record left by a crash");
            }
            if let Some(last) = tail.last_line {
                let committed = state_of(&active, &last)?;
                let first = files::read_first_line(&active)?.unwrap_or_default();
                let anchor = read_anchor(&active, &first)?;
                if anchor.1.key_id != key.key_id() {
                    return Err(AuditError::WrongKey { path: active, expected: key.key_id(), found: anchor.1.key_id });
                }
                let file = open_append(&active)?;
                let log = Self {
                    paths,
                    key,
                    file,
                    _lock: lock,
                    fault,
                    committed,
                    good_len: tail.complete_len,
                    file_index: anchor.1.file_index,
                    opened_at: anchor.0,
                    dirty: false,
                    orphaned: false,
                    records: committed.next_seq.saturating_sub(anchor.2 + 1),
                };
                return Ok((log, cut));
            }
            // Not even a complete anchor: nothing was ever acknowledged from this file.
            fs::remove_file(&active).map_err(|e| AuditError::io(&active, "remove", e))?;
        }
        let (committed, file_index) = match paths.rotated()?.pop() {
            Some(last) => {
                let tail = files::read_tail(&last.path)?;
                match (tail.last_line, tail.partial) {
                    (Some(l), 0) => (state_of(&last.path, &l)?, last.index + 1),
                    _ => {
                        return Err(AuditError::corrupt(
                            &last.path,
                            0,
                            "rotated file does not end with a complete record",
                        ));
                    }
                }
            }
            None => (ChainState::GENESIS, 0),
        };
        let log = Self::create(paths, key, lock, fault, committed, file_index, now)?;
        Ok((log, cut))
    }

    fn create(
        paths: LogPaths,
        key: AuditKey,
        lock: File,
        fault: Option<FaultHook>,
        mut state: ChainState,
        file_index: u64,
        now: SystemTime,
    ) -> Result<Self, AuditError> {
        let active = paths.active.clone();
        let mut file_id = [0u8; 8];
        let _ = SystemRandom::new().fill(&mut file_id);
        let anchor = Meta::Anchor(Anchor::new(file_index, &file_id, key.key_id(), &state.prev));
        let mut buf = Vec::with_capacity(320);
        encode_meta(&key, &mut state, &anchor, now, &mut buf);
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&active)
            .map_err(|e| AuditError::io(&active, "create", e))?;
        if let Err(e) = file.write_all(&buf).and_then(|()| file.sync_all()) {
            let _ = fs::remove_file(&active);
            return Err(AuditError::io(&active, "write", e));
        }
        files::sync_dir(&paths.dir)?;
        let good_len = buf.len() as u64;
        Ok(Self {
            paths,
            key,
            file,
            _lock: lock,
            fault,
            committed: state,
            good_len,
            file_index,
            opened_at: now,
            records: 0,
            dirty: false,
            orphaned: false,
        })
    }

    /// The active file's path.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.paths.active
    }

    /// The key this file is written with.
    pub(crate) fn key(&self) -> &AuditKey {
        &self.key
    }

    fn check(&self, op: IoOp) -> std::io::Result<()> {
        self.fault.as_ref().map_or(Ok(()), |hook| hook(op))
    }

    /// Append complete lines. On failure the file is cut back to its last good length before the
    /// next append, so a partial write never stays in the middle of the log.
    pub(crate) fn append(&mut self, bytes: &[u8], lines: u64, state_after: ChainState) -> std::io::Result<()> {
        self.check(IoOp::Write)?;
        if self.dirty {
            self.file.set_len(self.good_len)?;
            self.dirty = false;
        }
        if let Err(e) = self.file.write_all(bytes) {
            self.dirty = true;
            return Err(e);
        }
        self.good_len += bytes.len() as u64;
        self.committed = state_after;
        self.records += lines;
        Ok(())
    }

    /// fsync the active file (data only).
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        self.check(IoOp::Sync)?;
        self.file.sync_data()
    }

    /// Close the active file as rotated file `file_index` and start the next one with an anchor
    /// carrying the chain across. When the next file cannot be created, the log stays without an
    /// active file until [`ensure_active`](Self::ensure_active) succeeds.
    pub(crate) fn rotate(&mut self, now: SystemTime) -> Result<(), AuditError> {
        if !self.orphaned {
            let active = self.paths.active.clone();
            self.check(IoOp::Rotate).map_err(|e| AuditError::io(&active, "rotate", e))?;
            self.file.sync_all().map_err(|e| AuditError::io(&active, "fsync", e))?;
            let target = self.paths.rotated_path(now, self.file_index);
            fs::rename(&active, &target).map_err(|e| AuditError::io(&active, "rename", e))?;
            self.orphaned = true;
            files::sync_dir(&self.paths.dir)?;
        }
        self.ensure_active(now).map(|_| ())
    }

    /// Rotate, and write the next file (and every one after it) with `key`: each file has one key,
    /// named by its anchor. When the rotation fails before the active file was closed, the
    /// active file keeps its key.
    pub(crate) fn rotate_with_key(&mut self, key: AuditKey, now: SystemTime) -> Result<(), AuditError> {
        let old = std::mem::replace(&mut self.key, key);
        let r = self.rotate(now);
        if r.is_err() && !self.orphaned {
            self.key = old;
        }
        r
    }

    /// After a rotation whose second half failed: start the next file. True when it did.
    pub(crate) fn ensure_active(&mut self, now: SystemTime) -> Result<bool, AuditError> {
        if !self.orphaned {
            return Ok(false);
        }
        let active = &self.paths.active;
        let lock = self._lock.try_clone().map_err(|e| AuditError::io(active, "lock", e))?;
        let next = Self::create(
            self.paths.clone(),
            self.key.clone(),
            lock,
            self.fault.clone(),
            self.committed,
            self.file_index + 1,
            now,
        )?;
        *self = next;
        Ok(true)
    }
}

fn open_append(path: &std::path::Path) -> Result<File, AuditError> {
    OpenOptions::new().append(true).open(path).map_err(|e| AuditError::io(path, "open", e))
}
