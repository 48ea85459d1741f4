//! `local_encrypted`: every secret in one AES-256-GCM encrypted file (the default backend).
//!
//! The file layout is described in `docs/secrets.md` and in the private `format` module.
//! Writes replace the whole file atomically while holding `<file>.lock`; reads notice a file
//! replaced by another process (a CLI) and reload it.

mod format;
mod fsio;
mod key;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_core::BoxFuture;
use mcp_core::traits::SecretName;
use secrecy::{ExposeSecret, SecretBox};

use self::format::{Record, StoreData};
use self::fsio::{FileLock, Stamp};
pub use self::key::{KeySource, MasterKey, load_key_env, load_key_file};
use crate::error::SecretsError;
use crate::store::{
    VersionId, VersionInfo, VersionSelector, Versioned, VersionedSecretStore, check_value, secret_from,
};

pub(crate) const BACKEND: &str = "local_encrypted";

/// Settings of a [`LocalStore`].
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// The store file.
    pub path: PathBuf,
    /// Where the master key comes from.
    pub key: KeySource,
    /// Versions kept per secret (at least 2, so a rotation can be rolled back).
    pub keep_versions: usize,
    /// How long a writer waits for another process's lock.
    pub lock_timeout: Duration,
}

impl LocalOptions {
    /// Options with the defaults for everything but the paths.
    pub fn new(path: impl Into<PathBuf>, key: KeySource) -> Self {
        Self {
            path: path.into(),
            key,
            keep_versions: crate::config::DEFAULT_KEEP_VERSIONS,
            lock_timeout: Duration::from_secs(10),
        }
    }
}

struct Loaded {
    data: StoreData,
    stamp: Option<Stamp>,
}

struct Inner {
    path: PathBuf,
    lock_path: PathBuf,
    key_source: KeySource,
    keep_versions: usize,
    lock_timeout: Duration,
    keys: RwLock<Arc<key::DerivedKeys>>,
    state: RwLock<Arc<Loaded>>,
    writer: Mutex<()>,
}

/// The local encrypted store. Cheap to clone (a handle).
#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStore")
            .field("path", &self.inner.path)
            .field("key", &self.inner.key_source)
            .field("keep_versions", &self.inner.keep_versions)
            .finish_non_exhaustive()
    }
}

fn poisoned() -> SecretsError {
    SecretsError::Unavailable {
        backend: BACKEND,
        detail: "internal lock poisoned by a panic; restart the process".into(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn pending_key_path(key_path: &Path) -> PathBuf {
    let mut s = key_path.as_os_str().to_owned();
    s.push(".next");
    PathBuf::from(s)
}

impl LocalStore {
    /// Open (or prepare to create) the store. `env` looks up environment variables (pass
    /// `&|v| std::env::var(v).ok()`). A key file is created only when the store file does not
    /// exist yet: a store without its key is an error, never silently re-keyed.
    pub fn open(opts: LocalOptions, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, SecretsError> {
        if opts.keep_versions < 2 {
            return Err(SecretsError::Config("local_encrypted.keep_versions must be at least 2".into()));
        }
        let file = fsio::read_file(&opts.path)?;
        let master = match &opts.key {
            KeySource::File(p) => load_key_file(p, file.is_none())?,
            KeySource::Env(var) => load_key_env(var, env)?,
        };
        let mut keys = master.derive();
        drop(master);
        let loaded = match file {
            None => Loaded { data: StoreData::default(), stamp: None },
            Some((bytes, stamp)) => match format::decode(&keys, &bytes, &opts.path) {
                Ok(data) => Loaded { data, stamp: Some(stamp) },
                Err(e @ SecretsError::WrongKey { .. }) => {
                    let Some(next) = Self::finish_pending_rotation(&opts, &bytes)? else { return Err(e) };
                    keys = next;
                    Loaded { data: format::decode(&keys, &bytes, &opts.path)?, stamp: Some(stamp) }
                }
                Err(e) => return Err(e),
            },
        };
        Ok(Self {
            inner: Arc::new(Inner {
                lock_path: fsio::lock_path(&opts.path),
                path: opts.path,
                key_source: opts.key,
                keep_versions: opts.keep_versions,
                lock_timeout: opts.lock_timeout,
                keys: RwLock::new(Arc::new(keys)),
                state: RwLock::new(Arc::new(loaded)),
                writer: Mutex::new(()),
            }),
        })
    }

    /// A master-key rotation that crashed after replacing the store but before replacing the key
    /// file leaves the new key in `<key>.next`: if it matches the store, move it into place.
    fn finish_pending_rotation(opts: &LocalOptions, bytes: &[u8]) -> Result<Option<key::DerivedKeys>, SecretsError> {
        let KeySource::File(key_path) = &opts.key else { return Ok(None) };
        let pending = pending_key_path(key_path);
        if !pending.exists() {
            return Ok(None);
        }
        let next = load_key_file(&pending, false)?.derive();
        if format::decode(&next, bytes, &opts.path).is_err() {
            return Ok(None);
        }
        if std::fs::rename(&pending, key_path).is_ok() {
            let _ = key::sync_parent(key_path);
            tracing::warn!(key = %key_path.display(), "completed an interrupted master key rotation");
        }
        Ok(Some(next))
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Key id (non-secret fingerprint) of the master key in use.
    pub fn key_id(&self) -> Result<String, SecretsError> {
        Ok(key::hex(&self.inner.keys.read().map_err(|_| poisoned())?.id))
    }

    /// Re-encrypt every version of every secret under `new_key` (fresh nonces) and replace the
    /// file atomically. With a key file, the new key is first written to `<key>.next`, then the
    /// store is replaced, then the key file: a crash at any point leaves a consistent pair (or a
    /// pending rotation finished at the next open). With an environment key, update the variable
    /// to `new_key.to_base64()` before the next start.
    pub async fn rotate_master_key(&self, new_key: MasterKey) -> Result<String, SecretsError> {
        self.rotate_master_key_with_progress(new_key, |_, _| {}).await
    }

    /// [`rotate_master_key`](Self::rotate_master_key), reporting progress: `progress(done, total)`
    /// is called once with `done = 0` before the first record, then after each re-encrypted record
    /// (`total` counts every kept version of every secret). It runs on the blocking thread doing
    /// the work, so it should be quick (a CLI redraws a progress line; throttle if `total` is
    /// large). The file is replaced only after the last call, with `done == total`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use mcp_secrets::VersionedSecretStore;
    /// use mcp_secrets::local::{KeySource, LocalOptions, LocalStore, MasterKey};
    /// let dir = tempfile::tempdir().unwrap();
    /// let opts = LocalOptions::new(dir.path().join("s.enc"), KeySource::File(dir.path().join("k")));
    /// let store = LocalStore::open(opts, &|_| None).unwrap();
    /// for n in ["a", "b"] {
    ///     let name = mcp_core::traits::SecretName::parse(n).unwrap();
    ///     store.write(&name, secrecy::SecretBox::new(b"value".to_vec().into_boxed_slice())).await.unwrap();
    /// }
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let key = MasterKey::generate().unwrap();
    /// store.rotate_master_key_with_progress(key, move |done, total| { let _ = tx.send((done, total)); }).await.unwrap();
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), vec![(0, 2), (1, 2), (2, 2)]);
    /// # });
    /// ```
    pub async fn rotate_master_key_with_progress<F>(
        &self,
        new_key: MasterKey,
        progress: F,
    ) -> Result<String, SecretsError>
    where
        F: FnMut(usize, usize) + Send + 'static,
    {
        let inner = self.inner.clone();
        let mut progress = progress;
        run_blocking(move || inner.rotate_master_key(new_key, &mut progress)).await
    }

    async fn mutate<T, F>(&self, f: F) -> Result<T, SecretsError>
    where
        T: Send + 'static,
        F: FnOnce(&key::DerivedKeys, &mut StoreData) -> Result<T, SecretsError> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || inner.mutate(f)).await
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SecretsError> + Send + 'static,
) -> Result<T, SecretsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| SecretsError::Unavailable { backend: BACKEND, detail: "file writer task failed".into() })?
}

impl Inner {
    fn keys(&self) -> Result<Arc<key::DerivedKeys>, SecretsError> {
        Ok(self.keys.read().map_err(|_| poisoned())?.clone())
    }

    /// The current content, reloaded if another process replaced the file.
    fn current(&self) -> Result<Arc<Loaded>, SecretsError> {
        let now = fsio::stamp(&self.path)?;
        let loaded = self.state.read().map_err(|_| poisoned())?.clone();
        if now == loaded.stamp {
            return Ok(loaded);
        }
        let Some((bytes, stamp)) = fsio::read_file(&self.path)? else {
            return Err(SecretsError::io(
                "reading",
                &self.path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "the secrets file was removed by someone else"),
            ));
        };
        let data = match format::decode(&*self.keys()?, &bytes, &self.path) {
            Ok(d) => d,
            // Another process rotated the master key: pick up the new key file.
            Err(e @ SecretsError::WrongKey { .. }) => {
                let KeySource::File(p) = &self.key_source else { return Err(e) };
                let keys = load_key_file(p, false)?.derive();
                let d = format::decode(&keys, &bytes, &self.path)?;
                *self.keys.write().map_err(|_| poisoned())? = Arc::new(keys);
                d
            }
            Err(e) => return Err(e),
        };
        let fresh = Arc::new(Loaded { data, stamp: Some(stamp) });
        *self.state.write().map_err(|_| poisoned())? = fresh.clone();
        Ok(fresh)
    }

    fn mutate<T>(
        &self,
        f: impl FnOnce(&key::DerivedKeys, &mut StoreData) -> Result<T, SecretsError>,
    ) -> Result<T, SecretsError> {
        let _in_process = self.writer.lock().map_err(|_| poisoned())?;
        let _cross_process = FileLock::acquire(&self.lock_path, self.lock_timeout)?;
        let loaded = self.current()?;
        let keys = self.keys()?;
        let mut data = loaded.data.clone();
        let out = f(&keys, &mut data)?;
        data.generation += 1;
        let bytes = format::encode(&keys, &data);
        if bytes.len() as u64 > format::MAX_FILE_LEN {
            return Err(SecretsError::Config(format!(
                "{} would exceed 256 MiB: delete unused secrets or use a remote backend",
                self.path.display()
            )));
        }
        let stamp = fsio::write_atomic(&self.path, &bytes)?;
        *self.state.write().map_err(|_| poisoned())? = Arc::new(Loaded { data, stamp: Some(stamp) });
        Ok(out)
    }

    fn rotate_master_key(
        &self,
        new_key: MasterKey,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<String, SecretsError> {
        let _in_process = self.writer.lock().map_err(|_| poisoned())?;
        let _cross_process = FileLock::acquire(&self.lock_path, self.lock_timeout)?;
        let loaded = self.current()?;
        let old = self.keys()?;
        let new = new_key.derive();
        let mut data = StoreData { generation: loaded.data.generation + 1, ..Default::default() };
        let total = loaded.data.secrets.values().map(Vec::len).sum();
        let mut done = 0;
        progress(done, total);
        for (name, records) in &loaded.data.secrets {
            let mut out = Vec::with_capacity(records.len());
            for r in records {
                let plain = format::open(&old, name, r, &self.path)?;
                out.push(format::seal(&new, name, r.version, r.created_ms, &plain)?);
                done += 1;
                progress(done, total);
            }
            data.secrets.insert(name.clone(), out);
        }
        let bytes = format::encode(&new, &data);
        let pending = match &self.key_source {
            KeySource::File(p) => {
                let pending = pending_key_path(p);
                key::write_key_file_replace(&pending, &new_key)
                    .map_err(|e| SecretsError::io("writing the new master key to", &pending, e))?;
                Some((pending, p.clone()))
            }
            KeySource::Env(_) => None,
        };
        let stamp = match fsio::write_atomic(&self.path, &bytes) {
            Ok(s) => s,
            Err(e) => {
                if let Some((pending, _)) = &pending {
                    let _ = std::fs::remove_file(pending);
                }
                return Err(e);
            }
        };
        if let Some((pending, key_path)) = &pending {
            std::fs::rename(pending, key_path)
                .map_err(|e| SecretsError::io("installing the new master key", key_path, e))?;
            key::sync_parent(key_path).map_err(|e| SecretsError::io("syncing the directory of", key_path, e))?;
        }
        let id = key::hex(&new.id);
        *self.keys.write().map_err(|_| poisoned())? = Arc::new(new);
        *self.state.write().map_err(|_| poisoned())? = Arc::new(Loaded { data, stamp: Some(stamp) });
        tracing::info!(path = %self.path.display(), key_id = %id, "rotated the secrets master key");
        Ok(id)
    }
}

fn pick<'r>(records: &'r [Record], which: &VersionSelector) -> Option<&'r Record> {
    match which {
        VersionSelector::Current => records.last(),
        VersionSelector::Previous => records.len().checked_sub(2).and_then(|i| records.get(i)),
        VersionSelector::Id(id) => id.as_number().and_then(|n| records.iter().find(|r| r.version == n)),
    }
}

impl VersionedSecretStore for LocalStore {
    fn backend_kind(&self) -> &'static str {
        BACKEND
    }

    fn read<'a>(
        &'a self,
        name: &'a SecretName,
        which: &'a VersionSelector,
    ) -> BoxFuture<'a, Result<Versioned, SecretsError>> {
        Box::pin(async move {
            let loaded = self.inner.current()?;
            let records = loaded.data.secrets.get(name).ok_or_else(|| SecretsError::not_found(BACKEND, name))?;
            let r = pick(records, which).ok_or_else(|| SecretsError::VersionNotFound {
                backend: BACKEND,
                name: name.as_str().to_owned(),
                version: which.to_string(),
            })?;
            let plain = format::open(&*self.inner.keys()?, name, r, &self.inner.path)?;
            Ok(Versioned {
                value: secret_from(&plain),
                version: VersionId::from(r.version),
                created: Some(UNIX_EPOCH + Duration::from_millis(r.created_ms)),
            })
        })
    }

    fn write<'a>(
        &'a self,
        name: &'a SecretName,
        value: SecretBox<[u8]>,
    ) -> BoxFuture<'a, Result<VersionId, SecretsError>> {
        Box::pin(async move {
            check_value(&value)?;
            let keep = self.inner.keep_versions;
            let name = name.clone();
            let version = self
                .mutate(move |keys, data| {
                    let records = data.secrets.entry(name.clone()).or_default();
                    let version = records.last().map_or(1, |r| r.version + 1);
                    records.push(format::seal(keys, &name, version, now_ms(), value.expose_secret())?);
                    let excess = records.len().saturating_sub(keep);
                    records.drain(..excess);
                    Ok(version)
                })
                .await?;
            Ok(VersionId::from(version))
        })
    }

    fn remove<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            let name = name.clone();
            self.mutate(move |_, data| {
                data.secrets.remove(&name).map(|_| ()).ok_or_else(|| SecretsError::not_found(BACKEND, &name))
            })
            .await
        })
    }

    fn names(&self) -> BoxFuture<'_, Result<Vec<SecretName>, SecretsError>> {
        Box::pin(async move { Ok(self.inner.current()?.data.secrets.keys().cloned().collect()) })
    }

    fn versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretsError>> {
        Box::pin(async move {
            let loaded = self.inner.current()?;
            let records = loaded.data.secrets.get(name).ok_or_else(|| SecretsError::not_found(BACKEND, name))?;
            let last = records.last().map(|r| r.version);
            Ok(records
                .iter()
                .rev()
                .map(|r| VersionInfo {
                    id: VersionId::from(r.version),
                    created: Some(UNIX_EPOCH + Duration::from_millis(r.created_ms)),
                    current: Some(r.version) == last,
                })
                .collect())
        })
    }
}

crate::store::impl_secret_store!(LocalStore);

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn open(dir: &Path) -> LocalStore {
        LocalStore::open(LocalOptions::new(dir.join("s.enc"), KeySource::File(dir.join("k"))), &no_env).unwrap()
    }

    fn n(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }

    async fn get(s: &LocalStore, name: &str) -> Vec<u8> {
        s.read(&n(name), &VersionSelector::Current).await.unwrap().value.expose_secret().to_vec()
    }

    #[tokio::test]
    async fn persists_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        s.write(&n("db/pw"), secret_from(b"hunter2")).await.unwrap();
        let mode = std::fs::metadata(dir.path().join("s.enc")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let s2 = open(dir.path());
        assert_eq!(get(&s2, "db/pw").await, b"hunter2");
        let raw = std::fs::read(dir.path().join("s.enc")).unwrap();
        assert!(!raw.windows(7).any(|w| w == b"hunter2"));
    }

    #[tokio::test]
    async fn another_process_write_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(dir.path());
        let b = open(dir.path());
        a.write(&n("x"), secret_from(b"1")).await.unwrap();
        assert_eq!(get(&b, "x").await, b"1");
        b.write(&n("y"), secret_from(b"2")).await.unwrap();
        // a's next write must not lose b's
        a.write(&n("z"), secret_from(b"3")).await.unwrap();
        let c = open(dir.path());
        assert_eq!(c.names().await.unwrap(), vec![n("x"), n("y"), n("z")]);
    }

    #[tokio::test]
    async fn missing_key_for_existing_store_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).write(&n("x"), secret_from(b"1")).await.unwrap();
        std::fs::remove_file(dir.path().join("k")).unwrap();
        let err = LocalStore::open(
            LocalOptions::new(dir.path().join("s.enc"), KeySource::File(dir.path().join("k"))),
            &no_env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[tokio::test]
    async fn master_key_rotation_and_interrupted_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        s.write(&n("a"), secret_from(b"v1")).await.unwrap();
        s.write(&n("a"), secret_from(b"v2")).await.unwrap();
        let before = s.key_id().unwrap();
        let new = MasterKey::generate().unwrap();
        let new_b64 = new.to_base64();
        let after = s.rotate_master_key(new).await.unwrap();
        assert_ne!(before, after);
        assert_eq!(get(&s, "a").await, b"v2");
        let s2 = open(dir.path());
        assert_eq!(s2.key_id().unwrap(), after);
        let prev = s2.read(&n("a"), &VersionSelector::Previous).await.unwrap();
        assert_eq!(prev.value.expose_secret(), b"v1");
        assert!(!dir.path().join("k.next").exists());

        // simulate a crash after the store was replaced but before the key file was: the
        // current key goes to k.next and an unrelated key sits in k.
        std::fs::rename(dir.path().join("k"), dir.path().join("k.next")).unwrap();
        key::write_key_file_new(&dir.path().join("k"), &MasterKey::generate().unwrap()).unwrap();
        let s3 = open(dir.path());
        assert_eq!(s3.key_id().unwrap(), after);
        assert_eq!(std::fs::read_to_string(dir.path().join("k")).unwrap().trim(), new_b64.as_str());
    }

    #[tokio::test]
    async fn env_key_source() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate().unwrap().to_base64();
        let env = move |v: &str| (v == "MK").then(|| key.to_string());
        let opts = LocalOptions::new(dir.path().join("s.enc"), KeySource::Env("MK".into()));
        let s = LocalStore::open(opts.clone(), &env).unwrap();
        s.write(&n("a"), secret_from(b"v")).await.unwrap();
        assert!(!dir.path().join("k").exists());
        let other = MasterKey::generate().unwrap().to_base64();
        let wrong = move |_: &str| Some(other.to_string());
        let err = LocalStore::open(opts, &wrong).unwrap_err();
        assert!(matches!(err, SecretsError::WrongKey { .. }), "{err}");
    }

    #[tokio::test]
    async fn keep_versions_validated() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = LocalOptions::new(dir.path().join("s.enc"), KeySource::File(dir.path().join("k")));
        o.keep_versions = 1;
        assert!(LocalStore::open(o, &no_env).is_err());
    }
}
