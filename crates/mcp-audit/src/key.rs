//! The audit key: 32 random bytes from a 0600 file or an environment variable, and the subkeys
//! derived from it with HKDF-SHA-256 (one for the record chain, one for parameter digests).

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac};
use zeroize::Zeroizing;

use crate::error::AuditError;
use crate::util::hex;

/// Length of the audit key.
pub const KEY_LEN: usize = 32;

/// The audit HMAC key. `Debug` shows only its key id (a fingerprint that is safe to show and is
/// recorded in every file's anchor). Cheap to clone.
#[derive(Clone)]
pub struct AuditKey {
    chain: hmac::Key,
    params: hmac::Key,
    id: [u8; 8],
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditKey").field("key_id", &self.key_id()).finish_non_exhaustive()
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) {
    // HKDF only fails for outputs longer than 255 hash lengths.
    if let Ok(okm) = prk.expand(&[label], Len(out.len())) {
        let _ = okm.fill(out);
    }
}

impl AuditKey {
    /// A key from 32 bytes of key material.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        Self::derive(bytes)
    }

    /// A key from a secret of at least 32 bytes, such as a value of the secret store (`[audit_log]
    /// key_secret`); the subkeys are derived from all of its bytes, so a 32-byte secret gives
    /// the same key as [`Self::from_bytes`].
    pub fn from_secret(secret: &[u8]) -> Result<Self, AuditError> {
        if secret.len() < KEY_LEN {
            return Err(AuditError::Config(format!(
                "the audit key secret is {} bytes; at least {KEY_LEN} are required",
                secret.len()
            )));
        }
        Ok(Self::derive(secret))
    }

    fn derive(bytes: &[u8]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"mcp-audit/v1").extract(bytes);
        let mut chain = Zeroizing::new([0u8; 32]);
        let mut params = Zeroizing::new([0u8; 32]);
        let mut id = [0u8; 8];
        expand(&prk, b"chain-hmac-sha256", &mut chain[..]);
        expand(&prk, b"params-hmac-sha256", &mut params[..]);
        expand(&prk, b"key-id", &mut id);
        Self {
            chain: hmac::Key::new(hmac::HMAC_SHA256, &chain[..]),
            params: hmac::Key::new(hmac::HMAC_SHA256, &params[..]),
            id,
        }
    }

    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, AuditError> {
        Ok(Self::from_bytes(&*random_bytes()?))
    }

    /// The key id: 16 hex digits derived from the key, safe to show and log.
    pub fn key_id(&self) -> String {
        hex(&self.id)
    }

    pub(crate) fn chain_key(&self) -> &hmac::Key {
        &self.chain
    }

    pub(crate) fn params_key(&self) -> &hmac::Key {
        &self.params
    }

    /// Read the key file, refusing one that group or others can access. When it does not exist
    /// and `create` is true, create it (mode 0600) with a fresh key. The file holds the key in
    /// base64 (a file of exactly 32 raw bytes is accepted too).
    pub fn load_file(path: &Path, create: bool) -> Result<Self, AuditError> {
        let err = |problem: String| AuditError::KeyFile { path: path.to_owned(), problem };
        match fs::metadata(path) {
            Ok(meta) => {
                if !meta.is_file() {
                    return Err(err("is not a regular file".into()));
                }
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(err(format!(
                        "permissions {mode:04o} are looser than 0600: run `chmod 600 {}` (and check who could have read it)",
                        path.display()
                    )));
                }
                let raw = Zeroizing::new(fs::read(path).map_err(|e| err(format!("cannot be read ({e})")))?);
                decode_key(&raw)
                    .ok_or_else(|| err("does not hold a 32-byte key (44 base64 characters, or 32 raw bytes)".into()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let bytes = random_bytes()?;
                match write_new(path, &bytes) {
                    Ok(()) => {
                        let key = Self::from_bytes(&bytes);
                        tracing::info!(path = %path.display(), key_id = %key.key_id(), "created a new audit key file");
                        Ok(key)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_file(path, false),
                    Err(e) => Err(err(format!("cannot be created ({e}); check that its directory exists"))),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(err("does not exist: configure the key the log was written with".into()))
            }
            Err(e) => Err(err(format!("cannot be inspected ({e})"))),
        }
    }

    /// Read the base64 key from the environment variable `var` through `lookup`.
    pub fn load_env(var: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, AuditError> {
        let text = Zeroizing::new(lookup(var).ok_or_else(|| AuditError::KeyEnv {
            var: var.to_owned(),
            problem: "is not set: export a base64 32-byte key (`openssl rand -base64 32`) or configure key_path",
        })?);
        decode_key(text.as_bytes())
            .ok_or_else(|| AuditError::KeyEnv { var: var.to_owned(), problem: "does not hold a base64 32-byte key" })
    }

    /// The key as configured: `key_env`, else `key_path` / `<data_dir>/audit.key` (created on
    /// first use when `create` is true).
    pub fn from_config(
        config: &crate::AuditLogConfig,
        data_dir: &Path,
        create: bool,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, AuditError> {
        config.validate()?;
        if let Some(name) = &config.key_secret {
            return Err(AuditError::Config(format!(
                "key_secret = {name:?}: the key is read from the secret store by the server (AuditKey::from_secret)"
            )));
        }
        match (&config.key_env, config.key_file(data_dir)) {
            (Some(var), _) => Self::load_env(var, lookup),
            (None, Some(path)) => Self::load_file(&path, create),
            (None, None) => Err(AuditError::Config("no audit key configured".into())),
        }
    }
}

fn random_bytes() -> Result<Zeroizing<[u8; KEY_LEN]>, AuditError> {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    SystemRandom::new()
        .fill(&mut bytes[..])
        .map_err(|_| AuditError::Config("the system random generator failed; cannot create an audit key".into()))?;
    Ok(bytes)
}

fn decode_key(raw: &[u8]) -> Option<AuditKey> {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    if raw.len() == KEY_LEN {
        bytes.copy_from_slice(raw);
        return Some(AuditKey::from_bytes(&bytes));
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    let decoded = Zeroizing::new(STANDARD.decode(text).ok()?);
    if decoded.len() != KEY_LEN {
        return None;
    }
    bytes.copy_from_slice(&decoded);
    Some(AuditKey::from_bytes(&bytes))
}

fn write_new(path: &Path, bytes: &[u8; KEY_LEN]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    let mut text = Zeroizing::new(STANDARD.encode(bytes));
    text.push('\n');
    let result = f.write_all(text.as_bytes()).and_then(|()| f.sync_all());
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_created_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let a = AuditKey::load_file(&path, true).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let b = AuditKey::load_file(&path, false).unwrap();
        assert_eq!(a.key_id(), b.key_id());
        assert!(!format!("{a:?}").contains(&fs::read_to_string(&path).unwrap().trim().to_string()));
    }

    #[test]
    fn loose_permissions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        AuditKey::load_file(&path, true).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = AuditKey::load_file(&path, true).unwrap_err();
        assert!(err.to_string().contains("looser than 0600"), "{err}");
    }

    #[test]
    fn env_key_must_be_32_bytes() {
        let good = STANDARD.encode([7u8; 32]);
        let k = AuditKey::load_env("K", &|_| Some(good.clone())).unwrap();
        assert_eq!(k.key_id(), AuditKey::from_bytes(&[7u8; 32]).key_id());
        assert!(AuditKey::load_env("K", &|_| Some(STANDARD.encode([7u8; 16]))).is_err());
        let err = AuditKey::load_env("K", &|_| None).unwrap_err();
        assert!(err.to_string().contains("is not set"));
    }
}
