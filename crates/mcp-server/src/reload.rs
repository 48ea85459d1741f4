//! Reloading the `[authorization]` policy while the server runs: the new configuration is
//! compiled with the same code rules, swapped in atomically (requests already deciding finish
//! with the old policy) and recorded as an audited `config_change` security event carrying the
//! digests of the old and new policy, never their content. A configuration that does not
//! compile is refused and the policy in force stays.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use mcp_authz::{AuthorizationConfig, CodeRules, hex};
use mcp_core::{SecurityEvent, SecurityEventKind};

use crate::McpServer;
use crate::config::Config;
use crate::error::ServerError;

/// What the built-in policy is compiled from, kept for reloads.
#[derive(Debug)]
pub(crate) struct PolicySource {
    /// The `access` rules of the registered tools, resources and prompts (fixed at build).
    code: CodeRules,
    /// Digest of the `[authorization]` configuration in force; the lock serializes reloads.
    digest: Mutex<[u8; 32]>,
}

impl PolicySource {
    pub(crate) fn new(code: CodeRules, config: &AuthorizationConfig) -> Self {
        Self { code, digest: Mutex::new(config.digest()) }
    }
}

/// The outcome of a policy reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyReload {
    /// Hex SHA-256 of the configuration that was in force ([`AuthorizationConfig::digest`]).
    pub old_digest: String,
    /// Hex SHA-256 of the configuration now in force.
    pub new_digest: String,
}

impl PolicyReload {
    /// False when the new configuration equals the one in force (nothing was swapped).
    pub fn changed(&self) -> bool {
        self.old_digest != self.new_digest
    }
}

impl McpServer {
    /// Compile `config` with the server's code rules and put it in force atomically. Refused
    /// (the policy in force stays, and the refusal is recorded) when it does not compile, or
    /// when the server was built with a custom authorizer or without authorization.
    pub fn reload_authorization(&self, config: &AuthorizationConfig) -> Result<PolicyReload, ServerError> {
        let refuse = |why: String| {
            self.emit(config_event("authorization reload refused", "sha256:(unchanged)".into()));
            Err(ServerError::Config(why))
        };
        let Some((authorizer, source)) =
            self.0.authz.as_ref().and_then(|a| Some((a.policy.as_ref()?, a.source.as_ref()?)))
        else {
            return refuse("this server does not use the built-in [authorization] policy: nothing to reload".into());
        };
        let mut digest = source.digest.lock().unwrap_or_else(PoisonError::into_inner);
        let policy = match mcp_authz::Policy::compile(config, &source.code) {
            Ok(p) => p,
            Err(e) => return refuse(format!("[authorization]: {e}; the previous policy stays in force")),
        };
        let new = config.digest();
        let reload = PolicyReload { old_digest: hex(&*digest), new_digest: hex(&new) };
        if !reload.changed() {
            return Ok(reload);
        }
        let tools = self.tool_names();
        let tools: Vec<&str> = tools.iter().map(String::as_str).collect();
        for finding in policy.lint(&tools, &self.resource_uris(), &self.prompt_names()) {
            tracing::warn!(%finding, "reloaded authorization policy");
        }
        if !policy.enabled() {
            tracing::warn!(
                "authorization is disabled ([authorization] enabled = false): every caller may do everything"
            );
        }
        authorizer.reload(policy);
        *digest = new;
        drop(digest);
        let rule = format!("sha256:{}->sha256:{}", reload.old_digest, reload.new_digest);
        self.emit(config_event("authorization policy reloaded", rule));
        tracing::info!(old = %reload.old_digest, new = %reload.new_digest, "authorization policy reloaded");
        Ok(reload)
    }

    /// Read the configuration file again (the embedded default when `path` is `None`), check
    /// all of it as at startup, and put its `[authorization]` section in force. Other sections
    /// take effect at the next start.
    pub fn reload_config_file(&self, path: Option<&Path>) -> Result<PolicyReload, ServerError> {
        match Config::load(path) {
            Ok(cfg) => self.reload_authorization(&cfg.authorization()),
            Err(e) => {
                self.emit(config_event("configuration reload refused", "sha256:(unchanged)".into()));
                Err(e)
            }
        }
    }
}

fn config_event(reason: &'static str, rule: String) -> SecurityEvent {
    SecurityEvent::new(SecurityEventKind::ConfigChange, reason, SystemTime::now())
        .with_method("reload")
        .with_resource("authorization")
        .with_rule(rule)
}

/// On every SIGHUP, reload the `[authorization]` policy from `path` (see
/// [`McpServer::reload_config_file`]); a refused file is logged with the reason and the policy
/// in force stays. Does nothing on platforms without signals.
pub fn spawn_policy_reload_on_sighup(server: McpServer, path: Option<PathBuf>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the authorization policy will not be reloaded");
            return;
        };
        while hup.recv().await.is_some() {
            let file = path.as_ref().map_or_else(|| "the embedded default".to_owned(), |p| p.display().to_string());
            match server.reload_config_file(path.as_deref()) {
                Ok(r) if r.changed() => {
                    tracing::info!(%file, "SIGHUP: [authorization] reloaded (other sections apply at the next start)")
                }
                Ok(_) => tracing::info!(%file, "SIGHUP: [authorization] unchanged"),
                Err(e) => tracing::error!(
                    %file,
                    error = %e,
                    "SIGHUP: configuration refused; the previous authorization policy stays in force. Fix the file (`mcp-server check-config FILE` shows the problem) and send SIGHUP again"
                ),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (server, path);
}
