use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

/// What kind of security-relevant thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecurityEventKind {
    /// A request was refused before it was decoded (size, Host, Origin, content type, ...).
    TransportRejected,
    /// A body could not be decoded as JSON-RPC.
    MalformedMessage,
    /// A mirrored header disagreed with the body.
    HeaderMismatch,
    /// An unsupported protocol revision was requested.
    UnsupportedVersion,
    /// An unknown or foreign session id was presented.
    SessionRejected,
    /// A capacity limit was hit.
    CapacityExceeded,
    /// A tampered or expired input-required state was presented.
    StateTampered,
    /// Authentication succeeded.
    Authenticated,
    /// Authentication failed.
    AuthenticateFail,
    /// Authorization denied an action.
    AuthorizeFail,
    /// A rate limit was exceeded.
    RateLimitExceeded,
    /// Input validation failed.
    ValidationFail,
    /// A prompt-safety pattern matched (the event carries the pattern id, never the text).
    PromptInjectionBlocked,
    /// The shared rate-limit store is unreachable; the configured fail policy applies.
    RateLimiterDegraded,
    /// A caller was blocked after repeated failures (or a blocked caller was refused).
    ClientBlocked,
    /// A monitoring threshold was crossed.
    Alert,
    /// A client deviated from its own baseline.
    Anomaly,
    /// A secret was read, written or rotated (the name only, never the value).
    SecretAccess,
    /// Configuration (policy, TLS material, keys) changed at runtime.
    ConfigChange,
    /// A registered tool's definition changed.
    ToolDefinitionChanged,
    /// The audit sink could not accept a record (queue full, write failed).
    AuditDegraded,
    /// Something that may be a breach: repeated denials on PHI, a broken audit chain, a secret
    /// that fails to decrypt.
    BreachSuspected,
}

impl SecurityEventKind {
    /// Stable snake_case name (the same as the serialized form).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TransportRejected => "transport_rejected",
            Self::MalformedMessage => "malformed_message",
            Self::HeaderMismatch => "header_mismatch",
            Self::UnsupportedVersion => "unsupported_version",
            Self::SessionRejected => "session_rejected",
            Self::CapacityExceeded => "capacity_exceeded",
            Self::StateTampered => "state_tampered",
            Self::Authenticated => "authenticated",
            Self::AuthenticateFail => "authenticate_fail",
            Self::AuthorizeFail => "authorize_fail",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::ValidationFail => "validation_fail",
            Self::PromptInjectionBlocked => "prompt_injection_blocked",
            Self::RateLimiterDegraded => "rate_limiter_degraded",
            Self::ClientBlocked => "client_blocked",
            Self::Alert => "alert",
            Self::Anomaly => "anomaly",
            Self::SecretAccess => "secret_access",
            Self::ConfigChange => "config_change",
            Self::ToolDefinitionChanged => "tool_definition_changed",
            Self::AuditDegraded => "audit_degraded",
            Self::BreachSuspected => "breach_suspected",
        }
    }
}

/// One security event. Carries identifiers and static reasons only: never parameters, tokens or
/// secrets.
#[derive(Clone, Debug, Serialize)]
pub struct SecurityEvent {
    /// What happened.
    pub kind: SecurityEventKind,
    /// When.
    #[serde(with = "unix_millis")]
    pub at: SystemTime,
    /// Static reason.
    pub reason: &'static str,
    /// Principal id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Arc<str>>,
    /// Remote address, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<std::net::SocketAddr>,
    /// Method or action, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Arc<str>>,
    /// The tool, resource URI, prompt or secret name concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Arc<str>>,
    /// The rule, limit or pattern id that decided (`role:readonly`, `limit:client_tools`,
    /// `pattern:system_prefix`), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Arc<str>>,
}

impl SecurityEvent {
    /// A new event at `at` with only kind and reason filled in.
    pub fn new(kind: SecurityEventKind, reason: &'static str, at: SystemTime) -> Self {
        Self { kind, at, reason, principal: None, peer: None, method: None, resource: None, rule: None }
    }

    /// Set the principal id.
    #[must_use]
    pub fn with_principal(mut self, principal: impl Into<Arc<str>>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// Set the remote address.
    #[must_use]
    pub fn with_peer(mut self, peer: Option<std::net::SocketAddr>) -> Self {
        self.peer = peer;
        self
    }

    /// Set the method or action.
    #[must_use]
    pub fn with_method(mut self, method: impl Into<Arc<str>>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Set the tool / resource / prompt / secret concerned.
    #[must_use]
    pub fn with_resource(mut self, resource: impl Into<Arc<str>>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Set the deciding rule, limit or pattern id.
    #[must_use]
    pub fn with_rule(mut self, rule: impl Into<Arc<str>>) -> Self {
        self.rule = Some(rule.into());
        self
    }
}

mod unix_millis {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub(super) fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let ms = t.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        s.serialize_u128(ms)
    }
}
