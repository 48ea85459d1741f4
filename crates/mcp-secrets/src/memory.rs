//! In-memory store, for tests and examples. Values live in zeroizing buffers; nothing persists.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use mcp_core::traits::SecretName;
use mcp_core::{BoxFuture, Clock, SystemClock};
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

use crate::error::SecretsError;
use crate::store::{
    VersionId, VersionInfo, VersionSelector, Versioned, VersionedSecretStore, check_value, secret_from,
};

const BACKEND: &str = "memory";

struct Version {
    id: u64,
    created: SystemTime,
    value: Zeroizing<Vec<u8>>,
}

/// An in-memory [`VersionedSecretStore`] keeping the last `keep_versions` versions of each secret.
///
/// [`MemoryStore::set_offline`] makes every call fail as an unreachable backend would, so caches
/// and callers can be tested against an outage.
pub struct MemoryStore {
    secrets: RwLock<BTreeMap<SecretName, Vec<Version>>>,
    keep_versions: usize,
    offline: AtomicBool,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.secrets.read().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("MemoryStore").field("secrets", &count).field("keep_versions", &self.keep_versions).finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(crate::config::DEFAULT_KEEP_VERSIONS)
    }
}

impl MemoryStore {
    /// A store keeping the last `keep_versions` (at least 2) versions of each secret.
    pub fn new(keep_versions: usize) -> Self {
        Self::with_clock(keep_versions, Arc::new(SystemClock))
    }

    /// [`new`](Self::new) stamping versions with an injected clock's wall time (tests of
    /// schedules move time).
    pub fn with_clock(keep_versions: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            secrets: RwLock::new(BTreeMap::new()),
            keep_versions: keep_versions.max(2),
            offline: AtomicBool::new(false),
            clock,
        }
    }

    /// Simulate an outage: while `true`, every call fails with [`SecretsError::Unavailable`].
    pub fn set_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::SeqCst);
    }

    fn check_online(&self) -> Result<(), SecretsError> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(SecretsError::Unavailable { backend: BACKEND, detail: "store is set offline".into() });
        }
        Ok(())
    }
}

fn poisoned() -> SecretsError {
    SecretsError::Unavailable {
        backend: BACKEND,
        detail: "internal lock poisoned by a panic; restart the process".into(),
    }
}

impl VersionedSecretStore for MemoryStore {
    fn backend_kind(&self) -> &'static str {
        BACKEND
    }

    fn read<'a>(
        &'a self,
        name: &'a SecretName,
        which: &'a VersionSelector,
    ) -> BoxFuture<'a, Result<Versioned, SecretsError>> {
        Box::pin(async move {
            self.check_online()?;
            let map = self.secrets.read().map_err(|_| poisoned())?;
            let versions = map.get(name).ok_or_else(|| SecretsError::not_found(BACKEND, name))?;
            let found = match which {
                VersionSelector::Current => versions.last(),
                VersionSelector::Previous => versions.len().checked_sub(2).and_then(|i| versions.get(i)),
                VersionSelector::Id(id) => id.as_number().and_then(|n| versions.iter().find(|v| v.id == n)),
            };
            let v = found.ok_or_else(|| SecretsError::VersionNotFound {
                backend: BACKEND,
                name: name.as_str().to_owned(),
                version: which.to_string(),
            })?;
            Ok(Versioned { value: secret_from(&v.value), version: VersionId::from(v.id), created: Some(v.created) })
        })
    }

    fn write<'a>(
        &'a self,
        name: &'a SecretName,
        value: SecretBox<[u8]>,
    ) -> BoxFuture<'a, Result<VersionId, SecretsError>> {
        Box::pin(async move {
            self.check_online()?;
            check_value(&value)?;
            let mut map = self.secrets.write().map_err(|_| poisoned())?;
            let versions = map.entry(name.clone()).or_default();
            let id = versions.last().map_or(1, |v| v.id + 1);
            versions.push(Version {
                id,
                created: self.clock.now(),
                value: Zeroizing::new(value.expose_secret().to_vec()),
            });
            let excess = versions.len().saturating_sub(self.keep_versions);
            versions.drain(..excess);
            Ok(VersionId::from(id))
        })
    }

    fn remove<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            self.check_online()?;
            let mut map = self.secrets.write().map_err(|_| poisoned())?;
            map.remove(name).map(|_| ()).ok_or_else(|| SecretsError::not_found(BACKEND, name))
        })
    }

    fn names(&self) -> BoxFuture<'_, Result<Vec<SecretName>, SecretsError>> {
        Box::pin(async move {
            self.check_online()?;
            Ok(self.secrets.read().map_err(|_| poisoned())?.keys().cloned().collect())
        })
    }

    fn versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretsError>> {
        Box::pin(async move {
            self.check_online()?;
            let map = self.secrets.read().map_err(|_| poisoned())?;
            let versions = map.get(name).ok_or_else(|| SecretsError::not_found(BACKEND, name))?;
            let last = versions.last().map(|v| v.id);
            Ok(versions
                .iter()
                .rev()
                .map(|v| VersionInfo {
                    id: VersionId::from(v.id),
                    created: Some(v.created),
                    current: Some(v.id) == last,
                })
                .collect())
        })
    }
}

crate::store::impl_secret_store!(MemoryStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_last_versions_and_goes_offline() {
        let s = MemoryStore::new(2);
        let n = SecretName::parse("a/b").unwrap();
        for v in [b"1", b"2", b"3"] {
            s.write(&n, secret_from(v)).await.unwrap();
        }
        let vs = s.versions(&n).await.unwrap();
        assert_eq!(vs.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), ["3", "2"]);
        assert!(vs[0].current && !vs[1].current);
        let prev = s.read(&n, &VersionSelector::Previous).await.unwrap();
        assert_eq!(prev.value.expose_secret(), b"2");
        assert!(matches!(
            s.read(&n, &VersionSelector::Id(VersionId::from(1))).await,
            Err(SecretsError::VersionNotFound { .. })
        ));
        s.set_offline(true);
        assert!(s.read(&n, &VersionSelector::Current).await.unwrap_err().is_transient());
        assert!(!format!("{s:?}").contains('3'));
    }
}
