//! The `[secrets]` configuration section and the function that turns it into a store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::Secrets;
use crate::cache::CacheOptions;
use crate::error::SecretsError;
use crate::local::{KeySource, LocalOptions, LocalStore};
use crate::memory::MemoryStore;
use crate::redact::Redactor;
use crate::schedule::ScheduledRotation;
use crate::store::VersionedSecretStore;

/// Default number of versions kept per secret by the local and memory stores.
pub const DEFAULT_KEEP_VERSIONS: usize = 2;

/// Environment lookup used to resolve variables named in the config.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Which backend stores the secrets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// One AES-256-GCM encrypted file (default, always compiled).
    #[default]
    LocalEncrypted,
    /// Process memory, for tests.
    Memory,
    /// HashiCorp Vault / OpenBao KV v2 (cargo feature `vault`).
    Vault,
    /// AWS Secrets Manager (cargo feature `aws`).
    AwsSecretsManager,
}

impl BackendKind {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LocalEncrypted => "local_encrypted",
            Self::Memory => "memory",
            Self::Vault => "vault",
            Self::AwsSecretsManager => "aws_secrets_manager",
        }
    }
}

/// `[secrets]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// `local_encrypted` (default), `memory`, `vault` or `aws_secrets_manager`.
    pub backend: BackendKind,
    /// Cache time-to-live per secret, seconds (default 300; 0 disables caching).
    pub cache_ttl_secs: u64,
    /// After the TTL, how long a cached value may still be served while the backend is down,
    /// seconds (default 900).
    pub stale_window_secs: u64,
    /// Most secret names cached (default 10000).
    pub cache_max_entries: usize,
    /// How long the previous version stays accepted after a rotation, seconds (default 3600).
    pub rotation_grace_secs: u64,
    /// Most secret values registered with the redactor (default 10000).
    pub redact_max_values: usize,
    /// `[secrets.local_encrypted]`.
    pub local_encrypted: LocalConfig,
    /// `[secrets.vault]`, required when `backend = "vault"`.
    pub vault: Option<VaultConfig>,
    /// `[secrets.aws_secrets_manager]`, required when `backend = "aws_secrets_manager"`.
    pub aws_secrets_manager: Option<AwsConfig>,
    /// `[[secrets.rotation]]`: secrets rotated on a schedule once the server runs
    /// ([`Secrets::start_schedules`]).
    pub rotation: Vec<ScheduledRotation>,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::default(),
            cache_ttl_secs: 300,
            stale_window_secs: 900,
            cache_max_entries: 10_000,
            rotation_grace_secs: 3600,
            redact_max_values: crate::redact::DEFAULT_MAX_VALUES,
            local_encrypted: LocalConfig::default(),
            vault: None,
            aws_secrets_manager: None,
            rotation: Vec::new(),
        }
    }
}

/// `[secrets.local_encrypted]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    /// The encrypted store file (default `secrets.enc`).
    pub path: PathBuf,
    /// The master key file, created 0600 on first use (default `secrets.key`). Keep it on a
    /// different volume or backup set than the store file.
    pub encryption_key_path: PathBuf,
    /// Name of an environment variable holding the base64 master key; when set, it is used
    /// instead of `encryption_key_path` (and must be present).
    pub encryption_key_env: Option<String>,
    /// Versions kept per secret, at least 2 (default 2).
    pub keep_versions: usize,
    /// How long a writer waits for another process's lock, seconds (default 10).
    pub lock_timeout_secs: u64,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("secrets.enc"),
            encryption_key_path: PathBuf::from("secrets.key"),
            encryption_key_env: None,
            keep_versions: DEFAULT_KEEP_VERSIONS,
            lock_timeout_secs: 10,
        }
    }
}

impl LocalConfig {
    /// The store options this section describes.
    pub fn options(&self) -> LocalOptions {
        let key = match &self.encryption_key_env {
            Some(var) => KeySource::Env(var.clone()),
            None => KeySource::File(self.encryption_key_path.clone()),
        };
        LocalOptions {
            path: self.path.clone(),
            key,
            keep_versions: self.keep_versions,
            lock_timeout: Duration::from_secs(self.lock_timeout_secs),
        }
    }
}

fn default_mount() -> String {
    "secret".into()
}
fn default_auth_mount() -> String {
    "approle".into()
}
fn default_role_id_env() -> String {
    "VAULT_ROLE_ID".into()
}
fn default_secret_id_env() -> String {
    "VAULT_SECRET_ID".into()
}
fn default_timeout() -> u64 {
    10
}
fn default_recovery_days() -> u32 {
    7
}

/// `[secrets.vault]`. AppRole credentials come from the environment variables named here,
/// never from the file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    /// Server URL, e.g. `https://vault.internal:8200`.
    pub address: String,
    /// KV v2 mount (default `secret`).
    #[serde(default = "default_mount")]
    pub mount: String,
    /// Vault Enterprise / OpenBao namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Path prefix under the mount for every secret (default none).
    #[serde(default)]
    pub prefix: String,
    /// AppRole auth mount (default `approle`).
    #[serde(default = "default_auth_mount")]
    pub auth_mount: String,
    /// Name of the variable holding the role_id (default `VAULT_ROLE_ID`).
    #[serde(default = "default_role_id_env")]
    pub role_id_env: String,
    /// Name of the variable holding the secret_id (default `VAULT_SECRET_ID`).
    #[serde(default = "default_secret_id_env")]
    pub secret_id_env: String,
    /// PEM bundle of CA certificates to trust for an `https` address.
    #[serde(default)]
    pub ca_cert_path: Option<PathBuf>,
    /// Per-request timeout, seconds (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// `[secrets.aws_secrets_manager]`. Credentials come from the default AWS chain (environment,
/// profile, web identity, ECS / IMDS role).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Region, e.g. `eu-west-1`.
    pub region: String,
    /// Endpoint override (a VPC endpoint, or a local test server).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Prefix of every secret name (default none), e.g. `mcp/prod`.
    #[serde(default)]
    pub prefix: String,
    /// Recovery window of deleted secrets, days (7..=30, default 7); 0 deletes immediately
    /// without recovery.
    #[serde(default = "default_recovery_days")]
    pub recovery_window_days: u32,
    /// Per-operation timeout, seconds (default 10).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// A prefix must itself be usable as the start of a secret path.
pub(crate) fn check_prefix(section: &str, prefix: &str) -> Result<(), SecretsError> {
    if prefix.is_empty() {
        return Ok(());
    }
    if mcp_core::traits::SecretName::parse(prefix).is_err() {
        return Err(SecretsError::Config(format!(
            "{section}.prefix '{prefix}' must be a path of [A-Za-z0-9_.-] segments separated by '/', without leading or trailing '/'"
        )));
    }
    Ok(())
}

/// Join a prefix and a name with `/`.
#[cfg_attr(not(any(feature = "vault", feature = "aws")), allow(dead_code))]
pub(crate) fn join_prefix(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") }
}

impl SecretsConfig {
    /// Check the settings that serde cannot.
    pub fn validate(&self) -> Result<(), SecretsError> {
        if self.local_encrypted.keep_versions < 2 {
            return Err(SecretsError::Config(
                "local_encrypted.keep_versions must be at least 2 so a rotation can be rolled back".into(),
            ));
        }
        if self.cache_max_entries == 0 || self.redact_max_values == 0 {
            return Err(SecretsError::Config("cache_max_entries and redact_max_values must be positive".into()));
        }
        crate::schedule::validate_all(
            &self.rotation,
            Duration::from_secs(self.rotation_grace_secs),
            self.backend.as_str(),
        )?;
        match self.backend {
            BackendKind::Vault => {
                let v = self.vault.as_ref().ok_or_else(|| {
                    SecretsError::Config(
                        "backend = \"vault\" needs a [secrets.vault] section with at least `address`".into(),
                    )
                })?;
                check_prefix("vault", &v.prefix)?;
                if v.timeout_secs == 0 {
                    return Err(SecretsError::Config("vault.timeout_secs must be positive".into()));
                }
            }
            BackendKind::AwsSecretsManager => {
                let a = self.aws_secrets_manager.as_ref().ok_or_else(|| {
                    SecretsError::Config(
                        "backend = \"aws_secrets_manager\" needs a [secrets.aws_secrets_manager] section with at least `region`"
                            .into(),
                    )
                })?;
                check_prefix("aws_secrets_manager", &a.prefix)?;
                if a.recovery_window_days != 0 && !(7..=30).contains(&a.recovery_window_days) {
                    return Err(SecretsError::Config(
                        "aws_secrets_manager.recovery_window_days must be 0 (no recovery) or 7..=30".into(),
                    ));
                }
                if a.timeout_secs == 0 {
                    return Err(SecretsError::Config("aws_secrets_manager.timeout_secs must be positive".into()));
                }
            }
            BackendKind::LocalEncrypted | BackendKind::Memory => {}
        }
        Ok(())
    }

    /// The cache settings.
    pub fn cache_options(&self) -> CacheOptions {
        CacheOptions {
            ttl: Duration::from_secs(self.cache_ttl_secs),
            stale_window: Duration::from_secs(self.stale_window_secs),
            max_entries: self.cache_max_entries,
            ..CacheOptions::default()
        }
    }
}

/// What [`build_with_options`] takes besides the config file: values the caller builds itself.
#[derive(Clone, Default)]
pub struct BuildOptions {
    /// The TLS policy for the Vault / OpenBao backend: a ready rustls client config with the
    /// trusted roots, SPKI pins and minimum protocol version. mcp-server passes the config it
    /// builds from `[outbound_tls]` (`mcp_transport::outbound::client_config`), so the secret
    /// backend is held to the same policy as every other outbound call. When set, it decides
    /// trust alone: `vault.ca_cert_path` must then be unset. Ignored by the other backends
    /// (the AWS SDK's HTTP client takes no custom certificate verifier).
    pub vault_tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for BuildOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions").field("vault_tls", &self.vault_tls.is_some()).finish()
    }
}

/// Open the configured backend (uncached), reading environment variables from the process.
pub async fn build_backend(cfg: &SecretsConfig) -> Result<Arc<dyn VersionedSecretStore>, SecretsError> {
    build_backend_with_env(cfg, &|v| std::env::var(v).ok()).await
}

/// [`build_backend`] with an explicit environment lookup.
pub async fn build_backend_with_env(
    cfg: &SecretsConfig,
    env: EnvLookup<'_>,
) -> Result<Arc<dyn VersionedSecretStore>, SecretsError> {
    build_backend_with_options(cfg, env, &BuildOptions::default()).await
}

/// [`build_backend_with_env`] with [`BuildOptions`] (the Vault TLS policy).
pub async fn build_backend_with_options(
    cfg: &SecretsConfig,
    env: EnvLookup<'_>,
    opts: &BuildOptions,
) -> Result<Arc<dyn VersionedSecretStore>, SecretsError> {
    cfg.validate()?;
    match cfg.backend {
        BackendKind::Memory => Ok(Arc::new(MemoryStore::new(cfg.local_encrypted.keep_versions))),
        BackendKind::LocalEncrypted => Ok(Arc::new(LocalStore::open(cfg.local_encrypted.options(), env)?)),
        BackendKind::Vault => {
            #[cfg(feature = "vault")]
            {
                let v = cfg.vault.as_ref().ok_or_else(|| SecretsError::Config("missing [secrets.vault]".into()))?;
                Ok(Arc::new(crate::vault::VaultStore::connect_with_tls(v, env, opts.vault_tls.clone()).await?))
            }
            #[cfg(not(feature = "vault"))]
            {
                let _ = (env, opts);
                Err(SecretsError::FeatureNotCompiled { backend: "vault", feature: "vault" })
            }
        }
        BackendKind::AwsSecretsManager => {
            #[cfg(feature = "aws")]
            {
                let a = cfg
                    .aws_secrets_manager
                    .as_ref()
                    .ok_or_else(|| SecretsError::Config("missing [secrets.aws_secrets_manager]".into()))?;
                Ok(Arc::new(crate::aws::AwsStore::connect(a, None).await?))
            }
            #[cfg(not(feature = "aws"))]
            {
                Err(SecretsError::FeatureNotCompiled { backend: "aws_secrets_manager", feature: "aws" })
            }
        }
    }
}

/// Open the configured backend and wrap it: cache, redactor, rotator.
pub async fn build(cfg: &SecretsConfig) -> Result<Secrets, SecretsError> {
    build_with_env(cfg, &|v| std::env::var(v).ok()).await
}

/// [`build`] with an explicit environment lookup.
pub async fn build_with_env(cfg: &SecretsConfig, env: EnvLookup<'_>) -> Result<Secrets, SecretsError> {
    build_with_options(cfg, env, &BuildOptions::default()).await
}

/// [`build_with_env`] with [`BuildOptions`]: what mcp-server calls, passing its outbound TLS
/// policy for the Vault backend.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let cfg: mcp_secrets::SecretsConfig = serde_json::from_str(r#"{"backend": "memory"}"#).unwrap();
/// let opts = mcp_secrets::BuildOptions::default();
/// let secrets = mcp_secrets::build_with_options(&cfg, &|v| std::env::var(v).ok(), &opts).await.unwrap();
/// assert_eq!(secrets.backend().backend_kind(), "memory");
/// # });
/// ```
pub async fn build_with_options(
    cfg: &SecretsConfig,
    env: EnvLookup<'_>,
    opts: &BuildOptions,
) -> Result<Secrets, SecretsError> {
    let backend = build_backend_with_options(cfg, env, opts).await?;
    Ok(Secrets::new(
        backend,
        cfg.cache_options(),
        Duration::from_secs(cfg.rotation_grace_secs),
        Arc::new(Redactor::new(cfg.redact_max_values)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SecretsConfig, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn defaults_and_unknown_keys() {
        let c = parse("{}").unwrap();
        assert_eq!(c, SecretsConfig::default());
        assert_eq!(c.backend, BackendKind::LocalEncrypted);
        assert_eq!(c.cache_ttl_secs, 300);
        assert!(parse(r#"{"backend":"memory","ttl":3}"#).is_err());
        assert!(parse(r#"{"local_encrypted":{"passphrase":"x"}}"#).is_err());
        assert!(parse(r#"{"backend":"etcd"}"#).is_err());
        let v = parse(r#"{"backend":"vault","vault":{"address":"http://127.0.0.1:8200"}}"#).unwrap();
        let vault = v.vault.as_ref().unwrap();
        assert_eq!((vault.mount.as_str(), vault.role_id_env.as_str()), ("secret", "VAULT_ROLE_ID"));
        assert!(parse(r#"{"vault":{"address":"x","role_id":"literal"}}"#).is_err());
    }

    #[test]
    fn validation() {
        let c = parse(r#"{"backend":"vault"}"#).unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("[secrets.vault]"));
        let c = parse(r#"{"backend":"aws_secrets_manager","aws_secrets_manager":{"region":"us-east-1","recovery_window_days":3}}"#)
            .unwrap();
        assert!(c.validate().is_err());
        let c = parse(r#"{"backend":"vault","vault":{"address":"x","prefix":"/abs"}}"#).unwrap();
        assert!(c.validate().is_err());
        let c = parse(r#"{"local_encrypted":{"keep_versions":1}}"#).unwrap();
        assert!(c.validate().is_err());
    }

    #[tokio::test]
    async fn builds_memory_and_local() {
        let s = build(&parse(r#"{"backend":"memory"}"#).unwrap()).await.unwrap();
        assert_eq!(s.backend().backend_kind(), "memory");
        let dir = tempfile::tempdir().unwrap();
        let mut c = SecretsConfig::default();
        c.local_encrypted.path = dir.path().join("s.enc");
        c.local_encrypted.encryption_key_path = dir.path().join("k");
        let s = build(&c).await.unwrap();
        assert_eq!(s.backend().backend_kind(), "local_encrypted");
    }

    #[cfg(not(feature = "vault"))]
    #[tokio::test]
    async fn vault_not_compiled_names_feature() {
        let c = parse(r#"{"backend":"vault","vault":{"address":"http://127.0.0.1:1"}}"#).unwrap();
        let err = build(&c).await.unwrap_err();
        assert!(err.to_string().contains("--features vault"), "{err}");
    }

    #[cfg(not(feature = "aws"))]
    #[tokio::test]
    async fn aws_not_compiled_names_feature() {
        let c = parse(r#"{"backend":"aws_secrets_manager","aws_secrets_manager":{"region":"us-east-1"}}"#).unwrap();
        let err = build(&c).await.unwrap_err();
        assert!(err.to_string().contains("--features aws"), "{err}");
    }
}
