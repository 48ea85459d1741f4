//! HIPAA startup checks.
//!
//! With `[hipaa] enabled = true`, every requirement set to `"required"` becomes a check run
//! before the server starts. A deployment that misses one refuses to start, with a message that
//! names the requirement, what is wrong and the exact setting to change. The checks only read the
//! configuration: they never open files or the network.

use std::net::IpAddr;

use mcp_audit::{EventClass, Field, FsyncPolicy, OnFailure};
use mcp_secrets::BackendKind;
use mcp_transport::tls::TlsVersion;

use super::Requirement;
use crate::{Config, ServerError};

/// Refuse a HIPAA deployment that misses a required setting: the first unmet requirement as
/// [`ServerError::Config`]. `Ok` when `[hipaa]` is off or every required check passes.
///
/// ```
/// let mut cfg = mcp_server::Config::default();
/// assert!(mcp_server::compliance::check_hipaa(&cfg).is_ok());
/// cfg.hipaa.enabled = true;
/// cfg.hipaa.encryption = mcp_server::compliance::Requirement::Required;
/// let e = mcp_server::compliance::check_hipaa(&cfg).unwrap_err().to_string();
/// assert!(e.contains("hipaa.encryption") && e.contains("[http.tls]"), "{e}");
/// ```
pub fn check_hipaa(cfg: &Config) -> Result<(), ServerError> {
    match hipaa_findings(cfg).into_iter().next() {
        Some(message) => Err(ServerError::Config(message)),
        None => Ok(()),
    }
}

/// Every unmet HIPAA requirement, in check order (encryption, audit trail, access log, breach
/// notification); empty when `[hipaa]` is off or everything required is in place. Each message
/// starts with the requirement (`hipaa.encryption = "required": ...`) and ends with the fix.
pub fn hipaa_findings(cfg: &Config) -> Vec<String> {
    keyed_findings(cfg).into_iter().map(|(_, m)| m).collect()
}

/// A problem: the config key to change, and the message.
type Finding = (&'static str, String);

/// One requirement's check.
type Check = fn(&Config) -> Vec<Finding>;

/// [`hipaa_findings`] with the config key each one is about.
pub(crate) fn keyed_findings(cfg: &Config) -> Vec<Finding> {
    let h = &cfg.hipaa;
    let mut out = Vec::new();
    if !h.enabled {
        return out;
    }
    let checks: [(Requirement, &str, Check); 4] = [
        (h.encryption, "encryption", encryption),
        (h.audit_trail, "audit_trail", audit_trail),
        (h.access_log, "access_log", access_log),
        (h.breach_notification, "breach_notification", breach_notification),
    ];
    for (req, name, check) in checks {
        if req == Requirement::Required {
            out.extend(check(cfg).into_iter().map(|(k, m)| (k, format!("hipaa.{name} = \"required\": {m}"))));
        }
    }
    out
}

/// True for an AEAD cipher suite: every TLS 1.3 suite, and the TLS 1.2 GCM and ChaCha20-Poly1305
/// suites (IANA names as rustls spells them).
pub(crate) fn is_aead_suite(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.starts_with("TLS13_") || n.contains("_GCM_") || n.contains("_CHACHA20_POLY1305_")
}

/// True when both allowed minimum versions are acceptable. The match is exhaustive on purpose:
/// a lower version added to [`TlsVersion`] must be judged here before it compiles.
pub(crate) fn min_version_acceptable(v: TlsVersion) -> bool {
    match v {
        TlsVersion::Tls12 | TlsVersion::Tls13 => true,
    }
}

/// True for `localhost` or a loopback IP literal (bracketed IPv6 included).
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `Ok` for an `https` URL, or `http` to a loopback host; otherwise why not (never the URL).
pub(crate) fn check_target_url(url: &str) -> Result<(), &'static str> {
    let u = reqwest::Url::parse(url).map_err(|_| "is not a valid absolute URL")?;
    let host = u.host_str().ok_or("has no host")?;
    match u.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err("uses plain http to a non-loopback host (use https)"),
        _ => Err("is not an https URL"),
    }
}

fn encryption(cfg: &Config) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    match &cfg.http.tls {
        None => out.push((
            "http.tls",
            "http.tls is not configured: set [http.tls] cert_path and key_path (TLS on every listener; \
             a TLS-terminating proxy in front does not count)"
                .to_owned(),
        )),
        Some(tls) => {
            if !min_version_acceptable(tls.min_version) {
                let m = "http.tls.min_version is below 1.2: set http.tls.min_version = \"1.3\" or \"1.2\"";
                out.push(("http.tls.min_version", m.to_owned()));
            }
            for suite in tls.cipher_suites.iter().filter(|s| !is_aead_suite(s)) {
                let m = format!(
                    "http.tls.cipher_suites lists {suite}, which is not an AEAD suite: keep only TLS13_* suites and \
                     TLS 1.2 *_GCM_* or *_CHACHA20_POLY1305_* suites (or remove cipher_suites for the AEAD defaults)"
                );
                out.push(("http.tls.cipher_suites", m));
            }
        }
    }
    let secrets = cfg.secrets.clone().unwrap_or_default();
    if secrets.backend == BackendKind::Memory {
        let m = "secrets.backend = \"memory\" keeps secrets unencrypted: set secrets.backend = \"local_encrypted\", \
                 \"vault\" or \"aws_secrets_manager\"";
        out.push(("secrets.backend", m.to_owned()));
    }
    if secrets.backend == BackendKind::Vault
        && let Some(v) = &secrets.vault
        && check_target_url(&v.address).is_err()
    {
        let m = "secrets.vault.address is not https: set an https:// address for the Vault server";
        out.push(("secrets.vault.address", m.to_owned()));
    }
    if cfg.audit_log.enabled && !cfg.hipaa.audit_volume_encrypted {
        let m = "the audit files are not declared encrypted at rest: the server does not encrypt audit files \
                 itself; put the audit directory (audit_log.directory) on an encrypted volume and set \
                 hipaa.audit_volume_encrypted = true";
        out.push(("hipaa.audit_volume_encrypted", m.to_owned()));
    }
    out
}

fn audit_trail(cfg: &Config) -> Vec<Finding> {
    let a = &cfg.audit_log;
    if !a.enabled {
        return vec![("audit_log.enabled", "the audit log is off: set audit_log.enabled = true".to_owned())];
    }
    let mut out: Vec<Finding> = Vec::new();
    if a.on_failure == OnFailure::FailOpen {
        let m = "audit_log.on_failure = \"fail_open\" drops records when the log cannot be written: \
                 set audit_log.on_failure = \"fail_closed\"";
        out.push(("audit_log.on_failure", m.to_owned()));
    }
    let missing: Vec<&str> =
        EventClass::all().into_iter().filter(|c| !a.events.contains(c)).map(EventClass::as_str).collect();
    if !missing.is_empty() {
        let m = format!(
            "audit_log.events leaves out {}: remove audit_log.events (all classes) or list every class",
            missing.join(", ")
        );
        out.push(("audit_log.events", m));
    }
    if a.fsync == FsyncPolicy::None {
        let m = "audit_log.fsync = \"none\" can lose records on power loss: set audit_log.fsync = \"every_record\" \
                 or { interval_ms = 1000 }";
        out.push(("audit_log.fsync", m.to_owned()));
    }
    out
}

fn access_log(cfg: &Config) -> Vec<Finding> {
    let a = &cfg.audit_log;
    if !a.enabled {
        let m = "tool calls and resource reads are not logged: set audit_log.enabled = true";
        return vec![("audit_log.enabled", m.to_owned())];
    }
    let mut out: Vec<Finding> = Vec::new();
    for class in [EventClass::ToolExecute, EventClass::ResourceRead] {
        if !a.events.contains(&class) {
            let c = class.as_str();
            out.push(("audit_log.events", format!("audit_log.events leaves out {c}: add \"{c}\" to audit_log.events")));
        }
    }
    let fields = [
        (Field::ClientId, "client_id"),
        (Field::Timestamp, "timestamp"),
        (Field::Method, "method"),
        (Field::Target, "target"),
    ];
    for (field, name) in fields {
        if !a.include.contains(&field) {
            let m = format!(
                "audit_log.include leaves out {name}, so an access cannot be tied to its principal, time and \
                 target: add \"{name}\" to audit_log.include"
            );
            out.push(("audit_log.include", m));
        }
    }
    out
}

fn breach_notification(cfg: &Config) -> Vec<Finding> {
    let Some(n) = &cfg.hipaa.notification else {
        let m = "no notification target: set [hipaa.notification] webhook_url = \"https://...\" or \
                 command = [\"/path/to/program\", ...] to receive breach_suspected events";
        return vec![("hipaa.notification", m.to_owned())];
    };
    let mut out: Vec<Finding> = Vec::new();
    if let Some(url) = &n.webhook_url
        && let Err(why) = check_target_url(url)
    {
        let m = format!("hipaa.notification.webhook_url {why}: set an https URL (http only to a loopback host)");
        out.push(("hipaa.notification.webhook_url", m));
    }
    if let Some(cmd) = &n.command
        && cmd.first().is_none_or(|p| p.trim().is_empty())
    {
        let m = "hipaa.notification.command is empty: name the program first, e.g. [\"/usr/local/bin/notify\"]";
        out.push(("hipaa.notification.command", m.to_owned()));
    }
    if n.webhook_url.is_none() && n.command.is_none() {
        let m = "[hipaa.notification] has neither webhook_url nor command: set one of them";
        out.push(("hipaa.notification", m.to_owned()));
    }
    if n.timeout_ms == 0 {
        let m = "hipaa.notification.timeout_ms is 0: set a delivery timeout, e.g. 5000";
        out.push(("hipaa.notification.timeout_ms", m.to_owned()));
    }
    out
}

#[cfg(test)]
#[path = "hipaa_tests.rs"]
mod tests;
