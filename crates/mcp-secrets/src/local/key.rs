//! The 256-bit master key: generation, the key file (0600) or an environment variable, and the
//! subkeys derived from it with HKDF-SHA-256.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{aead, hkdf, hmac};
use zeroize::Zeroizing;

use crate::error::SecretsError;

/// Length of the master key.
pub const KEY_LEN: usize = 32;
/// Length of a key id (a fingerprint derived from the key; safe to show).
pub const KEY_ID_LEN: usize = 8;

/// A 256-bit master key. Zeroized on drop; `Debug` shows only its key id.
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("key_id", &self.key_id_hex()).finish_non_exhaustive()
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl MasterKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SecretsError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new().fill(&mut bytes[..]).map_err(|_| SecretsError::KeyFile {
            path: PathBuf::new(),
            problem: "the system random generator failed; cannot create a master key".into(),
        })?;
        Ok(Self { bytes })
    }

    /// Decode the base64 text form (standard alphabet; surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Option<Self> {
        let decoded = Zeroizing::new(STANDARD.decode(text.trim()).ok()?);
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if decoded.len() != KEY_LEN {
            return None;
        }
        bytes.copy_from_slice(&decoded);
        Some(Self { bytes })
    }

    /// The base64 text form, as written to the key file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(&self.bytes[..]))
    }

    fn prk(&self) -> hkdf::Prk {
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"mcp-secrets/local/v1").extract(&self.bytes[..])
    }

    /// A non-secret fingerprint of the key, recorded in the store file so a wrong key is named
    /// as such instead of looking like damage.
    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        let mut id = [0u8; KEY_ID_LEN];
        // HKDF can only fail for an output longer than 255 hash lengths.
        if let Ok(okm) = self.prk().expand(&[b"key-id"], Len(KEY_ID_LEN)) {
            let _ = okm.fill(&mut id);
        }
        id
    }

    /// [`key_id`](Self::key_id) as lowercase hex.
    pub fn key_id_hex(&self) -> String {
        hex(&self.key_id())
    }

    pub(crate) fn derive(&self) -> DerivedKeys {
        let prk = self.prk();
        let mut aead_bytes = Zeroizing::new([0u8; KEY_LEN]);
        let mut mac_bytes = Zeroizing::new([0u8; KEY_LEN]);
        if let Ok(okm) = prk.expand(&[b"aead-aes-256-gcm"], Len(KEY_LEN)) {
            let _ = okm.fill(&mut aead_bytes[..]);
        }
        if let Ok(okm) = prk.expand(&[b"file-mac-hmac-sha256"], Len(KEY_LEN)) {
            let _ = okm.fill(&mut mac_bytes[..]);
        }
        // The length is right by construction, so `new` cannot fail.
        let unbound = aead::UnboundKey::new(&aead::AES_256_GCM, &aead_bytes[..])
            .unwrap_or_else(|_| unreachable!("AES-256 key length is 32"));
        DerivedKeys {
            aead: aead::LessSafeKey::new(unbound),
            mac: hmac::Key::new(hmac::HMAC_SHA256, &mac_bytes[..]),
            id: self.key_id(),
        }
    }
}

/// Subkeys used by the file format.
pub(crate) struct DerivedKeys {
    pub(crate) aead: aead::LessSafeKey,
    pub(crate) mac: hmac::Key,
    pub(crate) id: [u8; KEY_ID_LEN],
}

impl fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedKeys").field("id", &hex(&self.id)).finish_non_exhaustive()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the master key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A key file, created (0600) with a fresh key on first use.
    File(PathBuf),
    /// An environment variable holding the base64 key; the name is stored, never the value.
    Env(String),
}

fn key_err(path: &Path, problem: impl Into<String>) -> SecretsError {
    SecretsError::KeyFile { path: path.to_owned(), problem: problem.into() }
}

/// Read the key file, refusing one that group or others can access. When it does not exist and
/// `create` is true, create it with a fresh key, mode 0600.
pub fn load_key_file(path: &Path, create: bool) -> Result<MasterKey, SecretsError> {
    match fs::metadata(path) {
        Ok(meta) => {
            if !meta.is_file() {
                return Err(key_err(path, "is not a regular file"));
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(key_err(
                    path,
                    format!(
                        "permissions {mode:04o} are looser than 0600: run `chmod 600 {}` (and check who could have read it)",
                        path.display()
                    ),
                ));
            }
            let text = Zeroizing::new(
                fs::read_to_string(path)
                    .map_err(|e| key_err(path, format!("cannot be read ({e}); check ownership")))?,
            );
            MasterKey::from_base64(&text)
                .ok_or_else(|| key_err(path, "does not hold a base64-encoded 32-byte key (44 characters)"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let key = MasterKey::generate()?;
            match write_key_file_new(path, &key) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), key_id = %key.key_id_hex(), "created a new secrets master key file");
                    Ok(key)
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_key_file(path, false),
                Err(e) => Err(key_err(
                    path,
                    format!("cannot be created ({e}); check that the directory exists and is writable"),
                )),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(key_err(path, "does not exist; it is created on first use of an empty store only"))
        }
        Err(e) => Err(key_err(path, format!("cannot be inspected ({e})"))),
    }
}

/// Read a base64 key from the environment variable `var` through `lookup`.
pub fn load_key_env(var: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<MasterKey, SecretsError> {
    let text = Zeroizing::new(lookup(var).ok_or_else(|| SecretsError::Env {
        var: var.to_owned(),
        problem: "is not set: export the base64 master key (`openssl rand -base64 32`) or configure encryption_key_path",
    })?);
    MasterKey::from_base64(&text).ok_or_else(|| SecretsError::Env {
        var: var.to_owned(),
        problem: "does not hold a base64-encoded 32-byte key (44 characters)",
    })
}

fn temp_sibling(path: &Path, tag: &str) -> PathBuf {
    let mut rnd = [0u8; 8];
    let _ = SystemRandom::new().fill(&mut rnd);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{tag}.{}", hex(&rnd)))
}

fn write_0600(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    let mut text = key.to_base64();
    text.push('\n');
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Create `path` holding `key`, failing with `AlreadyExists` if it exists. The content appears
/// complete or not at all (written to a temporary file, then hard-linked into place).
pub(crate) fn write_key_file_new(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    let tmp = temp_sibling(path, "new");
    let result = write_0600(&tmp, key).and_then(|()| fs::hard_link(&tmp, path)).and_then(|()| sync_parent(path));
    let _ = fs::remove_file(&tmp);
    result
}

/// Write `key` to `path` atomically, replacing any existing file (temp, fsync, rename, fsync dir).
pub(crate) fn write_key_file_replace(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    let tmp = temp_sibling(path, "tmp");
    let result = write_0600(&tmp, key).and_then(|()| fs::rename(&tmp, path)).and_then(|()| sync_parent(path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_created_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let k1 = load_key_file(&path, true).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let k2 = load_key_file(&path, true).unwrap();
        assert_eq!(k1.key_id(), k2.key_id());
        assert!(!format!("{k1:?}").contains(k1.to_base64().as_str()));
        // no temporary files left behind
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn loose_permissions_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        load_key_file(&path, true).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_key_file(&path, true).unwrap_err().to_string();
        assert!(err.contains("0640") && err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn malformed_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        assert!(load_key_file(&path, false).unwrap_err().to_string().contains("does not exist"));
        fs::write(&path, "not base64!").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_key_file(&path, false).unwrap_err().to_string().contains("base64"));
    }

    #[test]
    fn env_key() {
        let key = MasterKey::generate().unwrap();
        let b64 = key.to_base64();
        let lookup = |v: &str| (v == "K").then(|| b64.to_string());
        assert_eq!(load_key_env("K", &lookup).unwrap().key_id(), key.key_id());
        let err = load_key_env("OTHER", &lookup).unwrap_err().to_string();
        assert!(err.contains("OTHER") && err.contains("not set"));
        let bad = |_: &str| Some("AAAA".to_string());
        assert!(load_key_env("K", &bad).unwrap_err().to_string().contains("32-byte"));
    }

    #[test]
    fn distinct_keys_distinct_ids() {
        let a = MasterKey::generate().unwrap();
        let b = MasterKey::generate().unwrap();
        assert_ne!(a.key_id(), b.key_id());
        assert_eq!(a.key_id_hex().len(), 16);
    }
}
