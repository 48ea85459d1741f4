//! The block list as a JSON file, shared between a running server and the `mcp-server block`
//! command.
//!
//! Format (`version` 1), times in unix seconds:
//!
//! ```json
//! { "version": 1,
//!   "blocks": [ { "target": "ip:203.0.113.7", "until": 1767225600, "reason": "too many failed attempts",
//!                 "origin": "automatic", "created": 1767225300 } ] }
//! ```
//!
//! Writes go to a 0600 temporary file beside the target, are fsynced and renamed over it, so a
//! reader sees the old or the new list, never half of one. Every read-modify-write holds an
//! exclusive lock on `<file>.lock`, so the CLI and the server do not lose each other's edits.
//! Change detection compares device, inode, length and modification time.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::error::MonitorError;
use crate::store::{BlockEdit, BlockStore};
use crate::target::BlockEntry;

/// Largest block file read, bytes.
const MAX_FILE_LEN: u64 = 64 << 20;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    version: u32,
    blocks: Vec<BlockEntry>,
}

type Stamp = (u64, u64, u64, i64, i64);

/// A [`BlockStore`] backed by one JSON file.
#[derive(Debug)]
pub struct FileBlockStore {
    path: PathBuf,
    lock_path: PathBuf,
    /// Stamp of the content last read or written (`Some(None)`: the file was absent).
    seen: Mutex<Option<Option<Stamp>>>,
}

impl FileBlockStore {
    /// A store at `path` (created on first write; a missing file is an empty list).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        Self { path, lock_path: lock_path.into(), seen: Mutex::new(None) }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn stamp(&self) -> Result<Option<Stamp>, MonitorError> {
        match fs::metadata(&self.path) {
            Ok(m) => Ok(Some((m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MonitorError::io("inspecting", &self.path, e)),
        }
    }

    /// The list and the stamp of exactly the content read.
    fn read(&self) -> Result<(Vec<BlockEntry>, Option<Stamp>), MonitorError> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
            Err(e) => return Err(MonitorError::io("opening", &self.path, e)),
        };
        let m = f.metadata().map_err(|e| MonitorError::io("inspecting", &self.path, e))?;
        if m.len() > MAX_FILE_LEN {
            return Err(self.corrupt("larger than 64 MiB".into()));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(m.len()).unwrap_or(0));
        f.read_to_end(&mut bytes).map_err(|e| MonitorError::io("reading", &self.path, e))?;
        let stamp = (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec());
        if m.mode() & 0o077 != 0 {
            tracing::warn!(path = %self.path.display(), "block file is accessible to group or others; run chmod 600");
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok((Vec::new(), Some(stamp)));
        }
        let body: FileBody = serde_json::from_slice(&bytes).map_err(|e| self.corrupt(e.to_string()))?;
        if body.version != 1 {
            return Err(self.corrupt(format!("unsupported version {}", body.version)));
        }
        Ok((body.blocks, Some(stamp)))
    }

    fn corrupt(&self, problem: String) -> MonitorError {
        MonitorError::CorruptFile { path: self.path.clone(), problem }
    }

    fn write(&self, blocks: Vec<BlockEntry>) -> Result<(Vec<BlockEntry>, Stamp), MonitorError> {
        let body = FileBody { version: 1, blocks };
        let mut bytes = serde_json::to_vec_pretty(&body).map_err(|e| self.corrupt(e.to_string()))?;
        bytes.push(b'\n');
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| MonitorError::io("creating", &tmp, e))?;
            f.write_all(&bytes).map_err(|e| MonitorError::io("writing", &tmp, e))?;
            f.sync_all().map_err(|e| MonitorError::io("syncing", &tmp, e))?;
            let m = f.metadata().map_err(|e| MonitorError::io("inspecting", &tmp, e))?;
            drop(f);
            fs::rename(&tmp, &self.path).map_err(|e| MonitorError::io("renaming onto", &self.path, e))?;
            Ok((m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
        })();
        match result {
            Ok(stamp) => {
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // Persist the rename; failure here leaves the new content in place anyway.
                    let _ = File::open(dir).and_then(|d| d.sync_all());
                }
                Ok((body.blocks, stamp))
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn lock(&self) -> Result<File, MonitorError> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock_path)
            .map_err(|e| MonitorError::io("opening lock file", &self.lock_path, e))?;
        f.lock().map_err(|e| MonitorError::io("locking", &self.lock_path, e))?;
        Ok(f)
    }
}

impl BlockStore for FileBlockStore {
    fn load(&self) -> Result<Vec<BlockEntry>, MonitorError> {
        self.read().map(|(entries, _)| entries)
    }

    fn load_if_changed(&self) -> Result<Option<Vec<BlockEntry>>, MonitorError> {
        let now = self.stamp()?;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if *seen == Some(now) {
            return Ok(None);
        }
        let (entries, stamp) = self.read()?;
        *seen = Some(stamp);
        Ok(Some(entries))
    }

    fn update(&self, edit: BlockEdit<'_>) -> Result<Vec<BlockEntry>, MonitorError> {
        let _lock = self.lock()?;
        let (mut entries, _) = self.read()?;
        edit(&mut entries);
        let (written, stamp) = self.write(entries)?;
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(Some(stamp));
        Ok(written)
    }
}
