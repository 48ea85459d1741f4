//! The server's secret store: `[secrets]` from the config (default: the local AES-256-GCM store in
//! the data directory), used for `{ secret = "name" }` references and by `mcp-server secrets`.

use std::path::Path;

use mcp_secrets::{BackendKind, Secrets, SecretsConfig};

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

/// What is left of the grace period after `names` were rotated: for each secret, its grace period
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
