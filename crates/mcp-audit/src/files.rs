//! The files of one log: the active file, its rotated siblings
//! (`<name>.<YYYYMMDDTHHMMSSmmmZ>-<index>`), the writer and maintenance locks, atomic rewrites and
//! reading the first and last lines.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ring::rand::{SecureRandom, SystemRandom};

use crate::error::AuditError;
use crate::util::{compact_millis, hex, parse_compact_millis};

/// Longest line read back when resuming (a record is far smaller).
pub(crate) const MAX_LINE: usize = 1 << 20;

/// The active file of a log and where its siblings live.
#[derive(Clone, Debug)]
pub(crate) struct LogPaths {
    pub active: PathBuf,
    pub dir: PathBuf,
    pub name: String,
}

/// A rotated file.
#[derive(Clone, Debug)]
pub(crate) struct Rotated {
    pub path: PathBuf,
    pub index: u64,
    pub rotated_at: SystemTime,
}

impl LogPaths {
    pub(crate) fn new(active: &Path) -> Result<Self, AuditError> {
        let name = active
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| AuditError::Config(format!("audit log path {} does not name a file", active.display())))?;
        let dir = match active.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        Ok(Self { active: active.to_owned(), dir, name: name.to_owned() })
    }

    /// Path of file `index` rotated at `at`.
    pub(crate) fn rotated_path(&self, at: SystemTime, index: u64) -> PathBuf {
        self.dir.join(format!("{}.{}-{index:06}", self.name, compact_millis(at)))
    }

    /// Rotated files, oldest (lowest index) first.
    pub(crate) fn rotated(&self) -> Result<Vec<Rotated>, AuditError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| AuditError::io(&self.dir, "list", e))?;
        let prefix = format!("{}.", self.name);
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| AuditError::io(&self.dir, "list", e))?;
            let file_name = entry.file_name();
            let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
            let Some((stamp, index)) = rest.split_once('-') else { continue };
            let (Some(at), Ok(index)) = (parse_compact_millis(stamp), index.parse::<u64>()) else { continue };
            out.push(Rotated { path: entry.path(), index, rotated_at: at });
        }
        out.sort_by_key(|r| r.index);
        Ok(out)
    }

    /// Every file of the log: rotated files oldest first, then the active file if it exists.
    pub(crate) fn all_files(&self) -> Result<Vec<PathBuf>, AuditError> {
        let mut files: Vec<PathBuf> = self.rotated()?.into_iter().map(|r| r.path).collect();
        if self.active.exists() {
            files.push(self.active.clone());
        }
        Ok(files)
    }

    fn lock_path(&self, what: &str) -> PathBuf {
        self.dir.join(format!(".{}.{what}.lock", self.name))
    }

    /// Take the writer lock without waiting: held by whoever appends to the active file.
    pub(crate) fn writer_lock(&self) -> Result<File, AuditError> {
        let path = self.lock_path("writer");
        let f = open_lock_file(&path)?;
        match f.try_lock() {
            Ok(()) => Ok(f),
            Err(TryLockError::WouldBlock) => Err(AuditError::WriterActive { path: self.active.clone() }),
            Err(TryLockError::Error(e)) => Err(AuditError::io(path, "lock", e)),
        }
    }

    /// True when `self.active` is being appended to by a running writer right now (its writer
    /// lock is held). Read-only: never creates the lock file.
    pub(crate) fn is_live(&self) -> bool {
        let Ok(f) = File::open(self.lock_path("writer")) else { return false };
        matches!(f.try_lock_shared(), Err(TryLockError::WouldBlock))
    }

    /// Take the maintenance lock, waiting for another purge or erasure to finish.
    pub(crate) fn maintenance_lock(&self) -> Result<File, AuditError> {
        let path = self.lock_path("maintenance");
        let f = open_lock_file(&path)?;
        f.lock().map_err(|e| AuditError::io(path, "lock", e))?;
        Ok(f)
    }
}

fn open_lock_file(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AuditError::io(path, "open", e))
}

/// Create the log directory (0700) if needed.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), AuditError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| AuditError::io(dir, "create", e))
}

/// fsync a directory so a rename or create in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| AuditError::io(dir, "fsync", e))
}

/// Replace `path` by `contents` atomically: temporary sibling (0600), fsync, rename, fsync dir.
pub(crate) fn replace_atomic(path: &Path, contents: &[u8]) -> Result<(), AuditError> {
    let mut rnd = [0u8; 8];
    let _ = SystemRandom::new().fill(&mut rnd);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.rewrite.{}", hex(&rnd)));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(AuditError::io(path, "rewrite", e));
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// The end of a file: its last complete line and any incomplete bytes after it.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    /// The last newline-terminated line (without the newline), if any.
    pub last_line: Option<String>,
    /// Length of the file up to and including the last newline.
    pub complete_len: u64,
    /// Bytes after the last newline (an incomplete record).
    pub partial: u64,
}

/// Read the end of `path` backwards until its last complete line is found.
pub(crate) fn read_tail(path: &Path) -> Result<Tail, AuditError> {
    let mut f = File::open(path).map_err(|e| AuditError::io(path, "open", e))?;
    let len = f.metadata().map_err(|e| AuditError::io(path, "inspect", e))?.len();
    let mut window: u64 = 64 * 1024;
    loop {
        let start = len.saturating_sub(window);
        let mut buf = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
        f.seek(SeekFrom::Start(start)).map_err(|e| AuditError::io(path, "read", e))?;
        (&mut f).take(len - start).read_to_end(&mut buf).map_err(|e| AuditError::io(path, "read", e))?;
        let Some(last_nl) = buf.iter().rposition(|&b| b == b'\n') else {
            if start == 0 {
                return Ok(Tail { last_line: None, complete_len: 0, partial: len });
            }
            window *= 4;
            continue;
        };
        let complete_len = start + last_nl as u64 + 1;
        let line_start = buf[..last_nl].iter().rposition(|&b| b == b'\n').map(|p| p + 1);
        match line_start {
            Some(s) => {
                let text = String::from_utf8(buf[s..last_nl].to_vec())
                    .map_err(|_| AuditError::corrupt(path, 0, "the last line is not UTF-8"))?;
                return Ok(Tail { last_line: Some(text), complete_len, partial: len - complete_len });
            }
            None if start == 0 => {
                let text = String::from_utf8(buf[..last_nl].to_vec())
                    .map_err(|_| AuditError::corrupt(path, 0, "the last line is not UTF-8"))?;
                return Ok(Tail { last_line: Some(text), complete_len, partial: len - complete_len });
            }
            None if window as usize > MAX_LINE * 2 => {
                return Err(AuditError::corrupt(path, 0, "the last line is longer than 1 MiB"));
            }
            None => window *= 4,
        }
    }
}

/// The first line of `path` (without its newline), if it has a complete one.
pub(crate) fn read_first_line(path: &Path) -> Result<Option<String>, AuditError> {
    let f = File::open(path).map_err(|e| AuditError::io(path, "open", e))?;
    let mut line = Vec::new();
    BufReader::new(f)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| AuditError::io(path, "read", e))?;
    if line.pop() != Some(b'\n') {
        return Ok(None);
    }
    String::from_utf8(line).map(Some).map_err(|_| AuditError::corrupt(path, 1, "the first line is not UTF-8"))
}
