//! Scheduled rotation from `[[secrets.rotation]]`.
//!
//! The next rotation time is derived from the creation time of the secret's current version, not
//! from when the process started: a restart neither rotates at once (unless a rotation is
//! overdue) nor pushes the rotation back by a whole period. A secret that does not exist yet is
//! created at once. Right before rotating, the schedule asks the backend again, so a rotation
//! made meanwhile by an operator or another replica moves the next one instead of adding one.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_core::Clock;
use mcp_core::traits::SecretName;
use serde::Deserialize;

use crate::error::SecretsError;
use crate::rotation::{Generator, RotateOptions, RotationSchedule, Rotator};
use crate::store::MAX_VALUE_LEN;

mod period;
pub use period::Period;

/// Shortest period accepted from the config.
pub const MIN_PERIOD: Duration = Duration::from_secs(60);
/// Longest period accepted (ten years).
pub const MAX_PERIOD: Duration = Duration::from_secs(3650 * 86_400);
/// Shortest generated value accepted from the config (bytes or characters).
pub const MIN_LENGTH: usize = 16;
/// A running schedule wakes at least this often to re-read the clock (suspend, clock steps).
const MAX_NAP: Duration = Duration::from_secs(3600);
/// First retry delay after a failed rotation; doubles up to [`MAX_RETRY`] (or the period).
const FIRST_RETRY: Duration = Duration::from_secs(30);
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// How a scheduled rotation makes the new value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorKind {
    /// `length` bytes from the system CSPRNG (default).
    #[default]
    RandomBytes,
    /// `length` characters of `[A-Za-z0-9]` from the system CSPRNG.
    Alphanumeric,
    /// The backend's generator (Vault / OpenBao, AWS); see [`Generator::Backend`].
    Backend,
}

fn default_length() -> usize {
    32
}
fn default_true() -> bool {
    true
}

/// One `[[secrets.rotation]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledRotation {
    /// The secret to rotate.
    pub name: String,
    /// How often, e.g. `"30d"` (at least one minute).
    pub every: Period,
    /// `random_bytes` (default), `alphanumeric` or `backend`.
    #[serde(default)]
    pub generator: GeneratorKind,
    /// Length of the new value in bytes or characters (default 32, at least 16).
    #[serde(default = "default_length")]
    pub length: usize,
    /// Send rotation events to in-process subscribers (default true).
    #[serde(default = "default_true")]
    pub notify_subscribers: bool,
    /// How long the previous value stays accepted after each rotation, seconds (default:
    /// `rotation_grace_secs`). Must be shorter than `every`.
    #[serde(default)]
    pub grace_secs: Option<u64>,
}

impl ScheduledRotation {
    /// The generator this entry describes.
    pub fn generator(&self) -> Generator {
        let len = self.length;
        match self.generator {
            GeneratorKind::RandomBytes => Generator::RandomBytes { len },
            GeneratorKind::Alphanumeric => Generator::Alphanumeric { len },
            GeneratorKind::Backend => Generator::Backend { len },
        }
    }

    /// The secret name, checked.
    pub fn secret_name(&self) -> Result<SecretName, SecretsError> {
        SecretName::parse(&self.name).map_err(|_| {
            SecretsError::Config(format!(
                "rotation.name {:?} is not a valid secret name ([A-Za-z0-9_./-] segments separated by '/')",
                self.name.chars().take(64).collect::<String>()
            ))
        })
    }

    /// Check the entry; `default_grace` is `rotation_grace_secs`, `backend` the backend kind.
    pub fn validate(&self, default_grace: Duration, backend: &str) -> Result<(), SecretsError> {
        let name = self.secret_name()?;
        let n = name.as_str();
        let every = self.every.as_duration();
        if !(MIN_PERIOD..=MAX_PERIOD).contains(&every) {
            return Err(SecretsError::Config(format!("rotation '{n}': every must be between 1m and 3650d")));
        }
        if !(MIN_LENGTH..=MAX_VALUE_LEN).contains(&self.length) {
            return Err(SecretsError::Config(format!(
                "rotation '{n}': length must be {MIN_LENGTH}..={MAX_VALUE_LEN} (shorter generated secrets are guessable)"
            )));
        }
        let grace = self.grace_secs.map_or(default_grace, Duration::from_secs);
        if grace >= every {
            return Err(SecretsError::Config(format!(
                "rotation '{n}': the grace period ({}s) must be shorter than every ({}s), or the previous value would never stop being accepted",
                grace.as_secs(),
                every.as_secs()
            )));
        }
        if self.generator == GeneratorKind::Backend && !matches!(backend, "vault" | "aws_secrets_manager") {
            return Err(SecretsError::Config(format!(
                "rotation '{n}': generator = \"backend\" needs backend = \"vault\" or \"aws_secrets_manager\" ({backend} has no generator)"
            )));
        }
        Ok(())
    }
}

/// Check a list of entries: each one, and no secret scheduled twice.
pub(crate) fn validate_all(
    rules: &[ScheduledRotation],
    default_grace: Duration,
    backend: &str,
) -> Result<(), SecretsError> {
    let mut seen = std::collections::HashSet::new();
    for r in rules {
        r.validate(default_grace, backend)?;
        if !seen.insert(r.name.as_str()) {
            return Err(SecretsError::Config(format!("rotation '{}' is scheduled twice", r.name)));
        }
    }
    Ok(())
}

/// When the current version of `name` is due for rotation, per the backend (a secret that does
/// not exist is due now). A version without a creation time counts from `started` or this
/// schedule's `last` rotation; after a rotation of our own the next is never sooner than one
/// period later, even if the backend's clock lags ours (no burst of rotations).
async fn due_at(
    rotator: &Rotator,
    name: &SecretName,
    every: Duration,
    started: SystemTime,
    last: Option<SystemTime>,
) -> Result<SystemTime, SecretsError> {
    let versions = match rotator.store.versions(name).await {
        Ok(v) => v,
        Err(SecretsError::NotFound { .. }) => return Ok(SystemTime::UNIX_EPOCH),
        Err(e) => return Err(e),
    };
    let created = versions.iter().find(|v| v.current).or(versions.first()).and_then(|v| v.created);
    let due = created.or(last).unwrap_or(started) + every;
    Ok(last.map_or(due, |l| due.max(l + every)))
}

impl Rotator {
    /// Run `rule` on the current tokio runtime until the returned handle is dropped, timing
    /// rotations from the current version's creation time as described in the
    /// [module docs](crate::schedule); `clock` gives the wall time compared with those creation
    /// times. Only the name is checked here: [`SecretsConfig::validate`](crate::SecretsConfig::validate)
    /// applies the config limits (period, length, grace), so code may schedule shorter periods.
    pub fn schedule(&self, rule: &ScheduledRotation, clock: Arc<dyn Clock>) -> Result<RotationSchedule, SecretsError> {
        spawn(self.clone(), rule, clock)
    }
}

fn spawn(rotator: Rotator, rule: &ScheduledRotation, clock: Arc<dyn Clock>) -> Result<RotationSchedule, SecretsError> {
    let name = rule.secret_name()?;
    let generator = rule.generator();
    let every = rule.every.as_duration();
    let opts =
        RotateOptions { notify_subscribers: rule.notify_subscribers, grace: rule.grace_secs.map(Duration::from_secs) };
    if let Some(g) = opts.grace {
        rotator.set_grace(&name, Some(g));
    }
    let task_name = name.clone();
    let task = tokio::spawn(async move {
        let name = task_name;
        let started = clock.now();
        let mut last: Option<SystemTime> = None;
        let mut retry = FIRST_RETRY.min(every);
        let mut due: Option<SystemTime> = None;
        loop {
            let at = match due {
                Some(t) => t,
                None => match due_at(&rotator, &name, every, started, last).await {
                    Ok(t) => *due.insert(t),
                    Err(e) => {
                        tracing::warn!(secret = %name.as_str(), error = %e, retry_secs = retry.as_secs(), "rotation schedule cannot read the secret's versions");
                        tokio::time::sleep(retry).await;
                        retry = (retry * 2).min(MAX_RETRY).min(every);
                        continue;
                    }
                },
            };
            let now = clock.now();
            if let Ok(wait) = at.duration_since(now)
                && !wait.is_zero()
            {
                // A creation time in the future (clock skew) never delays more than one period.
                tokio::time::sleep(wait.min(MAX_NAP).min(every)).await;
                if wait > every {
                    due = Some(now + every);
                }
                continue;
            }
            // Due: ask again, in case someone else rotated meanwhile.
            match due_at(&rotator, &name, every, started, last).await {
                Ok(t) if t > clock.now() => {
                    tracing::debug!(secret = %name.as_str(), "rotated elsewhere meanwhile; rescheduled");
                    due = Some(t);
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(secret = %name.as_str(), error = %e, retry_secs = retry.as_secs(), "scheduled rotation postponed");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(MAX_RETRY).min(every);
                    continue;
                }
            }
            match rotator.rotate(&name, &generator, opts).await {
                Ok(ev) => {
                    tracing::info!(secret = %name.as_str(), version = %ev.version, "scheduled rotation done");
                    last = Some(clock.now());
                    retry = FIRST_RETRY.min(every);
                    due = None;
                }
                Err(e) => {
                    tracing::warn!(secret = %name.as_str(), error = %e, retry_secs = retry.as_secs(), "scheduled rotation failed; will retry");
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(MAX_RETRY).min(every);
                }
            }
        }
    });
    Ok(RotationSchedule::new(name, task))
}

#[cfg(test)]
mod tests;
