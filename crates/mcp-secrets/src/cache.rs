//! Read-through cache in front of any store: per-secret TTL, stale-while-revalidate within a
//! bounded staleness window while the backend is down, then a clear error.
//!
//! The read path takes one shard's read lock (16 shards, chosen by name hash), clones an `Arc`
//! and copies the value into a fresh `SecretBox`: no backend call, no await, no allocation
//! besides the returned value.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use mcp_core::traits::SecretName;
use mcp_core::{BoxFuture, Clock, SystemClock};
use secrecy::{ExposeSecret, SecretBox};

use crate::error::SecretsError;
use crate::redact::Redactor;
use crate::store::{VersionId, VersionInfo, VersionSelector, Versioned, VersionedSecretStore, secret_from};

const SHARDS: usize = 16;
const MAX_IDS_PER_NAME: usize = 4;

/// Cache settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheOptions {
    /// How long a value is served without asking the backend (default 5 min).
    pub ttl: Duration,
    /// After the TTL, how long an old value may still be served while refreshes fail (default
    /// 15 min). Past `ttl + stale_window` a read waits for the backend and fails if it is down.
    pub stale_window: Duration,
    /// At most this many secret names are cached; further names are read through uncached.
    pub max_entries: usize,
    /// After a failed background refresh, wait this long before trying again.
    pub retry_backoff: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            stale_window: Duration::from_secs(900),
            max_entries: 10_000,
            retry_backoff: Duration::from_secs(1),
        }
    }
}

struct Entry {
    value: SecretBox<[u8]>,
    version: VersionId,
    created: Option<SystemTime>,
    fetched: Instant,
    refreshing: AtomicBool,
    /// Nanoseconds after `Shared::base` before which no background refresh starts.
    next_try: AtomicU64,
}

impl Entry {
    fn to_versioned(&self) -> Versioned {
        Versioned {
            value: secret_from(self.value.expose_secret()),
            version: self.version.clone(),
            created: self.created,
        }
    }
}

#[derive(Default)]
struct Slots {
    current: Option<Arc<Entry>>,
    previous: Option<Arc<Entry>>,
    by_id: Vec<Arc<Entry>>,
}

impl Slots {
    fn get(&self, which: &VersionSelector) -> Option<&Arc<Entry>> {
        match which {
            VersionSelector::Current => self.current.as_ref(),
            VersionSelector::Previous => self.previous.as_ref(),
            VersionSelector::Id(id) => self.by_id.iter().find(|e| &e.version == id),
        }
    }

    fn set(&mut self, which: &VersionSelector, entry: Arc<Entry>) {
        match which {
            VersionSelector::Current => {
                if self.current.as_ref().is_some_and(|old| old.version != entry.version) {
                    self.previous = None;
                }
                self.current = Some(entry);
            }
            VersionSelector::Previous => self.previous = Some(entry),
            VersionSelector::Id(_) => {
                self.by_id.retain(|e| e.version != entry.version);
                if self.by_id.len() >= MAX_IDS_PER_NAME {
                    self.by_id.remove(0);
                }
                self.by_id.push(entry);
            }
        }
    }

    fn clear(&mut self, which: &VersionSelector) {
        match which {
            VersionSelector::Current => self.current = None,
            VersionSelector::Previous => self.previous = None,
            VersionSelector::Id(id) => self.by_id.retain(|e| &e.version != id),
        }
    }
}

/// Counters for monitoring and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads that went to the backend.
    pub misses: u64,
    /// Reads answered with a value older than the TTL.
    pub stale_served: u64,
    /// Background refreshes that failed.
    pub refresh_failures: u64,
}

#[derive(Default)]
struct Counters {
    misses: AtomicU64,
    stale_served: AtomicU64,
    refresh_failures: AtomicU64,
}

struct Shared {
    inner: Arc<dyn VersionedSecretStore>,
    shards: [RwLock<HashMap<SecretName, Slots>>; SHARDS],
    hasher: RandomState,
    opts: CacheOptions,
    clock: Arc<dyn Clock>,
    redactor: Option<Arc<Redactor>>,
    base: Instant,
    names: AtomicUsize,
    counters: Counters,
}

/// A caching [`VersionedSecretStore`] wrapper. Cheap to clone (a handle). Every value it loads
/// or writes is registered with its [`Redactor`], if it has one.
#[derive(Clone)]
pub struct CachedStore {
    shared: Arc<Shared>,
}

impl fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("inner", &self.shared.inner)
            .field("opts", &self.shared.opts)
            .field("cached_names", &self.shared.names.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl CachedStore {
    /// Wrap `inner` with the system clock.
    pub fn new(inner: Arc<dyn VersionedSecretStore>, opts: CacheOptions, redactor: Option<Arc<Redactor>>) -> Self {
        Self::with_clock(inner, opts, redactor, Arc::new(SystemClock))
    }

    /// Wrap `inner` with an injected clock (tests move time).
    pub fn with_clock(
        inner: Arc<dyn VersionedSecretStore>,
        opts: CacheOptions,
        redactor: Option<Arc<Redactor>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let base = clock.instant();
        Self {
            shared: Arc::new(Shared {
                inner,
                shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
                hasher: RandomState::new(),
                opts,
                clock,
                redactor,
                base,
                names: AtomicUsize::new(0),
                counters: Counters::default(),
            }),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn VersionedSecretStore> {
        &self.shared.inner
    }

    /// Counters.
    pub fn stats(&self) -> CacheStats {
        let c = &self.shared.counters;
        CacheStats {
            misses: c.misses.load(Ordering::Relaxed),
            stale_served: c.stale_served.load(Ordering::Relaxed),
            refresh_failures: c.refresh_failures.load(Ordering::Relaxed),
        }
    }

    /// Drop every cached version of `name`.
    pub fn invalidate(&self, name: &SecretName) {
        self.shared.evict(name);
    }

    /// Read `name` from the backend now and cache it, whatever the cached entry's age.
    pub async fn refresh(&self, name: &SecretName, which: &VersionSelector) -> Result<Versioned, SecretsError> {
        self.shared.fetch(name, which).await
    }

    async fn read_cached(&self, name: &SecretName, which: &VersionSelector) -> Result<Versioned, SecretsError> {
        let s = &self.shared;
        let now = s.clock.instant();
        let hit = s.lookup(name, which);
        if let Some(e) = &hit {
            let age = now.saturating_duration_since(e.fetched);
            if age < s.opts.ttl {
                return Ok(e.to_versioned());
            }
            if age < s.opts.ttl + s.opts.stale_window {
                s.counters.stale_served.fetch_add(1, Ordering::Relaxed);
                Shared::spawn_refresh(&self.shared, name, which, e, now);
                return Ok(e.to_versioned());
            }
        }
        match s.fetch(name, which).await {
            Ok(v) => Ok(v),
            Err(err) if err.is_transient() => match hit {
                Some(e) => Err(SecretsError::StaleBeyondWindow {
                    name: name.as_str().to_owned(),
                    age: now.saturating_duration_since(e.fetched),
                    window: s.opts.ttl + s.opts.stale_window,
                    cause: err.to_string(),
                }),
                None => Err(err),
            },
            Err(err) => Err(err),
        }
    }
}

impl Shared {
    fn shard(&self, name: &SecretName) -> &RwLock<HashMap<SecretName, Slots>> {
        &self.shards[(self.hasher.hash_one(name) as usize) % SHARDS]
    }

    fn lookup(&self, name: &SecretName, which: &VersionSelector) -> Option<Arc<Entry>> {
        self.shard(name).read().ok()?.get(name)?.get(which).cloned()
    }

    fn nanos_since_base(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_nanos() as u64
    }

    fn insert(&self, name: &SecretName, which: &VersionSelector, v: &Versioned, fetched: Instant) {
        let entry = Arc::new(Entry {
            value: secret_from(v.value.expose_secret()),
            version: v.version.clone(),
            created: v.created,
            fetched,
            refreshing: AtomicBool::new(false),
            next_try: AtomicU64::new(0),
        });
        let Ok(mut map) = self.shard(name).write() else { return };
        if let Some(slots) = map.get_mut(name) {
            slots.set(which, entry);
        } else if self.names.load(Ordering::Relaxed) < self.opts.max_entries {
            self.names.fetch_add(1, Ordering::Relaxed);
            map.entry(name.clone()).or_default().set(which, entry);
        } else {
            tracing::warn!(max = self.opts.max_entries, "secret cache full; reading through uncached");
        }
    }

    fn evict(&self, name: &SecretName) {
        let Ok(mut map) = self.shard(name).write() else { return };
        if map.remove(name).is_some() {
            self.names.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn evict_one(&self, name: &SecretName, which: &VersionSelector) {
        let Ok(mut map) = self.shard(name).write() else { return };
        if let Some(slots) = map.get_mut(name) {
            slots.clear(which);
        }
    }

    fn register(&self, name: &SecretName, value: &SecretBox<[u8]>) {
        if let Some(r) = &self.redactor {
            r.register(name.as_str(), value.expose_secret());
        }
    }

    async fn fetch(&self, name: &SecretName, which: &VersionSelector) -> Result<Versioned, SecretsError> {
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let fetched = self.clock.instant();
        match self.inner.read(name, which).await {
            Ok(v) => {
                self.register(name, &v.value);
                self.insert(name, which, &v, fetched);
                Ok(v)
            }
            Err(e) => {
                if matches!(e, SecretsError::NotFound { .. }) {
                    self.evict(name);
                } else if matches!(e, SecretsError::VersionNotFound { .. }) {
                    self.evict_one(name, which);
                }
                Err(e)
            }
        }
    }

    fn spawn_refresh(this: &Arc<Self>, name: &SecretName, which: &VersionSelector, entry: &Arc<Entry>, now: Instant) {
        if this.nanos_since_base(now) < entry.next_try.load(Ordering::Relaxed) {
            return;
        }
        if entry.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            entry.refreshing.store(false, Ordering::Release);
            return;
        };
        let (shared, name, which, entry) = (this.clone(), name.clone(), which.clone(), entry.clone());
        handle.spawn(async move {
            if let Err(e) = shared.fetch(&name, &which).await {
                shared.counters.refresh_failures.fetch_add(1, Ordering::Relaxed);
                let retry = shared.nanos_since_base(shared.clock.instant() + shared.opts.retry_backoff);
                entry.next_try.store(retry, Ordering::Relaxed);
                tracing::warn!(secret = %name.as_str(), error = %e, "secret refresh failed; serving the cached value");
            }
            entry.refreshing.store(false, Ordering::Release);
        });
    }
}

impl VersionedSecretStore for CachedStore {
    fn backend_kind(&self) -> &'static str {
        self.shared.inner.backend_kind()
    }

    fn read<'a>(
        &'a self,
        name: &'a SecretName,
        which: &'a VersionSelector,
    ) -> BoxFuture<'a, Result<Versioned, SecretsError>> {
        Box::pin(self.read_cached(name, which))
    }

    fn write<'a>(
        &'a self,
        name: &'a SecretName,
        value: SecretBox<[u8]>,
    ) -> BoxFuture<'a, Result<VersionId, SecretsError>> {
        Box::pin(async move {
            let copy = secret_from(value.expose_secret());
            let version = self.shared.inner.write(name, value).await?;
            self.shared.register(name, &copy);
            self.shared.evict(name);
            let v = Versioned { value: copy, version: version.clone(), created: Some(self.shared.clock.now()) };
            self.shared.insert(name, &VersionSelector::Current, &v, self.shared.clock.instant());
            Ok(version)
        })
    }

    fn remove<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            let r = self.shared.inner.remove(name).await;
            self.shared.evict(name);
            r
        })
    }

    fn names(&self) -> BoxFuture<'_, Result<Vec<SecretName>, SecretsError>> {
        self.shared.inner.names()
    }

    fn versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretsError>> {
        self.shared.inner.versions(name)
    }

    fn generate_random(&self, len: usize) -> BoxFuture<'_, Result<SecretBox<[u8]>, SecretsError>> {
        self.shared.inner.generate_random(len)
    }
}

crate::store::impl_secret_store!(CachedStore);

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::memory::MemoryStore;

    /// A clock tests move by hand.
    #[derive(Debug)]
    pub(crate) struct ManualClock {
        start: Instant,
        offset: Mutex<Duration>,
    }

    impl ManualClock {
        pub(crate) fn new() -> Arc<Self> {
            Arc::new(Self { start: Instant::now(), offset: Mutex::new(Duration::ZERO) })
        }
        pub(crate) fn advance(&self, d: Duration) {
            *self.offset.lock().unwrap() += d;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> SystemTime {
            SystemTime::now() + *self.offset.lock().unwrap()
        }
        fn instant(&self) -> Instant {
            self.start + *self.offset.lock().unwrap()
        }
    }

    fn n(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }

    fn opts() -> CacheOptions {
        CacheOptions {
            ttl: Duration::from_secs(10),
            stale_window: Duration::from_secs(20),
            max_entries: 100,
            retry_backoff: Duration::from_secs(1),
        }
    }

    async fn settle(c: &CachedStore) {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        let _ = c;
    }

    #[tokio::test]
    async fn ttl_then_stale_then_error() {
        let mem = Arc::new(MemoryStore::default());
        let clock = ManualClock::new();
        let c = CachedStore::with_clock(mem.clone(), opts(), None, clock.clone());
        mem.write(&n("a"), secret_from(b"v1")).await.unwrap();
        let cur = VersionSelector::Current;
        assert_eq!(c.read(&n("a"), &cur).await.unwrap().value.expose_secret(), b"v1");
        assert_eq!(c.stats().misses, 1);

        // within TTL: no backend call, even when the backend changed
        mem.write(&n("a"), secret_from(b"v2")).await.unwrap();
        clock.advance(Duration::from_secs(5));
        assert_eq!(c.read(&n("a"), &cur).await.unwrap().value.expose_secret(), b"v1");
        assert_eq!(c.stats().misses, 1);

        // past TTL: stale value served at once, refreshed in the background
        clock.advance(Duration::from_secs(6));
        assert_eq!(c.read(&n("a"), &cur).await.unwrap().value.expose_secret(), b"v1");
        settle(&c).await;
        assert_eq!(c.read(&n("a"), &cur).await.unwrap().value.expose_secret(), b"v2");

        // backend down: served stale until ttl + window, then a clear error
        mem.set_offline(true);
        clock.advance(Duration::from_secs(15));
        assert_eq!(c.read(&n("a"), &cur).await.unwrap().value.expose_secret(), b"v2");
        settle(&c).await;
        assert!(c.stats().refresh_failures >= 1);
        clock.advance(Duration::from_secs(14));
        assert_eq!(c.read(&n("a"), &cur).await.unwrap().value.expose_secret(), b"v2");
        clock.advance(Duration::from_secs(2));
        let err = c.read(&n("a"), &cur).await.unwrap_err();
        assert!(matches!(err, SecretsError::StaleBeyondWindow { .. }), "{err}");
        assert!(err.to_string().contains("stale_window_secs"));
        assert!(!err.to_string().contains("v2"));

        // backend back: recovers
        mem.set_offline(false);
        assert_eq!(c.read(&n("a"), &cur).await.unwrap().value.expose_secret(), b"v2");
    }

    #[tokio::test]
    async fn write_through_delete_and_not_found() {
        let mem = Arc::new(MemoryStore::default());
        let redactor = Arc::new(Redactor::default());
        let c = CachedStore::new(mem.clone(), opts(), Some(redactor.clone()));
        c.write(&n("k"), secret_from(b"secret-one")).await.unwrap();
        assert_eq!(redactor.redact("x secret-one y"), "x [REDACTED:k] y");
        let misses = c.stats().misses;
        assert_eq!(c.read(&n("k"), &VersionSelector::Current).await.unwrap().value.expose_secret(), b"secret-one");
        assert_eq!(c.stats().misses, misses);
        c.write(&n("k"), secret_from(b"secret-two")).await.unwrap();
        assert_eq!(c.read(&n("k"), &VersionSelector::Previous).await.unwrap().value.expose_secret(), b"secret-one");
        c.remove(&n("k")).await.unwrap();
        assert!(matches!(c.read(&n("k"), &VersionSelector::Current).await, Err(SecretsError::NotFound { .. })));
        // an outage does not turn "not found" into a stale value
        mem.set_offline(true);
        assert!(c.read(&n("k"), &VersionSelector::Current).await.unwrap_err().is_transient());
    }

    #[tokio::test]
    async fn capacity_is_bounded() {
        let mem = Arc::new(MemoryStore::default());
        let c = CachedStore::new(mem.clone(), CacheOptions { max_entries: 2, ..opts() }, None);
        for i in 0..5 {
            c.write(&n(&format!("s{i}")), secret_from(b"v")).await.unwrap();
        }
        assert_eq!(c.shared.names.load(Ordering::Relaxed), 2);
        for i in 0..5 {
            c.read(&n(&format!("s{i}")), &VersionSelector::Current).await.unwrap();
        }
    }
}
