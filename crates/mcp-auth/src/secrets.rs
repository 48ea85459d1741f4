//! Resolved secrets handed in by the server.

use std::collections::HashMap;

use secrecy::SecretBox;

use crate::config::SecretRef;
use crate::error::AuthError;

/// The secret values for the [`SecretRef`]s of a config (see [`crate::AuthConfig::secret_refs`]).
/// `Debug` shows only the references.
#[derive(Default)]
pub struct Secrets {
    map: HashMap<SecretRef, SecretBox<[u8]>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.map.keys().map(ToString::to_string)).finish()
    }
}

impl Secrets {
    /// No secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Provide the value of `reference`.
    pub fn insert(&mut self, reference: SecretRef, value: SecretBox<[u8]>) {
        self.map.insert(reference, value);
    }

    /// Resolve every `{ env = "NAME" }` reference in `refs` from the process environment (the
    /// variable's bytes are the secret). `{ secret = ... }` references are left to the caller.
    pub fn insert_from_env<'a>(&mut self, refs: impl IntoIterator<Item = &'a SecretRef>) -> Result<(), AuthError> {
        for r in refs {
            if let SecretRef::Env(name) = r {
                let v = std::env::var_os(name).ok_or_else(|| {
                    AuthError::config(format!("environment variable {name} (a secret reference) is not set"))
                })?;
                let bytes = v.into_encoded_bytes();
                self.insert(r.clone(), SecretBox::new(bytes.into_boxed_slice()));
            }
        }
        Ok(())
    }

    /// The value of `reference`, or a config error naming it.
    pub(crate) fn get(&self, reference: &SecretRef) -> Result<&SecretBox<[u8]>, AuthError> {
        self.map.get(reference).ok_or_else(|| AuthError::config(format!("secret {reference} was not provided")))
    }
}
