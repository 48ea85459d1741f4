//! Following rotations of the server's own secrets without a restart: the authenticator rebuilt
//! with a rotated JWT HMAC secret or API-key pepper (the previous one accepted for the grace
//! period), and the audit log switched to a rotated audit key.

use std::sync::Arc;

use mcp_auth::CompositeAuthenticator;
use mcp_core::{SecurityEvent, SecurityEventKind};

use crate::auth::AuthMode;
use crate::compose::AuditLog;
use crate::{Config, McpServer};

impl McpServer {
    /// The authenticator in use (`None` without authentication).
    pub fn authenticator(&self) -> Option<Arc<CompositeAuthenticator>> {
        match &self.0.auth {
            AuthMode::Required(a) => Some(a.load_full()),
            AuthMode::Unauthenticated => None,
        }
    }

    /// Install `auth`, rebuilt after a rotation: the authenticator it replaces keeps accepting
    /// credentials made with the previous secrets for `grace`, and is dropped (its secrets
    /// zeroized) when that ends, with a `ConfigChange` event. False when the server runs without
    /// authentication. Must run inside the tokio runtime.
    pub fn rotate_authenticator(&self, auth: Arc<CompositeAuthenticator>, grace: std::time::Duration) -> bool {
        let Some(previous) = self.authenticator() else { return false };
        if auth.keep_previous(previous, grace).is_some() {
            let weak = Arc::downgrade(&auth);
            let server = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                if weak.upgrade().is_some_and(|a| a.end_grace()) {
                    server.emit(SecurityEvent::new(
                        SecurityEventKind::ConfigChange,
                        "rotation grace period over: the previous secret version is refused and forgotten",
                        std::time::SystemTime::now(),
                    ));
                }
            });
        }
        self.replace_authenticator(auth)
    }
}

impl AuditLog {
    /// With `[audit_log] key_secret`: check that secret's version every `every` and, when it
    /// changed (a schedule, `mcp-server secrets rotate`, Vault), switch the log to the new key
    /// without a restart: the records accepted before are written with the old key, a new file
    /// starts whose anchor names the new key id, and a `config_change` record says so. A failed
    /// switch keeps the old key and is tried again at the next check.
    pub fn spawn_key_watch(&self, cfg: &Config, secrets: mcp_secrets::Secrets, every: std::time::Duration) {
        let Some(name) = cfg.audit_log.key_secret.as_deref().and_then(|n| mcp_core::traits::SecretName::parse(n).ok())
        else {
            return;
        };
        let sink = self.sink.clone();
        tokio::spawn(async move {
            let current = mcp_secrets::VersionSelector::Current;
            let mut seen = secrets.backend().read(&name, &current).await.ok().map(|v| v.version);
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = secrets.backend().read(&name, &current).await.ok().map(|v| v.version);
                if now.is_none() || now == seen {
                    continue;
                }
                // Read through the cache so the new value is registered for masking too.
                secrets.cached().invalidate(&name);
                let key = match mcp_secrets::VersionedSecretStore::read(secrets.cached(), &name, &current).await {
                    Ok(v) => mcp_audit::AuditKey::from_secret(secrecy::ExposeSecret::expose_secret(&v.value)),
                    Err(e) => Err(mcp_audit::AuditError::Config(e.to_string())),
                };
                let key = match key {
                    Ok(k) => k,
                    Err(e) => {
                        tracing::error!(error = %e, "the rotated audit key cannot be used; keeping the previous one");
                        seen = now;
                        continue;
                    }
                };
                let key_id = key.key_id();
                let s = sink.clone();
                match tokio::task::spawn_blocking(move || s.rotate_key(key)).await {
                    Ok(Ok(())) => {
                        seen = now;
                        tracing::info!(key_id = %key_id, "audit key rotated: the log continues in a new file");
                        let e = mcp_core::SecurityEvent::new(
                            mcp_core::SecurityEventKind::ConfigChange,
                            "audit key rotated: this file and the next ones use the new key",
                            std::time::SystemTime::now(),
                        );
                        let _ = mcp_core::traits::AuditSink::record(&sink, e);
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "the audit log could not switch to the rotated key; retrying")
                    }
                    Err(e) => tracing::error!(error = %e, "switching the audit key panicked"),
                }
            }
        });
    }
}
