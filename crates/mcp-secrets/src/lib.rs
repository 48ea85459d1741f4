//! Secret stores for mcp-secure.
//!
//! - Backends implementing [`mcp_core::traits::SecretStore`] and its versioned extension
//!   [`VersionedSecretStore`]: [`local::LocalStore`] (AES-256-GCM file, default),
//!   [`memory::MemoryStore`], `vault::VaultStore` (feature `vault`), `aws::AwsStore`
//!   (feature `aws`).
//! - [`CachedStore`]: read-through cache with TTL and bounded stale-while-revalidate.
//! - [`Rotator`]: generated rotations, in-process rotation events, schedules, rollback.
//! - [`Redactor`]: masks every loaded secret value in text.
//! - [`SecretsConfig`] + [`build`]: the `[secrets]` config section to a ready [`Secrets`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use mcp_secrets::{Generator, SecretsConfig, VersionSelector, Watch};
//! use mcp_core::traits::SecretName;
//!
//! let cfg: SecretsConfig = serde_json::from_str(r#"{"backend": "memory"}"#).unwrap();
//! let secrets = mcp_secrets::build(&cfg).await.unwrap();
//! let name = SecretName::parse("jwt/hmac").unwrap();
//! let mut events = secrets.subscribe(Watch::Prefix("jwt/".into()));
//! secrets.rotate(&name, &Generator::Alphanumeric { len: 40 }).await.unwrap();
//! let ev = events.recv().await.unwrap();
//! let accepted = secrets.accepted(&name).await.unwrap();
//! assert_eq!(accepted.current.version, ev.version);
//! let text = String::from_utf8(secrecy::ExposeSecret::expose_secret(&accepted.current.value).to_vec()).unwrap();
//! assert_eq!(secrets.redactor().redact(&format!("token={text}")), "token=[REDACTED:jwt/hmac]");
//! # });
//! ```

pub mod cache;
pub mod config;
pub mod error;
pub mod local;
pub mod memory;
pub mod redact;
pub mod rotation;
pub mod schedule;
pub mod store;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "vault")]
pub mod vault;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mcp_core::traits::SecretName;
use secrecy::SecretBox;

pub use cache::{CacheOptions, CachedStore};
pub use config::{
    BackendKind, BuildOptions, SecretsConfig, build, build_backend, build_backend_with_env, build_backend_with_options,
    build_with_env, build_with_options,
};
pub use error::SecretsError;
pub use redact::Redactor;
pub use rotation::{Generator, RotateOptions, RotationEvent, RotationSchedule, Rotator, Subscription, Watch};
pub use schedule::{GeneratorKind, Period, ScheduledRotation};
pub use store::{VersionId, VersionInfo, VersionSelector, Versioned, VersionedSecretStore};

/// The values a consumer should accept for a rotated secret: the current one, and the previous
/// one while the current is younger than the grace period.
#[derive(Debug)]
pub struct Accepted {
    /// The current version.
    pub current: Versioned,
    /// The previous version, during the grace period only.
    pub previous: Option<Versioned>,
}

/// The assembled secrets service: a backend behind a cache, a redactor that sees every loaded
/// value, and a rotator. Cheap to clone.
#[derive(Clone)]
pub struct Secrets {
    cached: CachedStore,
    redactor: Arc<Redactor>,
    rotator: Rotator,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets").field("store", &self.cached).field("redactor", &self.redactor).finish()
    }
}

impl Secrets {
    /// Assemble from a backend.
    pub fn new(
        backend: Arc<dyn VersionedSecretStore>,
        cache: CacheOptions,
        grace: Duration,
        redactor: Arc<Redactor>,
    ) -> Self {
        let cached = CachedStore::new(backend, cache, Some(redactor.clone()));
        let rotator = Rotator::new(Arc::new(cached.clone()), grace);
        Self { cached, redactor, rotator }
    }

    /// The cached store, as a trait object (what the server hands to its components).
    pub fn store(&self) -> Arc<dyn VersionedSecretStore> {
        Arc::new(self.cached.clone())
    }

    /// The cached store.
    pub fn cached(&self) -> &CachedStore {
        &self.cached
    }

    /// The uncached backend.
    pub fn backend(&self) -> &Arc<dyn VersionedSecretStore> {
        self.cached.inner()
    }

    /// The redactor every loaded value is registered with.
    pub fn redactor(&self) -> &Arc<Redactor> {
        &self.redactor
    }

    /// The rotator.
    pub fn rotator(&self) -> &Rotator {
        &self.rotator
    }

    /// The current value (cached).
    pub async fn get(&self, name: &SecretName) -> Result<SecretBox<[u8]>, SecretsError> {
        Ok(self.cached.read(name, &VersionSelector::Current).await?.value)
    }

    /// The current value and, during the grace period after a rotation, the previous one: what
    /// a verifier (JWT HMAC, API-key pepper, audit HMAC) should accept.
    pub async fn accepted(&self, name: &SecretName) -> Result<Accepted, SecretsError> {
        let current = self.cached.read(name, &VersionSelector::Current).await?;
        let young = current
            .created
            .and_then(|c| std::time::SystemTime::now().duration_since(c).ok())
            .is_some_and(|age| age < self.rotator.grace_for(name));
        let previous = if young {
            match self.cached.read(name, &VersionSelector::Previous).await {
                Ok(p) => Some(p),
                Err(SecretsError::VersionNotFound { .. }) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok(Accepted { current, previous })
    }

    /// Rotate with default options (notify subscribers, default grace).
    pub async fn rotate(&self, name: &SecretName, generator: &Generator) -> Result<RotationEvent, SecretsError> {
        self.rotator.rotate(name, generator, RotateOptions::default()).await
    }

    /// Watch rotations of one secret or a prefix.
    pub fn subscribe(&self, watch: impl Into<Watch>) -> Subscription {
        self.rotator.subscribe(watch)
    }

    /// Rotate on a schedule until the handle is dropped.
    pub fn rotate_every(&self, name: SecretName, generator: Generator, every: Duration) -> RotationSchedule {
        self.rotator.rotate_every(name, generator, every)
    }

    /// Start every `[[secrets.rotation]]` entry of `cfg` on the current tokio runtime (call it
    /// once the server runs; keep the handles: dropping one stops its schedule). The next
    /// rotation of each secret is its current version's creation time plus `every`, so restarts
    /// neither rotate early nor postpone; a missing secret is created at once; an overdue one is
    /// rotated at once. Failures are logged and retried with backoff (30 s doubling to 1 h).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let cfg: mcp_secrets::SecretsConfig = toml::from_str(r#"
    ///     backend = "memory"
    ///     [[rotation]]
    ///     name = "jwt/hmac"
    ///     every = "30d"
    ///     generator = "alphanumeric"
    ///     length = 48
    /// "#).unwrap();
    /// let secrets = mcp_secrets::build(&cfg).await.unwrap();
    /// let name = mcp_core::traits::SecretName::parse("jwt/hmac").unwrap();
    /// let mut events = secrets.subscribe(name.clone());
    /// let schedules = secrets.start_schedules(&cfg).unwrap();
    /// assert_eq!(schedules[0].name(), &name);
    /// // the secret did not exist: it is created at once
    /// let ev = events.recv().await.unwrap();
    /// assert_eq!(secrets.accepted(&name).await.unwrap().current.version, ev.version);
    /// # });
    /// ```
    pub fn start_schedules(&self, cfg: &SecretsConfig) -> Result<Vec<RotationSchedule>, SecretsError> {
        self.start_schedules_with_clock(cfg, Arc::new(mcp_core::SystemClock))
    }

    /// [`start_schedules`](Self::start_schedules) comparing version times with `clock`'s wall
    /// time (tests).
    pub fn start_schedules_with_clock(
        &self,
        cfg: &SecretsConfig,
        clock: Arc<dyn mcp_core::Clock>,
    ) -> Result<Vec<RotationSchedule>, SecretsError> {
        schedule::validate_all(
            &cfg.rotation,
            Duration::from_secs(cfg.rotation_grace_secs),
            self.backend().backend_kind(),
        )?;
        cfg.rotation.iter().map(|r| self.rotator.schedule(r, clock.clone())).collect()
    }

    /// Make the previous version current again.
    pub async fn rollback(&self, name: &SecretName) -> Result<RotationEvent, SecretsError> {
        self.rotator.rollback(name).await
    }

    /// A view that can read only `declared` (what a tool's handler gets in its call context).
    pub fn scoped(&self, declared: impl IntoIterator<Item = SecretName>) -> ScopedSecrets {
        let mut names: Vec<SecretName> = declared.into_iter().collect();
        names.sort();
        names.dedup();
        ScopedSecrets { secrets: self.clone(), declared: names.into() }
    }
}

/// Read access limited to the secrets a tool declared. Cheap to clone.
#[derive(Clone)]
pub struct ScopedSecrets {
    secrets: Secrets,
    declared: Arc<[SecretName]>,
}

impl fmt::Debug for ScopedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedSecrets").field("declared", &self.declared).finish_non_exhaustive()
    }
}

impl ScopedSecrets {
    /// The declared names.
    pub fn declared(&self) -> &[SecretName] {
        &self.declared
    }

    /// The current value of a declared secret; any other name is [`SecretsError::NotDeclared`]
    /// (checked before the store is asked, so undeclared names cannot be probed).
    pub async fn get(&self, name: &str) -> Result<SecretBox<[u8]>, SecretsError> {
        let Some(n) = self.declared.iter().find(|n| n.as_str() == name) else {
            return Err(SecretsError::NotDeclared { name: name.chars().take(256).collect() });
        };
        self.secrets.get(n).await
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::memory::MemoryStore;

    #[tokio::test]
    async fn accepted_includes_previous_only_during_grace() {
        let name = SecretName::parse("audit/hmac").unwrap();
        let s = Secrets::new(
            Arc::new(MemoryStore::default()),
            CacheOptions::default(),
            Duration::from_secs(3600),
            Arc::new(Redactor::default()),
        );
        s.rotate(&name, &Generator::default()).await.unwrap();
        assert!(s.accepted(&name).await.unwrap().previous.is_none());
        s.rotate(&name, &Generator::default()).await.unwrap();
        let a = s.accepted(&name).await.unwrap();
        let prev = a.previous.unwrap();
        assert_ne!(prev.value.expose_secret(), a.current.value.expose_secret());

        let no_grace = Secrets::new(
            Arc::new(MemoryStore::default()),
            CacheOptions::default(),
            Duration::ZERO,
            Arc::new(Redactor::default()),
        );
        no_grace.rotate(&name, &Generator::default()).await.unwrap();
        no_grace.rotate(&name, &Generator::default()).await.unwrap();
        assert!(no_grace.accepted(&name).await.unwrap().previous.is_none());
        // every generated value was registered for masking
        assert_eq!(s.redactor().len(), 2);
    }

    #[tokio::test]
    async fn scoped_view_reads_only_declared_secrets() {
        let s = Secrets::new(
            Arc::new(MemoryStore::default()),
            CacheOptions::default(),
            Duration::from_secs(60),
            Arc::new(Redactor::default()),
        );
        for n in ["github_token", "db/password"] {
            s.cached().write(&SecretName::parse(n).unwrap(), store::secret_from(b"value-1234")).await.unwrap();
        }
        let scoped = s.scoped([SecretName::parse("github_token").unwrap()]);
        assert_eq!(scoped.get("github_token").await.unwrap().expose_secret(), b"value-1234");
        let err = scoped.get("db/password").await.unwrap_err();
        assert!(matches!(err, SecretsError::NotDeclared { .. }));
        assert_eq!(err.kind(), mcp_core::ErrorKind::Forbidden);
        assert!(matches!(scoped.get("../x").await, Err(SecretsError::NotDeclared { .. })));
    }
}
