//! The protection stages from the configuration file: rate limits, security monitoring,
//! authorization, the audit log and input validation, applied to a [`crate::ServerBuilder`].

use std::sync::Arc;

use mcp_core::SystemClock;

use crate::{Config, ServerBuilder, ServerError};

/// The block file used when `monitoring.blocking.file` is not set.
pub fn block_file(cfg: &Config) -> std::path::PathBuf {
    match &cfg.monitoring.blocking.file {
        Some(f) => f.clone(),
        None => crate::data_dir(cfg).join("blocks.json"),
    }
}

/// The `[monitoring]` section with the default block file filled in.
pub fn monitoring_config(cfg: &Config) -> mcp_monitor::MonitoringConfig {
    let mut m = cfg.monitoring.clone();
    m.blocking.file = Some(block_file(cfg));
    m
}

/// Where the block list lives: in the rate limiter's Redis (shared by every replica) when
/// `[rate_limit] backend = "redis"` and `monitoring.blocking.share_through_redis` (the default),
/// else in the block file. Returns the store, a name for messages, and what requests get while
/// the store is unreachable (the rate limiter's `on_backend_failure`; always fail-open for the
/// file). Does no network IO.
pub fn block_store(
    cfg: &Config,
) -> Result<(Arc<dyn mcp_monitor::BlockStore>, String, mcp_monitor::StoreFailure), ServerError> {
    let rl = &cfg.rate_limit;
    #[cfg(feature = "redis")]
    if rl.backend == mcp_ratelimit::BackendKind::Redis && cfg.monitoring.blocking.share_through_redis {
        let url = match (&rl.redis_url, &rl.redis_url_env) {
            (Some(u), None) => u.expose().to_owned(),
            (None, Some(var)) => std::env::var(var).map_err(|_| {
                ServerError::Config(format!("[rate_limit] redis_url_env: environment variable {var} is not set"))
            })?,
            _ => {
                return Err(ServerError::Config(
                    "[rate_limit] backend = \"redis\" needs redis_url or redis_url_env".into(),
                ));
            }
        };
        let b = &cfg.monitoring.blocking;
        let timeout = std::time::Duration::from_millis(rl.redis_timeout_ms.max(1));
        let store = mcp_monitor::RedisBlockStore::new(&url, &b.redis_key_prefix, timeout)
            .map_err(|e| ServerError::Config(format!("[monitoring.blocking]: {e}")))?;
        let policy = match rl.on_backend_failure {
            mcp_ratelimit::FailurePolicy::FailOpen => mcp_monitor::StoreFailure::FailOpen,
            mcp_ratelimit::FailurePolicy::FailClosed => mcp_monitor::StoreFailure::FailClosed,
        };
        return Ok((Arc::new(store), format!("Redis (keys {}*)", b.redis_key_prefix), policy));
    }
    let _ = rl;
    let file = block_file(cfg);
    let name = file.display().to_string();
    Ok((Arc::new(mcp_monitor::FileBlockStore::new(file)), name, mcp_monitor::StoreFailure::FailOpen))
}

/// The running audit log: its writer (shut it down after serving) and the sink (GDPR purge).
#[derive(Debug)]
pub struct AuditLog {
    /// Drains the queue and closes the log on shutdown.
    pub writer: mcp_audit::WriterHandle,
    /// The sink the server records into.
    pub sink: mcp_audit::FileAuditSink,
    /// Records the events the security monitor raises itself (blocks it makes, alerts,
    /// anomalies); dropping it stops that.
    pub monitor_events: Option<mcp_monitor::Subscription>,
}

impl AuditLog {
    /// Purge records older than `[gdpr] data_retention_days` once a day (and once now), each
    /// purge recorded in the log itself.
    pub fn spawn_retention(&self, cfg: &Config) {
        let days = cfg.gdpr.data_retention_days;
        if !cfg.gdpr.enabled || days == 0 {
            return;
        }
        let sink = self.sink.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(86_400));
            loop {
                tick.tick().await;
                let s = sink.clone();
                match tokio::task::spawn_blocking(move || s.purge_older_than(days, &mut |_| {})).await {
                    Ok(Ok(r)) if r.files_removed.is_empty() => {}
                    Ok(Ok(r)) => tracing::info!(
                        files = r.files_removed.len(),
                        records = r.records_removed,
                        days,
                        "GDPR retention purge"
                    ),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "GDPR retention purge failed; run `mcp-server gdpr purge`")
                    }
                    Err(e) => tracing::error!(error = %e, "GDPR retention purge panicked"),
                }
            }
        });
    }
}

/// The consent file.
pub fn consent_file(cfg: &Config) -> std::path::PathBuf {
    crate::data_dir(cfg).join("consent.json")
}

/// The audit key and the active log file of `cfg` (for `audit verify` and the `gdpr` commands).
pub fn audit_paths(cfg: &Config, create_key: bool) -> Result<(mcp_audit::AuditKey, std::path::PathBuf), ServerError> {
    let (keys, path) = audit_key_ring(cfg, create_key)?;
    let key = keys.into_iter().next().ok_or_else(|| ServerError::Config("[audit_log]: no audit key".into()))?;
    Ok((key, path))
}

/// Every audit key of `cfg`, the one in use first, and the active log file: with `[audit_log]
/// key_secret`, the current version of that secret and each older version the store still
/// keeps (what `audit verify` needs after rotations); otherwise the one key from the file or
/// variable.
pub fn audit_key_ring(
    cfg: &Config,
    create_key: bool,
) -> Result<(Vec<mcp_audit::AuditKey>, std::path::PathBuf), ServerError> {
    let data = crate::data_dir(cfg);
    let a = &cfg.audit_log;
    a.validate().map_err(|e| ServerError::Config(format!("[audit_log]: {e}")))?;
    let keys = match crate::secrets::audit_keys_blocking(cfg)? {
        Some(keys) => keys,
        None => vec![
            mcp_audit::AuditKey::from_config(a, &data, create_key, &|v| std::env::var(v).ok())
                .map_err(|e| ServerError::Config(format!("[audit_log] key: {e}")))?,
        ],
    };
    Ok((keys, a.log_path(&data)))
}

impl ServerBuilder {
    /// Apply `[audit_log]`: start the writer and record every request and security event. The
    /// returned handle must be shut down after serving (it drains the queue and fsyncs).
    pub fn audit_from_config(self, cfg: &Config) -> Result<(Self, Option<AuditLog>), ServerError> {
        if !cfg.audit_log.enabled {
            tracing::warn!("the audit log is disabled ([audit_log] enabled = false)");
            return Ok((self, None));
        }
        let (keys, path) = audit_key_ring(cfg, true)?;
        let Some((key, previous_keys)) = keys.split_first() else {
            return Err(ServerError::Config("[audit_log]: no audit key".into()));
        };
        let key = key.clone();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                ServerError::Config(format!(
                    "cannot create the audit directory {}: {e} (set audit_log.directory or server.data_dir)",
                    dir.display()
                ))
            })?;
        }
        let on_health: mcp_audit::HealthHook = Arc::new(|change| match change {
            mcp_audit::HealthChange::Degraded(cause) => {
                tracing::error!(target: "mcp_security", kind = "audit_degraded", cause = ?cause, "the audit log cannot accept records; the on_failure policy applies")
            }
            _ => {
                tracing::warn!(target: "mcp_security", kind = "audit_recovered", "the audit log accepts records again")
            }
        });
        let options = mcp_audit::SinkOptions {
            on_health: Some(on_health),
            previous_keys: previous_keys.to_vec(),
            ..Default::default()
        };
        let (sink, handle) = mcp_audit::FileAuditSink::start_with(&cfg.audit_log, &crate::data_dir(cfg), key, options)
            .map_err(|e| ServerError::Config(format!("[audit_log]: {e}")))?;
        tracing::info!(path = %sink.log_path().display(), "audit log");
        // The server hands every event it emits to the audit log; the monitor's own (alerts,
        // anomalies, the blocks it makes) only exist on the monitor's bus.
        let monitor_events = self.monitor.as_ref().map(|m| {
            let s = sink.clone();
            m.subscribe_raised(Arc::new(move |e: &mcp_core::SecurityEvent| {
                let _ = mcp_core::traits::AuditSink::record(&s, e.clone());
            }))
        });
        let log = AuditLog { writer: handle, sink, monitor_events };
        Ok((self.audit_log(Arc::new(log.sink.clone())), Some(log)))
    }

    /// Apply `[gdpr]`: consent records in `<data_dir>/consent.json` when `consent_tracking`.
    pub fn gdpr_from_config(self, cfg: &Config) -> Result<Self, ServerError> {
        if !(cfg.gdpr.enabled && cfg.gdpr.consent_tracking) {
            return Ok(self);
        }
        Ok(self.consent(crate::compliance::ConsentStore::open(consent_file(cfg))?))
    }

    /// Apply `[rate_limit]` and `[monitoring]`. Must run inside the tokio runtime (the monitor's
    /// housekeeping and webhook tasks, the Redis connection).
    pub async fn protections_from_config(self, cfg: &Config) -> Result<Self, ServerError> {
        let limits = mcp_ratelimit::RateLimitEngine::new(&cfg.rate_limit)
            .map_err(|e| ServerError::Config(format!("[rate_limit]: {e}")))?;
        if let Err(e) = limits.ping().await {
            tracing::warn!(error = %e, "the rate-limit store does not answer yet; its failure policy applies until it does");
        }
        let monitoring = monitoring_config(cfg);
        if let Some(dir) = monitoring.blocking.file.as_ref().and_then(|f| f.parent()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                ServerError::Config(format!(
                    "cannot create {} for the block file: {e} (set monitoring.blocking.file or server.data_dir)",
                    dir.display()
                ))
            })?;
        }
        let (store, where_, on_failure) = block_store(cfg)?;
        tracing::debug!(store = %where_, "block list");
        let monitor =
            mcp_monitor::SecurityMonitor::with_shared_store(&monitoring, Arc::new(SystemClock), store, on_failure)
                .map_err(|e| ServerError::Config(format!("[monitoring]: {e}")))?;
        let monitor = Arc::new(monitor);
        // Writes automatic blocks to the block store and picks up `mcp-server block` edits (and,
        // through Redis, the other replicas' blocks).
        let _housekeeping = monitor.spawn_housekeeping();
        Ok(self
            .rate_limits(Arc::new(limits))
            .monitor(monitor)
            .large_message_bytes(cfg.monitoring.alerts.large_message_bytes))
    }
}

/// Rebuild the authenticator when a secret it reads from the store (`{ secret = "name" }` in
/// `[auth]`: a JWT HMAC key, the API-key pepper, an OAuth client secret) gets a new version —
/// rotated by a schedule, by `mcp-server secrets rotate|set` in another process, or in Vault.
/// Checked every `every` against the uncached backend; requests keep being served by the
/// previous authenticator until the new one is ready, and a failed rebuild keeps it. Credentials
/// made with the previous secrets stay valid while the new version is younger than its grace
/// period (`[secrets] rotation_grace_secs` or the secret's own `grace_secs`; see
/// [`crate::McpServer::rotate_authenticator`]).
pub fn spawn_auth_rotation_watch(
    server: crate::McpServer,
    cfg: Config,
    secrets: mcp_secrets::Secrets,
    every: std::time::Duration,
) {
    let names: Vec<mcp_core::traits::SecretName> = cfg
        .auth
        .as_ref()
        .map(|a| {
            a.secret_refs()
                .into_iter()
                .filter_map(|r| match r {
                    mcp_auth::SecretRef::Secret(n) => mcp_core::traits::SecretName::parse(n).ok(),
                    mcp_auth::SecretRef::Env(_) => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut seen = versions(&secrets, &names).await;
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = versions(&secrets, &names).await;
            if now == seen {
                continue;
            }
            for n in &names {
                secrets.cached().invalidate(n);
            }
            match crate::auth::authenticator_from_config(&cfg, Some(&secrets), server.event_sink()).await {
                Ok((auth, _)) => {
                    // Only the secrets that changed set the grace: an emergency rotation with
                    // `grace_secs = 0` must not inherit another secret's period.
                    let changed: Vec<mcp_core::traits::SecretName> = names
                        .iter()
                        .zip(seen.iter().zip(&now))
                        .filter(|(_, (before, after))| before != after)
                        .map(|(n, _)| n.clone())
                        .collect();
                    let grace = crate::secrets::grace_left(&secrets, &changed).await;
                    server.rotate_authenticator(auth, grace);
                    seen = now;
                    let e = mcp_core::SecurityEvent::new(
                        mcp_core::SecurityEventKind::ConfigChange,
                        "authentication secret rotated: authenticator rebuilt",
                        std::time::SystemTime::now(),
                    );
                    server.emit(e);
                }
                Err(e) => {
                    tracing::error!(error = %e, "a rotated authentication secret could not be loaded; keeping the previous one")
                }
            }
        }
    });
}

async fn versions(secrets: &mcp_secrets::Secrets, names: &[mcp_core::traits::SecretName]) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let v = secrets.backend().read(n, &mcp_secrets::VersionSelector::Current).await.ok();
        out.push(v.map(|v| v.version.to_string()));
    }
    out
}
