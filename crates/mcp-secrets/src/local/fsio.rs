//! File plumbing for the local store: atomic replace, change stamps, the cross-process lock.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};

use super::format::MAX_FILE_LEN;
use super::key::{hex, sync_parent};
use crate::error::SecretsError;

/// Identity of one written file content: any write replaces the inode, so a change of any field
/// means another writer has been here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Self {
        Self { dev: meta.dev(), ino: meta.ino(), len: meta.len(), mtime: meta.mtime(), mtime_nsec: meta.mtime_nsec() }
    }
}

/// The stamp of `path`, or `None` when it does not exist.
pub(crate) fn stamp(path: &Path) -> Result<Option<Stamp>, SecretsError> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(Stamp::of(&m))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SecretsError::io("inspecting", path, e)),
    }
}

/// Read a whole store file with the stamp of exactly the content read; `None` if missing.
pub(crate) fn read_file(path: &Path) -> Result<Option<(Vec<u8>, Stamp)>, SecretsError> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SecretsError::io("opening", path, e)),
    };
    let meta = f.metadata().map_err(|e| SecretsError::io("inspecting", path, e))?;
    if meta.len() > MAX_FILE_LEN {
        return Err(SecretsError::Corrupt { path: path.to_owned(), problem: "larger than 256 MiB" });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "secrets file is accessible to group or others; run chmod 600");
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes).map_err(|e| SecretsError::io("reading", path, e))?;
    Ok(Some((bytes, Stamp::of(&meta))))
}

/// Replace `path` with `bytes` atomically: write a 0600 temporary file beside it, fsync it,
/// rename it over `path`, fsync the directory. On any failure the temporary file is removed and
/// `path` still holds its previous content. Returns the stamp of the new content.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<Stamp, SecretsError> {
    let mut rnd = [0u8; 8];
    let _ = SystemRandom::new().fill(&mut rnd);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", hex(&rnd)));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| SecretsError::io("creating", &tmp, e))?;
        f.write_all(bytes).map_err(|e| SecretsError::io("writing", &tmp, e))?;
        f.sync_all().map_err(|e| SecretsError::io("syncing", &tmp, e))?;
        let meta = f.metadata().map_err(|e| SecretsError::io("inspecting", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| SecretsError::io("renaming onto", path, e))?;
        Ok(Stamp::of(&meta))
    })();
    match result {
        Ok(stamp) => {
            // The rename is done; a failed directory sync only weakens durability, so report it.
            sync_parent(path).map_err(|e| SecretsError::io("syncing the directory of", path, e))?;
            Ok(stamp)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// An exclusive advisory lock on `<store>.lock`, held while a writer reads, changes and replaces
/// the store, so a CLI and a server sharing one file never lose each other's writes.
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    pub(crate) fn acquire(path: &Path, timeout: Duration) -> Result<Self, SecretsError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| SecretsError::io("opening the lock file", path, e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(SecretsError::Locked { path: path.to_owned(), waited: timeout });
                }
                Err(fs::TryLockError::Error(e)) => return Err(SecretsError::io("locking", path, e)),
            }
        }
    }
}

pub(crate) fn lock_path(store: &Path) -> PathBuf {
    let mut s = store.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.enc");
        let s1 = write_atomic(&p, b"one").unwrap();
        let s2 = write_atomic(&p, b"two").unwrap();
        assert_ne!(s1, s2);
        assert_eq!(stamp(&p).unwrap(), Some(s2));
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.enc");
        write_atomic(&p, b"good").unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o500)).unwrap();
        let r = write_atomic(&p, b"bad");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        // root ignores directory permissions; only assert when the write was refused
        if let Err(e) = r {
            assert!(e.to_string().contains("previous secrets file is unchanged"));
            assert_eq!(fs::read(&p).unwrap(), b"good");
        }
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.enc.lock");
        let held = FileLock::acquire(&p, Duration::from_millis(10)).unwrap();
        let err = FileLock::acquire(&p, Duration::from_millis(30)).unwrap_err();
        assert!(matches!(err, SecretsError::Locked { .. }));
        drop(held);
        FileLock::acquire(&p, Duration::from_millis(10)).unwrap();
    }
}
