//! Rotation: value generators, in-process rotation events, and a schedule helper.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use mcp_core::traits::SecretName;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretBox;
use serde::Deserialize;
use tokio::sync::broadcast;
use zeroize::Zeroizing;

use crate::error::SecretsError;
use crate::store::{MAX_VALUE_LEN, VersionId, VersionSelector, VersionedSecretStore};

const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// How a rotation makes the new value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Generator {
    /// `len` bytes from the CSPRNG.
    RandomBytes {
        /// Length in bytes.
        len: usize,
    },
    /// `len` characters of `[A-Za-z0-9]` from the CSPRNG (unbiased: rejection sampling).
    Alphanumeric {
        /// Length in characters.
        len: usize,
    },
    /// A value from the backend's own generator (see
    /// [`VersionedSecretStore::generate_random`]): `len` raw bytes from Vault / OpenBao
    /// `sys/tools/random`, `len` printable characters from AWS `GetRandomPassword`. Only a
    /// [`Rotator`] can use it; the local and memory stores have no such generator.
    Backend {
        /// Length in bytes (Vault) or characters (AWS).
        len: usize,
    },
}

impl Default for Generator {
    fn default() -> Self {
        Self::RandomBytes { len: 32 }
    }
}

impl Generator {
    /// The requested length.
    pub fn length(&self) -> usize {
        match *self {
            Self::RandomBytes { len } | Self::Alphanumeric { len } | Self::Backend { len } => len,
        }
    }

    /// Make a new value in process. [`Generator::Backend`] is a [`SecretsError::Config`] here:
    /// it needs the store, which [`Rotator::rotate`] asks.
    pub fn generate(&self) -> Result<SecretBox<[u8]>, SecretsError> {
        let rng = SystemRandom::new();
        let fail =
            || SecretsError::Unavailable { backend: "rotation", detail: "system random generator failed".into() };
        let len = self.length();
        if len == 0 || len > MAX_VALUE_LEN {
            return Err(SecretsError::ValueSize { len, max: MAX_VALUE_LEN });
        }
        let mut out = Zeroizing::new(vec![0u8; len]);
        match *self {
            Self::Backend { .. } => {
                return Err(SecretsError::Config(
                    "generator `backend` asks the secrets backend for the value: rotate through a Rotator".into(),
                ));
            }
            Self::RandomBytes { .. } => rng.fill(&mut out).map_err(|_| fail())?,
            Self::Alphanumeric { .. } => {
                let mut filled = 0;
                let mut buf = Zeroizing::new([0u8; 64]);
                while filled < len {
                    rng.fill(&mut buf[..]).map_err(|_| fail())?;
                    // 248 = 4 * 62: accepting only bytes below it keeps every character equally likely.
                    for &b in buf.iter().filter(|&&b| b < 248) {
                        if filled == len {
                            break;
                        }
                        out[filled] = ALPHANUMERIC[usize::from(b % 62)];
                        filled += 1;
                    }
                }
            }
        }
        Ok(SecretBox::new(out.to_vec().into_boxed_slice()))
    }
}

/// A secret got a new version through [`Rotator::rotate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationEvent {
    /// The secret.
    pub name: SecretName,
    /// The new current version.
    pub version: VersionId,
    /// The version it replaced, if any.
    pub previous: Option<VersionId>,
    /// When.
    pub at: SystemTime,
    /// How long consumers should keep accepting the previous value.
    pub grace: Duration,
}

/// What a subscription watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Watch {
    /// One secret.
    Name(SecretName),
    /// Every secret whose name starts with this prefix (`""` = all).
    Prefix(String),
}

impl Watch {
    fn matches(&self, name: &SecretName) -> bool {
        match self {
            Self::Name(n) => n == name,
            Self::Prefix(p) => name.as_str().starts_with(p.as_str()),
        }
    }
}

impl From<SecretName> for Watch {
    fn from(n: SecretName) -> Self {
        Self::Name(n)
    }
}

/// Why [`Subscription::recv`] returned no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// The subscriber fell behind and `0` events were dropped: re-read the secrets you use.
    #[error("missed {0} rotation events: re-read the secrets you use")]
    Lagged(u64),
    /// The rotator is gone.
    #[error("the rotator was dropped")]
    Closed,
}

/// Receives rotation events matching a [`Watch`].
#[derive(Debug)]
pub struct Subscription {
    rx: broadcast::Receiver<RotationEvent>,
    watch: Watch,
}

impl Subscription {
    /// The next matching event.
    pub async fn recv(&mut self) -> Result<RotationEvent, RecvError> {
        loop {
            match self.rx.recv().await {
                Ok(ev) if self.watch.matches(&ev.name) => return Ok(ev),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => return Err(RecvError::Lagged(n)),
                Err(broadcast::error::RecvError::Closed) => return Err(RecvError::Closed),
            }
        }
    }
}

/// Options of one rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotateOptions {
    /// Send a [`RotationEvent`] to subscribers (default true).
    pub notify_subscribers: bool,
    /// Grace period announced with the event; `None` = the rotator's default.
    pub grace: Option<Duration>,
}

impl Default for RotateOptions {
    fn default() -> Self {
        Self { notify_subscribers: true, grace: None }
    }
}

/// Rotates secrets in a store and tells subscribers. Cheap to clone.
#[derive(Clone)]
pub struct Rotator {
    pub(crate) store: Arc<dyn VersionedSecretStore>,
    tx: broadcast::Sender<RotationEvent>,
    grace: Duration,
    /// Per-secret grace periods (from `[[secrets.rotation]]`), overriding `grace`.
    overrides: Arc<RwLock<HashMap<SecretName, Duration>>>,
}

impl fmt::Debug for Rotator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rotator")
            .field("store", &self.store.backend_kind())
            .field("subscribers", &self.tx.receiver_count())
            .field("grace", &self.grace)
            .finish()
    }
}

impl Rotator {
    /// A rotator over `store` (pass the cached store so readers see the new value at once)
    /// announcing `grace` by default. Up to 1024 undelivered events are buffered per subscriber.
    pub fn new(store: Arc<dyn VersionedSecretStore>, grace: Duration) -> Self {
        Self { store, tx: broadcast::channel(1024).0, grace, overrides: Arc::default() }
    }

    /// Default grace period.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The grace period of `name`: its own (see [`set_grace`](Self::set_grace)) or the default.
    pub fn grace_for(&self, name: &SecretName) -> Duration {
        self.overrides.read().ok().and_then(|m| m.get(name).copied()).unwrap_or(self.grace)
    }

    /// Give `name` its own grace period (shared by every clone of this rotator); `None` returns
    /// it to the default.
    pub fn set_grace(&self, name: &SecretName, grace: Option<Duration>) {
        if let Ok(mut m) = self.overrides.write() {
            match grace {
                Some(g) => m.insert(name.clone(), g),
                None => m.remove(name),
            };
        }
    }

    /// Watch one secret or a prefix.
    pub fn subscribe(&self, watch: impl Into<Watch>) -> Subscription {
        Subscription { rx: self.tx.subscribe(), watch: watch.into() }
    }

    /// Write a freshly generated value as the new current version. The replaced version stays
    /// readable as [`VersionSelector::Previous`].
    pub async fn rotate(
        &self,
        name: &SecretName,
        generator: &Generator,
        opts: RotateOptions,
    ) -> Result<RotationEvent, SecretsError> {
        let previous = match self.store.read(name, &VersionSelector::Current).await {
            Ok(v) => Some(v.version),
            Err(SecretsError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let value = match *generator {
            Generator::Backend { len } => {
                if len == 0 || len > MAX_VALUE_LEN {
                    return Err(SecretsError::ValueSize { len, max: MAX_VALUE_LEN });
                }
                self.store.generate_random(len).await?
            }
            _ => generator.generate()?,
        };
        let version = self.store.write(name, value).await?;
        let ev = RotationEvent {
            name: name.clone(),
            version,
            previous,
            at: SystemTime::now(),
            grace: opts.grace.unwrap_or_else(|| self.grace_for(name)),
        };
        tracing::info!(secret = %name.as_str(), version = %ev.version, "rotated secret");
        if opts.notify_subscribers {
            let _ = self.tx.send(ev.clone());
        }
        Ok(ev)
    }

    /// Make the previous version current again (as a new version), e.g. after a bad rotation.
    pub async fn rollback(&self, name: &SecretName) -> Result<RotationEvent, SecretsError> {
        let current = self.store.read(name, &VersionSelector::Current).await?;
        let previous = self.store.read(name, &VersionSelector::Previous).await?;
        let version = self.store.write(name, previous.value).await?;
        let ev = RotationEvent {
            name: name.clone(),
            version,
            previous: Some(current.version),
            at: SystemTime::now(),
            grace: self.grace_for(name),
        };
        let _ = self.tx.send(ev.clone());
        Ok(ev)
    }

    /// Rotate `name` every `every` (first rotation after one period) on the current tokio runtime
    /// until the returned handle is dropped. Failures are logged and retried next period.
    pub fn rotate_every(&self, name: SecretName, generator: Generator, every: Duration) -> RotationSchedule {
        let this = self.clone();
        let name_of_task = name.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.rotate(&name, &generator, RotateOptions::default()).await {
                    tracing::warn!(secret = %name.as_str(), error = %e, "scheduled rotation failed; retrying next period");
                }
            }
        });
        RotationSchedule::new(name_of_task, task)
    }
}

/// A running rotation schedule; dropping it stops the schedule.
#[derive(Debug)]
pub struct RotationSchedule {
    name: SecretName,
    task: tokio::task::JoinHandle<()>,
}

impl RotationSchedule {
    pub(crate) fn new(name: SecretName, task: tokio::task::JoinHandle<()>) -> Self {
        Self { name, task }
    }

    /// The secret this schedule rotates.
    pub fn name(&self) -> &SecretName {
        &self.name
    }

    /// Whether the schedule's task is still running (it stops only when dropped or aborted by
    /// the runtime shutting down).
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for RotationSchedule {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::memory::MemoryStore;

    fn n(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }

    #[test]
    fn generators() {
        let v = Generator::Alphanumeric { len: 200 }.generate().unwrap();
        assert_eq!(v.expose_secret().len(), 200);
        assert!(v.expose_secret().iter().all(u8::is_ascii_alphanumeric));
        let a = Generator::RandomBytes { len: 32 }.generate().unwrap();
        let b = Generator::RandomBytes { len: 32 }.generate().unwrap();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(Generator::RandomBytes { len: 0 }.generate().is_err());
        let g: Generator = serde_json::from_str(r#"{"kind":"alphanumeric","len":12}"#).unwrap();
        assert_eq!(g, Generator::Alphanumeric { len: 12 });
    }

    #[tokio::test]
    async fn rotate_notifies_matching_subscribers_and_rolls_back() {
        let store = Arc::new(MemoryStore::default());
        let r = Rotator::new(store.clone(), Duration::from_secs(60));
        let mut by_name = r.subscribe(n("jwt/hmac"));
        let mut by_prefix = r.subscribe(Watch::Prefix("jwt/".into()));
        let mut other = r.subscribe(Watch::Prefix("db/".into()));
        let first = r.rotate(&n("jwt/hmac"), &Generator::default(), RotateOptions::default()).await.unwrap();
        assert_eq!(first.previous, None);
        let second = r.rotate(&n("jwt/hmac"), &Generator::default(), RotateOptions::default()).await.unwrap();
        assert_eq!(second.previous, Some(first.version.clone()));
        assert_eq!(by_name.recv().await.unwrap(), first);
        assert_eq!(by_name.recv().await.unwrap(), second);
        assert_eq!(by_prefix.recv().await.unwrap(), first);
        r.rotate(&n("api"), &Generator::default(), RotateOptions { notify_subscribers: false, grace: None })
            .await
            .unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(20), other.recv()).await.is_err());

        let old = store.read(&n("jwt/hmac"), &VersionSelector::Previous).await.unwrap();
        r.rollback(&n("jwt/hmac")).await.unwrap();
        let now = store.read(&n("jwt/hmac"), &VersionSelector::Current).await.unwrap();
        assert_eq!(now.value.expose_secret(), old.value.expose_secret());
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_rotates_until_dropped() {
        let store = Arc::new(MemoryStore::new(100));
        let r = Rotator::new(store.clone(), Duration::from_secs(60));
        let mut sub = r.subscribe(n("k"));
        let sched = r.rotate_every(n("k"), Generator::Alphanumeric { len: 16 }, Duration::from_secs(3600));
        sub.recv().await.unwrap();
        sub.recv().await.unwrap();
        drop(sched);
        tokio::time::sleep(Duration::from_secs(7200)).await;
        assert_eq!(store.versions(&n("k")).await.unwrap().len(), 2);
    }
}
