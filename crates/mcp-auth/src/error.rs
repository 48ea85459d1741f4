//! The crate's one error enum and the precise failure reasons behind it.
//!
//! Two audiences, two vocabularies: clients get an RFC 6750 error code (`invalid_token`,
//! `insufficient_scope`, `invalid_request`, or none) and a status chosen by the server from
//! [`AuthError::kind`]; audit and security events get the precise [`FailureReason`]
//! (`expired`, `bad_signature`, `wrong_audience`, ...). Neither ever contains a token, a key or a
//! secret.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use mcp_core::traits::BackendError;
use mcp_core::{AuthMethod, ErrorKind, SecurityEvent, SecurityEventKind};

/// Why a credential was refused: for audit and security events, never for clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureReason {
    // ---- request shape ----
    /// No credential of an enabled kind was presented.
    MissingCredentials,
    /// A credential was presented whose method is not enabled (e.g. a bearer token with only API
    /// keys configured).
    MethodNotEnabled,
    /// Credentials of two different kinds were presented and config refuses that.
    MultipleCredentials,
    /// More than one `Authorization` (or API-key) header.
    DuplicateHeader,
    /// An `Authorization: Bearer` header that is not `Bearer <token68>`.
    MalformedAuthorizationHeader,
    /// An `access_token` in the URI query (RFC 6750 §2.3 is not supported: tokens leak into logs).
    TokenInQuery,
    // ---- token shape ----
    /// The token is longer than the configured maximum (checked before any parsing).
    TokenTooLong,
    /// Not a compact JWS (three base64url parts), or a part does not decode.
    MalformedToken,
    /// The JOSE header is not valid JSON or lacks `alg`.
    MalformedHeader,
    /// `alg: none` (any case).
    AlgNone,
    /// An `alg` this crate does not implement.
    UnsupportedAlgorithm,
    /// An `alg` that config does not allow.
    AlgorithmNotAllowed,
    /// The header names a key source (`jku`, `x5u`, `jwk`, `x5c`) or a `crit` extension.
    ForbiddenHeader,
    /// `typ` is not the one required (`at+jwt`).
    WrongTokenType,
    /// The `kid` names no known key (after a rate-limited JWKS refresh, for OAuth).
    UnknownKid,
    /// No `kid`, and several keys could verify this `alg`.
    KidRequired,
    /// The key selected by `kid` is of another family than `alg` (algorithm confusion).
    AlgKeyMismatch,
    /// The signature does not verify.
    BadSignature,
    /// The claims are not a JSON object, repeat a name, or have a claim of the wrong type.
    MalformedClaims,
    /// A required claim (`exp`, `iat`, `iss`, `aud`, subject) is absent.
    MissingClaim,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `exp - iat` exceeds the configured maximum token lifetime.
    LifetimeTooLong,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not contain this server's resource URI.
    WrongAudience,
    /// Authenticated, but the token lacks a required scope.
    InsufficientScope,
    /// Introspection answered `active: false`.
    TokenInactive,
    // ---- API keys ----
    /// The API key has the wrong length or characters.
    MalformedApiKey,
    /// No configured key has this digest.
    UnknownApiKey,
    // ---- client certificates ----
    /// The client certificate does not parse.
    MalformedCertificate,
    /// The client certificate is outside its validity period.
    CertificateExpired,
    /// The certificate carries more than one SPIFFE id.
    AmbiguousSpiffeId,
    /// No identity rule matches the certificate and unmapped certificates are refused.
    UnmappedCertificate,
    // ---- availability ----
    /// The authorization server's metadata or JWKS could not be fetched.
    IssuerUnavailable,
    /// The introspection endpoint could not be reached or answered garbage.
    IntrospectionUnavailable,
    /// Construction-time configuration error (never on the request path).
    Misconfigured,
}

impl FailureReason {
    /// Stable snake_case name for audit records and security events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::MethodNotEnabled => "method_not_enabled",
            Self::MultipleCredentials => "multiple_credentials",
            Self::DuplicateHeader => "duplicate_header",
            Self::MalformedAuthorizationHeader => "malformed_authorization_header",
            Self::TokenInQuery => "token_in_query",
            Self::TokenTooLong => "token_too_long",
            Self::MalformedToken => "malformed_token",
            Self::MalformedHeader => "malformed_header",
            Self::AlgNone => "alg_none",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::ForbiddenHeader => "forbidden_header",
            Self::WrongTokenType => "wrong_token_type",
            Self::UnknownKid => "unknown_kid",
            Self::KidRequired => "kid_required",
            Self::AlgKeyMismatch => "alg_key_mismatch",
            Self::BadSignature => "bad_signature",
            Self::MalformedClaims => "malformed_claims",
            Self::MissingClaim => "missing_claim",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::InsufficientScope => "insufficient_scope",
            Self::TokenInactive => "token_inactive",
            Self::MalformedApiKey => "malformed_api_key",
            Self::UnknownApiKey => "unknown_api_key",
            Self::MalformedCertificate => "malformed_certificate",
            Self::CertificateExpired => "certificate_expired",
            Self::AmbiguousSpiffeId => "ambiguous_spiffe_id",
            Self::UnmappedCertificate => "unmapped_certificate",
            Self::IssuerUnavailable => "issuer_unavailable",
            Self::IntrospectionUnavailable => "introspection_unavailable",
            Self::Misconfigured => "misconfigured",
        }
    }
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in this crate.
///
/// Request-path variants map onto [`ErrorKind`] through [`AuthError::kind`]:
///
/// | variant | kind | HTTP (server's table) | RFC 6750 `error` |
/// |---|---|---|---|
/// | `Missing` | `Unauthenticated` | 401 | — |
/// | `Rejected` | `Unauthenticated` | 401 | `invalid_token` |
/// | `BadRequest` | `InvalidRequest` | 400 | `invalid_request` |
/// | `InsufficientScope` | `InsufficientScope` | 403 | `insufficient_scope` |
/// | `Unavailable` | `Unavailable` | 503 | — |
/// | `Config` | `Internal` | (startup only) | — |
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No usable credential was presented.
    #[error("no credentials: {reason}")]
    Missing {
        /// `MissingCredentials` or `MethodNotEnabled`.
        reason: FailureReason,
    },
    /// The request carrying the credential is malformed (two Authorization headers, token in
    /// query, two credential kinds, ...).
    #[error("malformed authorization request: {reason}")]
    BadRequest {
        /// Why.
        reason: FailureReason,
    },
    /// A presented credential is invalid.
    #[error("{} credential rejected: {reason}", method.as_str())]
    Rejected {
        /// The method that examined it.
        method: AuthMethod,
        /// Why.
        reason: FailureReason,
    },
    /// A valid OAuth token lacks a required scope.
    #[error("token of {principal} lacks a required scope")]
    InsufficientScope {
        /// The authenticated principal id (for audit).
        principal: Arc<str>,
        /// Every scope the resource requires (for the `scope` challenge parameter).
        required: Arc<[Arc<str>]>,
    },
    /// A dependency (the authorization server, its JWKS or introspection endpoint) is down.
    #[error("{} unavailable: {reason}", method.as_str())]
    Unavailable {
        /// The method that needed it.
        method: AuthMethod,
        /// Why.
        reason: FailureReason,
    },
    /// Invalid configuration, found at construction; never produced on the request path.
    #[error("auth config: {0}")]
    Config(String),
}

impl AuthError {
    pub(crate) fn rejected(method: AuthMethod, reason: FailureReason) -> Self {
        Self::Rejected { method, reason }
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Self::Config(msg.into())
    }

    /// The wire kind: the server maps it to HTTP status and JSON-RPC code in its one table.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Missing { .. } | Self::Rejected { .. } => ErrorKind::Unauthenticated,
            Self::BadRequest { .. } => ErrorKind::InvalidRequest,
            Self::InsufficientScope { .. } => ErrorKind::InsufficientScope,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Config(_) => ErrorKind::Internal,
        }
    }

    /// The precise reason, for audit and security events.
    pub fn reason(&self) -> FailureReason {
        match self {
            Self::Missing { reason } | Self::BadRequest { reason } => *reason,
            Self::Rejected { reason, .. } | Self::Unavailable { reason, .. } => *reason,
            Self::InsufficientScope { .. } => FailureReason::InsufficientScope,
            Self::Config(_) => FailureReason::Misconfigured,
        }
    }

    /// The method that produced the error, when one did.
    pub fn method(&self) -> Option<AuthMethod> {
        match self {
            Self::Rejected { method, .. } | Self::Unavailable { method, .. } => Some(*method),
            Self::InsufficientScope { .. } => Some(AuthMethod::OAuth),
            _ => None,
        }
    }

    /// The RFC 6750 `error` code for the `WWW-Authenticate` challenge, if any. This is all a
    /// client learns about why it was refused.
    pub fn oauth_error_code(&self) -> Option<&'static str> {
        match self {
            Self::Rejected { .. } => Some("invalid_token"),
            Self::BadRequest { .. } => Some("invalid_request"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            Self::Missing { .. } | Self::Unavailable { .. } | Self::Config(_) => None,
        }
    }

    /// The `mcp-core` form returned through the `Authenticator` trait: the kind plus the precise
    /// reason as static text.
    pub fn to_backend_error(&self) -> BackendError {
        BackendError { kind: self.kind(), reason: self.reason().as_str() }
    }

    /// An `AuthenticateFail` security event for this error: precise reason, the method in
    /// `method` (as `authenticate/<method>`), the peer, and the principal when one was
    /// authenticated (insufficient scope).
    pub fn security_event(&self, peer: Option<SocketAddr>, at: SystemTime) -> SecurityEvent {
        let mut event = SecurityEvent::new(SecurityEventKind::AuthenticateFail, self.reason().as_str(), at);
        event.peer = peer;
        event.method = Some(Arc::from(method_event_name(self.method())));
        if let Self::InsufficientScope { principal, .. } = self {
            event.principal = Some(principal.clone());
        }
        event
    }
}

/// `authenticate/<method>` as used in the `method` field of security events.
pub(crate) const fn method_event_name(method: Option<AuthMethod>) -> &'static str {
    match method {
        Some(AuthMethod::ApiKey) => "authenticate/api_key",
        Some(AuthMethod::Jwt) => "authenticate/jwt",
        Some(AuthMethod::OAuth) => "authenticate/oauth",
        Some(AuthMethod::Mtls) => "authenticate/mtls",
        _ => "authenticate",
    }
}

impl From<AuthError> for BackendError {
    fn from(e: AuthError) -> Self {
        e.to_backend_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_codes() {
        let r = AuthError::rejected(AuthMethod::Jwt, FailureReason::Expired);
        assert_eq!(r.kind(), ErrorKind::Unauthenticated);
        assert_eq!(r.oauth_error_code(), Some("invalid_token"));
        assert_eq!(r.to_backend_error().reason, "expired");
        let s = AuthError::InsufficientScope { principal: "c1".into(), required: Arc::from(vec![Arc::from("a")]) };
        assert_eq!(s.kind(), ErrorKind::InsufficientScope);
        assert_eq!(s.oauth_error_code(), Some("insufficient_scope"));
        let b = AuthError::BadRequest { reason: FailureReason::TokenInQuery };
        assert_eq!(b.kind(), ErrorKind::InvalidRequest);
        assert_eq!(b.oauth_error_code(), Some("invalid_request"));
        let m = AuthError::Missing { reason: FailureReason::MissingCredentials };
        assert_eq!(m.oauth_error_code(), None);
        let u = AuthError::Unavailable { method: AuthMethod::OAuth, reason: FailureReason::IssuerUnavailable };
        assert_eq!(u.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn display_never_mentions_more_than_the_reason() {
        let r = AuthError::rejected(AuthMethod::ApiKey, FailureReason::UnknownApiKey);
        assert_eq!(r.to_string(), "api_key credential rejected: unknown_api_key");
        let ev = r.security_event(None, SystemTime::UNIX_EPOCH);
        assert_eq!(ev.reason, "unknown_api_key");
        assert_eq!(ev.method.as_deref(), Some("authenticate/api_key"));
    }
}
