//! The server's secret store: `[secrets]` from the config (default: the local AES-256-GCM store in
//! the data directory), used for `{ secret = "name" }` references and by `mcp-server secrets`.

use std::path::Path;

use mcp_secrets::{BackendKind, Secrets, SecretsConfig, VersionedSecretStore};

use crate::error::ServerError;

/// The `[secrets]` section with relative local-store paths resolved against `data_dir`.
pub fn effective(cfg: &crate::Config) -> SecretsConfig {
    let mut s = cfg.secrets.clone().unwrap_or_default();
    if s.backend == BackendKind::LocalEncrypted {
        let dir = crate::data_dir(cfg);
        let resolve = |p: &Path| if p.is_relative() { dir.join(p) } else { p.to_path_buf() };
        s.local_encrypted.path = resolve(&s.local_encrypted.path);
        s.local_encrypted.encryption_key_path = resolve(&s.local_encrypted.encryption_key_path);
    }
    s
}

/// Open the configured store (creating the local store and its key on first use).
pub async fn open(cfg: &crate::Config) -> Result<Secrets, ServerError> {
    let s = effective(cfg);
    if s.backend == BackendKind::LocalEncrypted
        && let Some(dir) = s.local_encrypted.path.parent()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServerError::Config(format!("cannot create {}: {e} (set server.data_dir)", dir.display())))?;
    }
    // Vault is held to the same outbound TLS policy (roots, SPKI pins, minimum version) as every
    // other call the server makes, unless the config names its own CA file for it.
    let mut opts = mcp_secrets::BuildOptions::default();
    if s.backend == BackendKind::Vault && s.vault.as_ref().is_some_and(|v| v.ca_cert_path.is_none()) {
        let tls = mcp_transport::outbound::client_config(&cfg.outbound_tls, None)
            .map_err(|e| ServerError::Config(format!("outbound_tls: {e}")))?;
        opts.vault_tls = Some(tls);
    }
    match mcp_secrets::build_with_options(&s, &|v| std::env::var(v).ok(), &opts).await {
        Ok(secrets) => Ok(secrets),
        Err(e) => {
            if matches!(e, mcp_secrets::SecretsError::WrongKey { .. } | mcp_secrets::SecretsError::Corrupt { .. }) {
                crate::compliance::report_breach(cfg, "the secret store does not decrypt or verify").await;
            }
            Err(ServerError::Config(format!("secrets: {e}")))
        }
    }
}

/// What is left of the grace period after `names` were rotated (pass only the secrets that
/// changed, so one secret's period never extends another's): for each, its grace period
/// (`[secrets] rotation_grace_secs`, or the `grace_secs` of its `[[secrets.rotation]]` entry)
/// minus the age of its current version — the same window [`Secrets::accepted`] uses —, the
/// longest of them. A version whose creation time the backend does not know gets the whole
/// period.
pub async fn grace_left(secrets: &Secrets, names: &[mcp_core::traits::SecretName]) -> std::time::Duration {
    let now = std::time::SystemTime::now();
    let mut left = std::time::Duration::ZERO;
    for n in names {
        let grace = secrets.rotator().grace_for(n);
        let Ok(v) = secrets.backend().read(n, &mcp_secrets::VersionSelector::Current).await else { continue };
        let age = v.created.and_then(|c| now.duration_since(c).ok()).unwrap_or_default();
        left = left.max(grace.saturating_sub(age));
    }
    left
}

/// The audit keys of `[audit_log] key_secret`: the current version first, then every older
/// version the store still keeps, newest first (what `audit verify` needs for files written
/// before a rotation). `None` when the key does not come from the store.
pub async fn audit_keys(cfg: &crate::Config, store: &Secrets) -> Result<Option<Vec<mcp_audit::AuditKey>>, ServerError> {
    let Some(name) = &cfg.audit_log.key_secret else { return Ok(None) };
    let err = |e: String| ServerError::Config(format!("[audit_log] key_secret {name:?}: {e}"));
    let parsed = mcp_core::traits::SecretName::parse(name).map_err(|_| err("not a valid secret name".into()))?;
    let current = store.cached().read(&parsed, &mcp_secrets::VersionSelector::Current).await.map_err(|e| {
        err(format!("{e} (store a key of at least 32 bytes: mcp-server secrets rotate {name} --bytes 32)"))
    })?;
    let mut keys = vec![key_of(&current).map_err(err)?];
    let mut older = store.backend().versions(&parsed).await.map_err(|e| err(e.to_string()))?;
    older.retain(|v| v.id != current.version);
    older.sort_by_key(|v| std::cmp::Reverse(v.created));
    for v in older {
        let selector = mcp_secrets::VersionSelector::Id(v.id.clone());
        match store.cached().read(&parsed, &selector).await {
            Ok(value) => keys.extend(key_of(&value).ok()),
            Err(e) => tracing::warn!(version = %v.id, error = %e, "an older audit key version cannot be read"),
        }
    }
    Ok(Some(keys))
}

fn key_of(v: &mcp_secrets::Versioned) -> Result<mcp_audit::AuditKey, String> {
    use secrecy::ExposeSecret;
    mcp_audit::AuditKey::from_secret(v.value.expose_secret()).map_err(|e| e.to_string())
}

/// [`audit_keys`] from synchronous code (the CLI, the builder): opens the store on a helper
/// thread with its own runtime, so it also works from inside the server's runtime.
pub fn audit_keys_blocking(cfg: &crate::Config) -> Result<Option<Vec<mcp_audit::AuditKey>>, ServerError> {
    if cfg.audit_log.key_secret.is_none() {
        return Ok(None);
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ServerError::Config(format!("cannot start a runtime to read the audit key: {e}")))?;
            rt.block_on(async {
                let store = open(cfg).await?;
                audit_keys(cfg, &store).await
            })
        })
        .join()
        .unwrap_or_else(|_| Err(ServerError::Config("reading the audit key panicked".into())))
    })
}
