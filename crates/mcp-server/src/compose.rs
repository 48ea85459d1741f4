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

impl ServerBuilder {
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
        let monitor = mcp_monitor::SecurityMonitor::new(&monitoring, Arc::new(SystemClock))
            .map_err(|e| ServerError::Config(format!("[monitoring]: {e}")))?;
        let monitor = Arc::new(monitor);
        // Writes automatic blocks to the block file and picks up `mcp-server block` edits.
        let _housekeeping = monitor.spawn_housekeeping();
        Ok(self.rate_limits(Arc::new(limits)).monitor(monitor))
    }
}
