//! The crate's one error enum.
//!
//! Compile errors name the offending role, scope or rule so an operator can fix the file; they
//! never contain principal data. [`AuthzError::kind`] maps every variant onto the shared
//! [`ErrorKind`] table of the server.

use mcp_core::{ErrorKind, InvalidPermission};

/// Why a policy could not be compiled, or a call description could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthzError {
    /// A permission string is malformed.
    #[error("{context}: {source}")]
    InvalidPermission {
        /// Where it was written (`role "user"`, `scope "mcp:tools"`, `rule tool:x`).
        context: String,
        /// The parse error.
        source: InvalidPermission,
    },
    /// A role is referenced but not defined under `[authorization.roles]`.
    #[error("{context} names the unknown role {role:?}; define it under [authorization.roles.{role}]")]
    UnknownRole {
        /// The referenced name.
        role: String,
        /// Where it was referenced (`inherits of role "admin"`, `default_role`, `rule tool:x`).
        context: String,
    },
    /// Role inheritance loops back on itself.
    #[error("role inheritance cycle: {cycle}")]
    InheritanceCycle {
        /// The loop, for example `admin -> ops -> admin`.
        cycle: String,
    },
    /// A rule is contradictory or malformed.
    #[error("rule {rule}: {reason}")]
    InvalidRule {
        /// The rule id (`tool:restart_server`).
        rule: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two config rules (or two roles) have the same name.
    #[error("{what} {name} is defined twice")]
    Duplicate {
        /// `rule` or `role`.
        what: &'static str,
        /// The duplicated id.
        name: String,
    },
    /// A name is empty or too long.
    #[error("{what} name {name:?} is invalid: {reason}")]
    InvalidName {
        /// `role` or `scope`.
        what: &'static str,
        /// The name (truncated to 64 characters).
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// More roles or scopes than the compiled bitsets hold.
    #[error("too many {what}: at most {max} are supported")]
    TooMany {
        /// `roles` or `scopes`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A call description given to [`crate::parse_call`] is malformed.
    #[error("cannot parse call {input:?}: {reason}")]
    InvalidCall {
        /// The input (truncated to 64 characters).
        input: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl AuthzError {
    /// The shared error kind: configuration problems are [`ErrorKind::Internal`], a bad call
    /// description is [`ErrorKind::InvalidRequest`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidCall { .. } => ErrorKind::InvalidRequest,
            _ => ErrorKind::Internal,
        }
    }
}

/// At most 64 characters of `s`, for error messages.
pub(crate) fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = AuthzError::InheritanceCycle { cycle: "a -> b -> a".into() };
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.to_string(), "role inheritance cycle: a -> b -> a");
        let c = AuthzError::InvalidCall { input: "x".into(), reason: "unknown method" };
        assert_eq!(c.kind(), ErrorKind::InvalidRequest);
        assert_eq!(truncated(&"é".repeat(100)).chars().count(), 64);
    }
}
