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
}

impl SecurityEvent {
    /// A new event at `at` with only kind and reason filled in.
    pub fn new(kind: SecurityEventKind, reason: &'static str, at: SystemTime) -> Self {
        Self { kind, at, reason, principal: None, peer: None, method: None }
    }
}

mod unix_millis {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub(super) fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let ms = t.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        s.serialize_u128(ms)
    }
}
