//! The versioned extension of `mcp_core::traits::SecretStore` that every backend here implements.

use std::fmt;
use std::time::SystemTime;

use mcp_core::BoxFuture;
use mcp_core::traits::{SecretName, SecretStore};
use secrecy::{ExposeSecret, SecretBox};

use crate::error::SecretsError;

/// Largest secret value accepted by every backend (AWS Secrets Manager's limit).
pub const MAX_VALUE_LEN: usize = 64 * 1024;

/// Opaque version identifier: a decimal counter for the local, memory and Vault stores, a
/// version UUID for AWS Secrets Manager. Not secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionId(String);

impl VersionId {
    /// Wrap an identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier as a counter, for backends that number versions.
    pub fn as_number(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

impl From<u64> for VersionId {
    fn from(n: u64) -> Self {
        Self(n.to_string())
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which version of a secret to read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VersionSelector {
    /// The current version (AWS stage `AWSCURRENT`).
    Current,
    /// The version before the current one (AWS stage `AWSPREVIOUS`): what a rotation replaced.
    Previous,
    /// A specific version.
    Id(VersionId),
}

impl fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Current => f.write_str("current"),
            Self::Previous => f.write_str("previous"),
            Self::Id(id) => write!(f, "{id}"),
        }
    }
}

/// A secret value with the version it was read from.
pub struct Versioned {
    /// The value.
    pub value: SecretBox<[u8]>,
    /// Its version.
    pub version: VersionId,
    /// When that version was written, if the backend says.
    pub created: Option<SystemTime>,
}

impl fmt::Debug for Versioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Versioned")
            .field("value", &"[REDACTED]")
            .field("version", &self.version)
            .field("created", &self.created)
            .finish()
    }
}

/// What a store knows about one version of a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// Identifier.
    pub id: VersionId,
    /// When it was written, if the backend says.
    pub created: Option<SystemTime>,
    /// It is the current version.
    pub current: bool,
}

/// A [`SecretStore`] with versions. Every backend in this crate implements it; errors are the
/// rich [`SecretsError`] (the plain [`SecretStore`] methods map them to `BackendError`).
///
/// Method names differ from [`SecretStore`]'s so both traits can be in scope.
pub trait VersionedSecretStore: SecretStore {
    /// Backend kind: `memory`, `local_encrypted`, `vault`, `aws_secrets_manager`, or `cached`.
    fn backend_kind(&self) -> &'static str;

    /// Read a version.
    fn read<'a>(
        &'a self,
        name: &'a SecretName,
        which: &'a VersionSelector,
    ) -> BoxFuture<'a, Result<Versioned, SecretsError>>;

    /// Write a new current version; the old current becomes the previous one.
    fn write<'a>(
        &'a self,
        name: &'a SecretName,
        value: SecretBox<[u8]>,
    ) -> BoxFuture<'a, Result<VersionId, SecretsError>>;

    /// Remove the secret and all its versions. A missing secret is [`SecretsError::NotFound`].
    fn remove<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<(), SecretsError>>;

    /// All secret names, sorted.
    fn names(&self) -> BoxFuture<'_, Result<Vec<SecretName>, SecretsError>>;

    /// The versions the store still holds, newest first.
    fn versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretsError>>;

    /// A fresh random value from the backend's own generator, for [`crate::Generator::Backend`]:
    /// Vault / OpenBao `sys/tools/random` (`len` bytes), AWS `GetRandomPassword` (`len`
    /// printable characters). The default, used by the local and memory stores, is a
    /// [`SecretsError::Config`] naming the backend.
    fn generate_random(&self, len: usize) -> BoxFuture<'_, Result<SecretBox<[u8]>, SecretsError>> {
        let _ = len;
        let kind = self.backend_kind();
        Box::pin(async move {
            Err(SecretsError::Config(format!(
                "the {kind} secrets backend has no random generator: use generator = \"random_bytes\" or \"alphanumeric\""
            )))
        })
    }
}

/// Check a value's size before it is written anywhere.
pub(crate) fn check_value(value: &SecretBox<[u8]>) -> Result<(), SecretsError> {
    let len = value.expose_secret().len();
    if len == 0 || len > MAX_VALUE_LEN {
        return Err(SecretsError::ValueSize { len, max: MAX_VALUE_LEN });
    }
    Ok(())
}

/// Copy bytes into a fresh `SecretBox`.
pub(crate) fn secret_from(bytes: &[u8]) -> SecretBox<[u8]> {
    SecretBox::new(bytes.to_vec().into_boxed_slice())
}

/// Implement `mcp_core::traits::SecretStore` for a type that implements
/// [`VersionedSecretStore`], mapping errors to `BackendError`.
macro_rules! impl_secret_store {
    ($ty:ty) => {
        impl mcp_core::traits::SecretStore for $ty {
            fn get<'a>(
                &'a self,
                name: &'a mcp_core::traits::SecretName,
            ) -> mcp_core::BoxFuture<'a, Result<secrecy::SecretBox<[u8]>, mcp_core::traits::BackendError>> {
                Box::pin(async move {
                    let v =
                        $crate::store::VersionedSecretStore::read(self, name, &$crate::store::VersionSelector::Current)
                            .await?;
                    Ok(v.value)
                })
            }
            fn put<'a>(
                &'a self,
                name: &'a mcp_core::traits::SecretName,
                value: secrecy::SecretBox<[u8]>,
            ) -> mcp_core::BoxFuture<'a, Result<(), mcp_core::traits::BackendError>> {
                Box::pin(async move {
                    $crate::store::VersionedSecretStore::write(self, name, value).await?;
                    Ok(())
                })
            }
            fn delete<'a>(
                &'a self,
                name: &'a mcp_core::traits::SecretName,
            ) -> mcp_core::BoxFuture<'a, Result<(), mcp_core::traits::BackendError>> {
                Box::pin(async move { Ok($crate::store::VersionedSecretStore::remove(self, name).await?) })
            }
            fn list(
                &self,
            ) -> mcp_core::BoxFuture<'_, Result<Vec<mcp_core::traits::SecretName>, mcp_core::traits::BackendError>>
            {
                Box::pin(async move { Ok($crate::store::VersionedSecretStore::names(self).await?) })
            }
        }
    };
}
pub(crate) use impl_secret_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_and_debug() {
        let v = VersionId::from(7);
        assert_eq!(v.as_number(), Some(7));
        assert_eq!(VersionSelector::Id(v.clone()).to_string(), "7");
        let x = Versioned { value: secret_from(b"hunter2"), version: v, created: None };
        assert!(!format!("{x:?}").contains("hunter2"));
        assert!(check_value(&secret_from(b"")).is_err());
        assert!(check_value(&secret_from(&vec![0; MAX_VALUE_LEN + 1])).is_err());
        assert!(check_value(&secret_from(b"x")).is_ok());
    }
}
