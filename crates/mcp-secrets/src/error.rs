//! The one error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

use mcp_core::ErrorKind;
use mcp_core::traits::BackendError;

/// Everything that can go wrong in a secret store. Messages name the file, variable, backend or
/// secret involved and say what to do next; they never contain a secret value or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The secret name is not valid.
    #[error("invalid secret name: use 1..=256 characters of [A-Za-z0-9_./-], no empty, '.' or '..' segment")]
    InvalidName,
    /// No secret of that name.
    #[error("secret '{name}' not found in the {backend} store: create it first (`mcp-server secrets set {name}`)")]
    NotFound {
        /// Backend kind.
        backend: &'static str,
        /// The secret name (names are not secret).
        name: String,
    },
    /// The secret exists but not in the requested version.
    #[error("secret '{name}' has no version '{version}' in the {backend} store (older versions may have been pruned)")]
    VersionNotFound {
        /// Backend kind.
        backend: &'static str,
        /// The secret name.
        name: String,
        /// The requested version or stage.
        version: String,
    },
    /// A value is empty or larger than the backends accept.
    #[error("secret value must be 1..={max} bytes, got {len}")]
    ValueSize {
        /// Length given.
        len: usize,
        /// Largest accepted length.
        max: usize,
    },
    /// The configuration is invalid.
    #[error("invalid [secrets] configuration: {0}")]
    Config(String),
    /// The configuration names a backend whose cargo feature is not compiled in.
    #[error(
        "secrets backend '{backend}' is not compiled into this binary: rebuild with `--features {feature}` (crate mcp-secrets)"
    )]
    FeatureNotCompiled {
        /// Backend named in the config.
        backend: &'static str,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// The master key file is missing, unreadable, malformed or too open.
    #[error("master key file {path}: {problem}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A credential or key environment variable is missing or malformed.
    #[error("environment variable {var}: {problem}")]
    Env {
        /// The variable name (never its value).
        var: String,
        /// What is wrong and how to fix it.
        problem: &'static str,
    },
    /// The store file was written with a different master key.
    #[error(
        "secrets file {path} was encrypted with a different master key (file key id {found}, configured key id {expected}): configure the key it was written with, or restore the file from a backup"
    )]
    WrongKey {
        /// The store file.
        path: PathBuf,
        /// Key id of the configured key.
        expected: String,
        /// Key id recorded in the file.
        found: String,
    },
    /// The store file is damaged: modified, truncated, or not a store file at all.
    #[error("secrets file {path} is damaged ({problem}); nothing was changed: restore it from a backup")]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What was detected.
        problem: &'static str,
    },
    /// A file operation failed (for example the disk is full); the previous file is intact.
    #[error("{op} {path} failed: {source}; the previous secrets file is unchanged")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the store's lock file.
    #[error(
        "secrets file {path} is locked by another process for more than {waited:?}: retry, or stop the other writer"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// The remote backend could not be reached or answered with a server error.
    #[error("{backend} secrets backend unavailable: {detail}")]
    Unavailable {
        /// Backend kind.
        backend: &'static str,
        /// What happened (never a secret value).
        detail: String,
    },
    /// The backend refused our credentials (login failed, token revoked).
    #[error("{backend} secrets backend refused our credentials: {detail}")]
    BackendAuth {
        /// Backend kind.
        backend: &'static str,
        /// What happened and what to check.
        detail: String,
    },
    /// The backend's policy does not allow this operation on this secret.
    #[error("{backend} secrets backend denied access to '{name}': grant the policy access to it")]
    Forbidden {
        /// Backend kind.
        backend: &'static str,
        /// The secret name.
        name: String,
    },
    /// A tool asked for a secret it did not declare.
    #[error("secret '{name}' was not declared by this tool: add it to the tool's `secrets = [...]` list")]
    NotDeclared {
        /// The secret name.
        name: String,
    },
    /// The backend answered with something we cannot interpret.
    #[error("{backend} secrets backend returned an unexpected response: {detail}")]
    Protocol {
        /// Backend kind.
        backend: &'static str,
        /// What was unexpected.
        detail: String,
    },
    /// The TLS handshake with a remote backend failed: untrusted certificate, certificate pin
    /// mismatch, no common protocol version. Nothing was sent to the server.
    #[error("{backend} secrets backend at {address}: TLS handshake failed: {detail}")]
    Tls {
        /// Backend kind.
        backend: &'static str,
        /// The configured server address.
        address: String,
        /// What TLS reported (for a pin mismatch, the pinning verifier's message).
        detail: String,
    },
    /// The backend has been failing for longer than the cache's staleness window.
    #[error(
        "secret '{name}' could not be refreshed for {age:?}, longer than the staleness window of {window:?}: the backend is down ({cause}); restore it or raise secrets.stale_window_secs"
    )]
    StaleBeyondWindow {
        /// The secret name.
        name: String,
        /// Age of the cached value.
        age: Duration,
        /// Configured window.
        window: Duration,
        /// The last backend error, rendered.
        cause: String,
    },
}

impl SecretsError {
    /// The wire kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidName | Self::ValueSize { .. } => ErrorKind::InvalidRequest,
            Self::NotFound { .. } | Self::VersionNotFound { .. } => ErrorKind::NotFound,
            Self::Forbidden { .. } | Self::NotDeclared { .. } => ErrorKind::Forbidden,
            Self::Io { .. }
            | Self::Locked { .. }
            | Self::Unavailable { .. }
            | Self::BackendAuth { .. }
            | Self::Tls { .. }
            | Self::StaleBeyondWindow { .. } => ErrorKind::Unavailable,
            Self::Config(_)
            | Self::FeatureNotCompiled { .. }
            | Self::KeyFile { .. }
            | Self::Env { .. }
            | Self::WrongKey { .. }
            | Self::Corrupt { .. }
            | Self::Protocol { .. } => ErrorKind::Internal,
        }
    }

    /// A static reason for [`BackendError`]: no names, no paths.
    pub fn static_reason(&self) -> &'static str {
        match self {
            Self::InvalidName => "invalid secret name",
            Self::NotFound { .. } => "secret not found",
            Self::VersionNotFound { .. } => "secret version not found",
            Self::ValueSize { .. } => "secret value size out of range",
            Self::Config(_) => "invalid secrets configuration",
            Self::FeatureNotCompiled { .. } => "secrets backend not compiled in",
            Self::KeyFile { .. } => "master key file unusable",
            Self::Env { .. } => "secrets environment variable missing or malformed",
            Self::WrongKey { .. } => "secrets file encrypted with a different master key",
            Self::Corrupt { .. } => "secrets file damaged",
            Self::Io { .. } => "secrets file write failed",
            Self::Locked { .. } => "secrets file locked",
            Self::Unavailable { .. } => "secrets backend unavailable",
            Self::BackendAuth { .. } => "secrets backend refused credentials",
            Self::Forbidden { .. } => "secrets backend denied access",
            Self::NotDeclared { .. } => "secret not declared by the tool",
            Self::Protocol { .. } => "secrets backend returned an unexpected response",
            Self::StaleBeyondWindow { .. } => "secret stale beyond staleness window",
            Self::Tls { .. } => "secrets backend TLS handshake failed",
        }
    }

    /// Whether a cache may keep serving its stale copy instead of this error (the backend is
    /// down or unreachable, as opposed to the secret being gone or access being denied).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. }
                | Self::Io { .. }
                | Self::Locked { .. }
                | Self::BackendAuth { .. }
                | Self::Tls { .. }
        )
    }

    pub(crate) fn not_found(backend: &'static str, name: &mcp_core::traits::SecretName) -> Self {
        Self::NotFound { backend, name: name.as_str().to_owned() }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { op, path: path.into(), source }
    }
}

impl From<SecretsError> for BackendError {
    fn from(e: SecretsError) -> Self {
        BackendError { kind: e.kind(), reason: e.static_reason() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_reasons() {
        let e = SecretsError::FeatureNotCompiled { backend: "vault", feature: "vault" };
        assert!(e.to_string().contains("--features vault"));
        assert_eq!(e.kind(), ErrorKind::Internal);
        let b: BackendError = SecretsError::NotFound { backend: "memory", name: "a".into() }.into();
        assert_eq!(b.kind, ErrorKind::NotFound);
        assert_eq!(b.reason, "secret not found");
        assert!(SecretsError::Unavailable { backend: "vault", detail: "x".into() }.is_transient());
        assert!(!SecretsError::NotFound { backend: "vault", name: "x".into() }.is_transient());
    }
}
