//! Backend traits. All are dyn-compatible and `Debug + Send + Sync + 'static`, so a server holds
//! them as `Arc<dyn Trait>` and backends are chosen at startup from config.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use secrecy::SecretBox;

use crate::action::{Action, Decision};
use crate::audit::AuditRecord;
use crate::error::ErrorKind;
use crate::event::SecurityEvent;
use crate::principal::Principal;

/// A boxed, sendable future: the return type of the async trait methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failure reported by a backend: a kind for the wire table plus a static reason for logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct BackendError {
    /// Which wire error this becomes.
    pub kind: ErrorKind,
    /// Static text for logs; never shown to clients, never contains secrets.
    pub reason: &'static str,
}

/// Credentials presented with a request, as extracted by the transport.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Credentials {
    /// `Authorization: Bearer` token.
    pub bearer: Option<SecretBox<str>>,
    /// API key header value.
    pub api_key: Option<SecretBox<str>>,
    /// DER of the verified client certificate (mutual TLS).
    pub client_cert_der: Option<Vec<u8>>,
}

/// Where a request came from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AuthnContext {
    /// Remote address, when on a network transport.
    pub peer: Option<SocketAddr>,
}

impl AuthnContext {
    /// Context for a request from `peer`.
    pub fn new(peer: Option<SocketAddr>) -> Self {
        Self { peer }
    }
}

/// Turns credentials into a [`Principal`].
pub trait Authenticator: std::fmt::Debug + Send + Sync + 'static {
    /// Authenticate, dispatching on the kind of credential presented.
    fn authenticate<'a>(
        &'a self,
        credentials: &'a Credentials,
        context: &'a AuthnContext,
    ) -> BoxFuture<'a, Result<Principal, BackendError>>;
}

/// Decides whether a principal may perform an action. Synchronous and default-deny.
pub trait Authorizer: std::fmt::Debug + Send + Sync + 'static {
    /// The decision; `Allow` carries the permit the handler requires.
    fn authorize(&self, principal: &Principal, action: Action) -> Decision;
}

/// A validated secret name: 1..=256 characters of `[A-Za-z0-9_./-]`, no `..` segment, not
/// starting with `/`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName(String);

impl SecretName {
    /// Parse a name.
    ///
    /// ```
    /// use mcp_core::traits::SecretName;
    /// assert!(SecretName::parse("db/password").is_ok());
    /// assert!(SecretName::parse("../etc/passwd").is_err());
    /// ```
    pub fn parse(name: &str) -> Result<Self, BackendError> {
        let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(&b));
        let ok_segments = name.split('/').all(|seg| !seg.is_empty() && seg != ".." && seg != ".");
        if name.is_empty() || name.len() > 256 || !ok_chars || !ok_segments {
            return Err(BackendError { kind: ErrorKind::InvalidRequest, reason: "invalid secret name" });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Stores secrets. Values only ever travel as [`SecretBox`].
pub trait SecretStore: std::fmt::Debug + Send + Sync + 'static {
    /// Read the current value.
    fn get<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<SecretBox<[u8]>, BackendError>>;
    /// Write a new version.
    fn put<'a>(&'a self, name: &'a SecretName, value: SecretBox<[u8]>) -> BoxFuture<'a, Result<(), BackendError>>;
    /// Remove the secret.
    fn delete<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<(), BackendError>>;
    /// List names.
    fn list(&self) -> BoxFuture<'_, Result<Vec<SecretName>, BackendError>>;
}

/// Receives security events and audit records. Must never block the request path.
pub trait AuditSink: std::fmt::Debug + Send + Sync + 'static {
    /// Record a security event. Returns an error when the sink cannot accept it (the fail-closed
    /// policy decides what happens next).
    fn record(&self, event: SecurityEvent) -> Result<(), BackendError>;
    /// Record one request's audit record. The default drops it (sinks that only log events).
    fn audit(&self, record: AuditRecord) -> Result<(), BackendError> {
        let _ = record;
        Ok(())
    }
    /// True when every request's record must be durable before its response is sent (the sink
    /// fsyncs each record); the server then uses [`Self::audit_durable`]. Default: false.
    fn durable_mode(&self) -> bool {
        false
    }
    /// Record one request's audit record; the future resolves once it is durable. The default
    /// records with [`Self::audit`] and resolves at once.
    fn audit_durable(&self, record: AuditRecord) -> BoxFuture<'static, Result<(), BackendError>> {
        let r = self.audit(record);
        Box::pin(async move { r })
    }
    /// True when the sink is currently refusing records under a fail-closed policy: the server
    /// answers 503 before doing any work. Default: never.
    fn is_failing_closed(&self) -> bool {
        false
    }
    /// The keyed digest of a request's parameters (the decoded `params` object, canonicalized
    /// with [`crate::canonical_json`]) as this sink records it (`None`: the sink does not record
    /// parameter digests).
    fn params_hash(&self, params: &serde_json::Value) -> Option<[u8; 32]> {
        let _ = params;
        None
    }
    /// Flush buffered records (called at shutdown).
    fn flush(&self) -> BoxFuture<'_, Result<(), BackendError>>;
}

/// What a rate limiter decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    /// Go ahead; `remaining` units are left in the window.
    Allowed {
        /// Units left.
        remaining: u64,
    },
    /// Rejected; retry after this long.
    Limited {
        /// When to retry.
        retry_after: Duration,
    },
}

/// A keyed limiter that rejects and never waits.
pub trait RateLimiter: std::fmt::Debug + Send + Sync + 'static {
    /// Charge `cost` units to `key`.
    fn check<'a>(&'a self, key: &'a str, cost: u32) -> BoxFuture<'a, Result<RateDecision, BackendError>>;
}
