//! Secret-handling items: storage at rest, log masking, where references point, outbound
//! timeouts.

use mcp_auth::SecretRef;
use mcp_ratelimit::config::BackendKind as RateBackend;
use mcp_secrets::BackendKind;

use super::{CheckItem, Judge, Status};
use crate::Config;
use crate::compliance::hipaa::check_target_url;

/// Outbound timeouts longer than this are flagged: a stuck peer would hold a request that long.
const LONG_TIMEOUT_MS: u64 = 60_000;

pub(super) fn at_rest(cfg: &Config) -> CheckItem {
    let s = crate::secrets::effective(cfg);
    let mut j = Judge::new("secrets.backend");
    let ok = match s.backend {
        BackendKind::Memory => {
            j.flag(Status::Fail, "secrets.backend", "backend \"memory\" keeps secrets unencrypted (tests only)");
            String::new()
        }
        BackendKind::LocalEncrypted => {
            let l = &s.local_encrypted;
            let key = match &l.encryption_key_env {
                Some(var) => format!("master key from ${var}"),
                None if l.encryption_key_path.parent() == l.path.parent() => format!(
                    "master key file {} next to the store (keep it on another volume, or set \
                     secrets.local_encrypted.encryption_key_env)",
                    l.encryption_key_path.display()
                ),
                None => format!("master key file {}", l.encryption_key_path.display()),
            };
            format!("AES-256-GCM store {}; {key}", l.path.display())
        }
        BackendKind::Vault => {
            if s.vault.as_ref().is_some_and(|v| check_target_url(&v.address).is_err()) {
                j.flag(
                    Status::Warn,
                    "secrets.vault.address",
                    "the Vault address is not https: secrets travel unencrypted",
                );
            }
            "HashiCorp Vault / OpenBao KV v2 (encrypted by the server)".to_owned()
        }
        BackendKind::AwsSecretsManager => "AWS Secrets Manager (KMS-encrypted)".to_owned(),
    };
    j.finish("secrets_encrypted", "Secrets encrypted at rest", ok)
}

pub(super) fn not_logged() -> CheckItem {
    let ok = "masking is always on: every secret value the process loads is replaced by [REDACTED:<name>] in its \
              log output, and secret types never print their value"
        .to_owned();
    Judge::new("").finish("secrets_not_logged", "Secrets not in logs", ok)
}

pub(super) fn references(cfg: &Config) -> CheckItem {
    let refs = cfg.auth.as_ref().map(|a| a.secret_refs()).unwrap_or_default();
    let env = refs.iter().filter(|r| matches!(r, SecretRef::Env(_))).count();
    let store = refs.len() - env;
    let mut parts = vec![if refs.is_empty() {
        match &cfg.auth {
            Some(_) => "[auth] needs no secret".to_owned(),
            None if cfg.danger.allow_unauthenticated => "no authentication secret (unauthenticated)".to_owned(),
            None => "the API-key pepper lives in server.data_dir".to_owned(),
        }
    } else {
        format!("[auth]: {env} from the environment, {store} from the secret store")
    }];
    let s = crate::secrets::effective(cfg);
    match s.backend {
        BackendKind::LocalEncrypted => parts.push(match &s.local_encrypted.encryption_key_env {
            Some(_) => "store master key from the environment".to_owned(),
            None => "store master key from a 0600 file".to_owned(),
        }),
        BackendKind::Vault => parts.push("Vault AppRole credentials from the environment".to_owned()),
        BackendKind::AwsSecretsManager => parts.push("AWS credentials from the default AWS chain".to_owned()),
        BackendKind::Memory => {}
    }
    if cfg.audit_log.enabled {
        parts.push(match &cfg.audit_log.key_env {
            Some(_) => "audit key from the environment".to_owned(),
            None => "audit key from a 0600 file".to_owned(),
        });
    }
    if cfg.rate_limit.backend == RateBackend::Redis {
        parts.push(match &cfg.rate_limit.redis_url_env {
            Some(_) => "Redis URL from the environment".to_owned(),
            None => "Redis URL in the file (use rate_limit.redis_url_env if it carries a password)".to_owned(),
        });
    }
    let ok = format!("secret settings take references only (literals are refused when loading); {}", parts.join(", "));
    Judge::new("").finish("secrets_from_env_or_store", "Secrets from env or a store", ok)
}

pub(super) fn timeouts(cfg: &Config) -> CheckItem {
    let mut calls: Vec<(&str, u64)> = Vec::new();
    if let Some(o) = cfg.auth.as_ref().and_then(|a| a.oauth.as_ref()) {
        calls.push(("auth.oauth.http_timeout_secs", o.http_timeout_secs.saturating_mul(1000)));
    }
    let s = cfg.secrets.clone().unwrap_or_default();
    match s.backend {
        BackendKind::Vault => {
            calls.extend(s.vault.as_ref().map(|v| ("secrets.vault.timeout_secs", v.timeout_secs.saturating_mul(1000))));
        }
        BackendKind::AwsSecretsManager => calls.extend(
            s.aws_secrets_manager
                .as_ref()
                .map(|a| ("secrets.aws_secrets_manager.timeout_secs", a.timeout_secs.saturating_mul(1000))),
        ),
        BackendKind::LocalEncrypted | BackendKind::Memory => {}
    }
    if cfg.rate_limit.enabled && cfg.rate_limit.backend == RateBackend::Redis {
        calls.push(("rate_limit.redis_timeout_ms", cfg.rate_limit.redis_timeout_ms));
    }
    if cfg.monitoring.alerts.webhook_url.is_some() {
        calls.push(("monitoring.alerts.timeout_ms", cfg.monitoring.alerts.timeout_ms));
    }
    if let Some(n) = &cfg.hipaa.notification {
        calls.push(("hipaa.notification.timeout_ms", n.timeout_ms));
    }
    let mut j = Judge::new("");
    for (key, ms) in &calls {
        if *ms == 0 {
            j.flag(Status::Fail, key, format!("{key} is 0 (no timeout)"));
        } else if *ms > LONG_TIMEOUT_MS {
            j.flag(Status::Warn, key, format!("{key} allows {} s", ms / 1000));
        }
    }
    let outbound = if calls.is_empty() {
        "no outbound call configured".to_owned()
    } else {
        let list: Vec<String> = calls.iter().map(|(k, ms)| format!("{k} ({ms} ms)")).collect();
        format!("outbound: {}", list.join(", "))
    };
    let h = &cfg.http;
    let ok = format!(
        "{outbound}; inbound: headers {} s, request {} s, idle {} s, handlers {} s",
        h.header_read_timeout_secs, h.request_timeout_secs, h.idle_timeout_secs, cfg.server.handler_timeout_secs
    );
    j.finish("outbound_timeouts", "Timeouts on every outbound call", ok)
}
