//! The audit record: one per decoded request. Identifiers, a digest of the parameters and the
//! outcome only; never the parameters, tokens or secrets themselves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::principal::AuthMethod;

/// How a request ended, as the audit log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditOutcome {
    /// Answered with a result (a tool result with `isError: true` included).
    Ok,
    /// A tool ran and reported `isError: true`.
    ToolError,
    /// Refused by authorization.
    Denied,
    /// Refused by a rate limit.
    RateLimited,
    /// Refused by input validation or prompt safety.
    Invalid,
    /// Answered with any other JSON-RPC error.
    Error,
}

impl AuditOutcome {
    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ToolError => "tool_error",
            Self::Denied => "denied",
            Self::RateLimited => "rate_limited",
            Self::Invalid => "invalid",
            Self::Error => "error",
        }
    }
}

/// One audit record for one decoded request.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    /// When the request arrived.
    pub at: SystemTime,
    /// The JSON-RPC id as text (`"7"`, `"\"abc\""`), absent for notifications.
    pub request_id: Option<Arc<str>>,
    /// Principal id (key id, subject, certificate name).
    pub principal: Arc<str>,
    /// How the principal authenticated.
    pub auth_method: AuthMethod,
    /// Remote address, when on a network transport.
    pub peer: Option<SocketAddr>,
    /// The JSON-RPC method.
    pub method: Arc<str>,
    /// The tool name, resource URI or prompt name, when the method has one.
    pub target: Option<Arc<str>>,
    /// Keyed digest of the canonical parameters (see the audit crate), never the parameters.
    pub params_hash: Option<[u8; 32]>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The JSON-RPC error code, for error outcomes.
    pub error_code: Option<i64>,
    /// Time from decode to response.
    pub latency: Duration,
    /// A rule asks for this request to be recorded whatever the sink's event filter says
    /// (`audit_log = true` on an access rule).
    pub always: bool,
}
