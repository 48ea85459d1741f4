//! What gets written: record classes (`events`) and request fields (`include`).

use serde::Deserialize;

/// A class of audit record, as selected by `events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// `tools/call`.
    ToolExecute,
    /// `resources/read`.
    ResourceRead,
    /// `prompts/get`.
    PromptGet,
    /// Any other request method.
    Request,
    /// Authentication succeeded or failed.
    Authenticate,
    /// Authorization denied an action.
    AuthorizeFail,
    /// A rate limit was exceeded.
    RateLimitExceeded,
    /// Input validation or prompt safety refused a request.
    ValidationFail,
    /// A secret was read, written or rotated.
    SecretAccess,
    /// Configuration or a tool definition changed.
    ConfigChange,
    /// Every other security event.
    SecurityEvent,
}

impl EventClass {
    /// Every class, in declaration order.
    pub fn all() -> Vec<Self> {
        vec![
            Self::ToolExecute,
            Self::ResourceRead,
            Self::PromptGet,
            Self::Request,
            Self::Authenticate,
            Self::AuthorizeFail,
            Self::RateLimitExceeded,
            Self::ValidationFail,
            Self::SecretAccess,
            Self::ConfigChange,
            Self::SecurityEvent,
        ]
    }

    /// The `type` written in records.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ToolExecute => "tool_execute",
            Self::ResourceRead => "resource_read",
            Self::PromptGet => "prompt_get",
            Self::Request => "request",
            Self::Authenticate => "authenticate",
            Self::AuthorizeFail => "authorize_fail",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::ValidationFail => "validation_fail",
            Self::SecretAccess => "secret_access",
            Self::ConfigChange => "config_change",
            Self::SecurityEvent => "security_event",
        }
    }

    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A field of a record, as selected by `include`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// `ts`: when the request arrived (without it retention still works on rotated files).
    Timestamp,
    /// `request_id`: the JSON-RPC id.
    RequestId,
    /// `client_id`: the principal id (needed by GDPR erase and export).
    ClientId,
    /// `auth`: how the principal authenticated.
    Auth,
    /// `peer`: the remote address.
    Peer,
    /// `method`: the JSON-RPC method (or the event's action).
    Method,
    /// `target`: tool name, resource URI, prompt or secret name.
    Target,
    /// `params_hash`: keyed digest of the canonical parameters.
    ParamsHash,
    /// `result`: the outcome.
    Result,
    /// `error_code`: the JSON-RPC error code.
    ErrorCode,
    /// `latency_us`: time from decode to response.
    Latency,
}

impl Field {
    /// Every field.
    pub fn all() -> Vec<Self> {
        vec![
            Self::Timestamp,
            Self::RequestId,
            Self::ClientId,
            Self::Auth,
            Self::Peer,
            Self::Method,
            Self::Target,
            Self::ParamsHash,
            Self::Result,
            Self::ErrorCode,
            Self::Latency,
        ]
    }

    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of [`EventClass`]es or [`Field`]s as a bit mask.
pub(crate) fn mask<T: Copy>(items: &[T], bit: fn(T) -> u16) -> u16 {
    items.iter().fold(0, |m, &i| m | bit(i))
}
