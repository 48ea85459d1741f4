//! Access and protection items: authentication, authorization, rate limits, input validation,
//! audit log, error messages, and the GDPR / HIPAA status lines.

use mcp_audit::{EventClass, Field, FsyncPolicy, OnFailure};
use mcp_ratelimit::config::{BackendKind, FailurePolicy};

use super::{CheckItem, Judge, Status};
use crate::Config;
use crate::compliance::Requirement;
use crate::compliance::hipaa::keyed_findings;

pub(super) fn authentication(cfg: &Config) -> CheckItem {
    let mut j = Judge::new("auth.methods");
    if cfg.danger.allow_unauthenticated {
        j.flag(
            Status::Fail,
            "danger.allow_unauthenticated",
            "every HTTP caller is served as `anonymous` without credentials",
        );
    }
    let ok = match &cfg.auth {
        Some(a) => {
            let methods: Vec<&str> = a.methods.iter().map(|m| m.as_str()).collect();
            format!("every HTTP request authenticated; methods: {}", methods.join(", "))
        }
        None => "every HTTP request authenticated with API keys kept in server.data_dir (the default)".to_owned(),
    };
    j.finish("authentication_required", "Authentication required", ok)
}

pub(super) fn authorization(cfg: &Config) -> CheckItem {
    let mut j = Judge::new("authorization");
    let ok = match &cfg.authorization {
        None => {
            j.flag(
                Status::Warn,
                "authorization",
                "the standard policy is in force unchanged (roles admin, user, readonly; default_role user): \
                 write an [authorization] section with the roles and rules of your tools",
            );
            String::new()
        }
        Some(a) if !a.enabled => {
            j.flag(Status::Fail, "authorization.enabled", "authorization is off: every caller may do everything");
            String::new()
        }
        Some(a) => format!(
            "explicit policy: {} role(s), {} scope mapping(s), {} tool / {} resource / {} prompt rule(s)",
            a.roles.len(),
            a.scopes.len(),
            a.tools.len(),
            a.resources.len(),
            a.prompts.len()
        ),
    };
    j.finish("authorization_rules", "Authorization rules configured", ok)
}

pub(super) fn rate_limiting(cfg: &Config) -> CheckItem {
    let r = &cfg.rate_limit;
    let mut j = Judge::new("rate_limit.enabled");
    if !r.enabled {
        j.flag(Status::Fail, "rate_limit.enabled", "rate limiting is off");
    } else if r.limits.is_empty() {
        j.flag(Status::Warn, "rate_limit.limits", "rate limiting is on but `limits = []` defines no limit");
    }
    if r.enabled && r.backend == BackendKind::Redis && r.on_backend_failure == FailurePolicy::FailOpen {
        j.flag(Status::Warn, "rate_limit.on_backend_failure", "fail_open lifts every limit while Redis is unreachable");
    }
    let names: Vec<&str> = r.limits.iter().map(|l| l.name.as_str()).collect();
    let ok = format!("{} limit(s) ({}) in {}", names.len(), names.join(", "), r.backend.as_str());
    j.finish("rate_limiting", "Rate limiting enabled", ok)
}

pub(super) fn input_validation(cfg: &Config) -> CheckItem {
    let p = &cfg.prompt_security;
    let c = &cfg.content_validation;
    let mut j = Judge::new("prompt_security.enabled");
    if !p.enabled {
        j.flag(Status::Fail, "prompt_security.enabled", "the prompt-injection guard is off");
    } else if !p.default_patterns {
        j.flag(Status::Warn, "prompt_security.default_patterns", "the built-in injection patterns are switched off");
    }
    if c.allowed_mime_types.iter().any(|m| m.trim() == "*/*") {
        j.flag(
            Status::Warn,
            "content_validation.allowed_mime_types",
            "content_validation.allowed_mime_types allows every type (\"*/*\")",
        );
    }
    let args = if p.scan_tool_arguments { "all tool arguments" } else { "tool arguments where a tool asks for it" };
    let ok = format!(
        "tool arguments checked against their JSON schemas; prompt-injection guard on prompt arguments and {args}; \
         content limited to {} text bytes, {} binary bytes, {} MIME type rule(s)",
        c.max_text_length,
        c.max_binary_size,
        c.allowed_mime_types.len()
    );
    j.finish("input_validation", "Input validation enabled", ok)
}

pub(super) fn audit(cfg: &Config) -> CheckItem {
    let a = &cfg.audit_log;
    let mut j = Judge::new("audit_log.enabled");
    if !a.enabled {
        j.flag(Status::Fail, "audit_log.enabled", "the audit log is off");
        return j.finish("audit_logging", "Audit logging enabled", String::new());
    }
    if a.on_failure == OnFailure::FailOpen {
        j.flag(Status::Warn, "audit_log.on_failure", "fail_open serves requests that could not be recorded");
    }
    if a.fsync == FsyncPolicy::None {
        j.flag(Status::Warn, "audit_log.fsync", "fsync = \"none\" can lose records on power loss");
    }
    let all = EventClass::all();
    let missing: Vec<&str> = all.iter().filter(|c| !a.events.contains(c)).map(|c| c.as_str()).collect();
    if !missing.is_empty() {
        j.flag(Status::Warn, "audit_log.events", format!("audit_log.events leaves out {}", missing.join(", ")));
    }
    if !a.include.contains(&Field::ClientId) {
        j.flag(Status::Warn, "audit_log.include", "audit_log.include leaves out client_id (who did it)");
    }
    let sync = match a.fsync {
        FsyncPolicy::EveryRecord => "every record".to_owned(),
        FsyncPolicy::Interval { interval_ms } => format!("every {interval_ms} ms"),
        FsyncPolicy::None => "never".to_owned(),
    };
    let ok = format!("tamper-evident log of all {} event classes, fail_closed, fsync {sync}", all.len());
    j.finish("audit_logging", "Audit logging enabled", ok)
}

pub(super) fn error_messages() -> CheckItem {
    let ok = "clients get fixed texts per error code; causes (paths, backend errors, stack details) go to the \
              server log only"
        .to_owned();
    Judge::new("").finish("error_messages", "Error messages without internals", ok)
}

pub(super) fn gdpr(cfg: &Config) -> CheckItem {
    let g = &cfg.gdpr;
    let mut j = Judge::new("gdpr.enabled");
    if !g.enabled {
        let ok = "off (turn on when the server keeps personal data of people in the EU)".to_owned();
        return j.finish("gdpr", "GDPR mode", ok);
    }
    if g.data_retention_days == 0 {
        j.flag(Status::Warn, "gdpr.data_retention_days", "data_retention_days = 0 keeps personal data forever");
    }
    if !cfg.audit_log.include.contains(&Field::ClientId) {
        j.flag(
            Status::Warn,
            "audit_log.include",
            "audit_log.include leaves out client_id: erase and export cannot find a subject's records",
        );
    }
    let on = |b: bool| if b { "on" } else { "off" };
    let ok = format!(
        "on: retention {} days, erasure {}, export {}, consent tracking {}",
        g.data_retention_days,
        on(g.right_to_deletion),
        on(g.data_portability),
        on(g.consent_tracking)
    );
    j.finish("gdpr", "GDPR mode", ok)
}

pub(super) fn hipaa(cfg: &Config) -> CheckItem {
    let h = &cfg.hipaa;
    let mut j = Judge::new("hipaa.enabled");
    if !h.enabled {
        return j.finish("hipaa", "HIPAA mode", "off (turn on when the server handles PHI)".to_owned());
    }
    let findings = keyed_findings(cfg);
    if let Some((key, first)) = findings.first() {
        let more = match findings.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        j.flag(Status::Fail, key, format!("the server refuses to start: {first}{more}"));
    }
    let optional: Vec<&str> = [
        (h.encryption, "encryption"),
        (h.audit_trail, "audit_trail"),
        (h.access_log, "access_log"),
        (h.breach_notification, "breach_notification"),
    ]
    .into_iter()
    .filter(|(r, _)| *r == Requirement::Optional)
    .map(|(_, n)| n)
    .collect();
    if let Some(first) = optional.first() {
        j.flag(Status::Warn, &format!("hipaa.{first}"), format!("not required: {}", optional.join(", ")));
    }
    j.finish("hipaa", "HIPAA mode", "on: every requirement required and met".to_owned())
}
