//! The secure default: without an `[auth]` section the server uses API keys kept in its data
//! directory. On first start it makes a pepper and one admin key, stores only the key's digest,
//! and prints the key once.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use mcp_auth::{ApiKeyEntry, ApiKeysConfig, AuthConfig, MethodName, SecretRef};
use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Serialize};

use crate::error::ServerError;

const PEPPER_FILE: &str = "api-key-pepper";
const KEYS_FILE: &str = "api-keys.toml";
/// The name the pepper goes by in the authenticator's secret table.
pub(crate) const PEPPER_REF: &str = "data_dir/api-key-pepper";

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    #[serde(default)]
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    id: String,
    digest: String,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default = "default_class")]
    rate_limit_class: String,
}

fn default_class() -> String {
    "default".into()
}

/// What the bootstrap produced.
pub(crate) struct Bootstrap {
    pub(crate) config: AuthConfig,
    pub(crate) pepper: SecretBox<[u8]>,
    /// A key made just now, to print once.
    pub(crate) new_key: Option<(String, SecretBox<str>)>,
}

fn cfg_err(what: String) -> ServerError {
    ServerError::Config(what)
}

/// Expand a leading `~/` with `$HOME`.
pub(crate) fn expand(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

fn ensure_dir(dir: &Path) -> Result<(), ServerError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| cfg_err(format!("cannot create data dir {}: {e} (set server.data_dir)", dir.display())))?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    Ok(())
}

/// Refuse a secret file that others can read.
fn check_private(path: &Path) -> Result<(), ServerError> {
    let mode = std::fs::metadata(path)
        .map_err(|e| cfg_err(format!("cannot read {}: {e}", path.display())))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(cfg_err(format!(
            "{} is readable by other users (mode {:o}); run: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| cfg_err(format!("cannot write {}: {e}", tmp.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| cfg_err(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| cfg_err(format!("cannot replace {}: {e}", path.display())))
}

fn load_pepper(dir: &Path) -> Result<SecretBox<[u8]>, ServerError> {
    let path = dir.join(PEPPER_FILE);
    if !path.exists() {
        let pepper = mcp_auth::generate_pepper().map_err(|e| cfg_err(e.to_string()))?;
        write_private(&path, B64.encode(pepper.expose_secret()).as_bytes())?;
        return Ok(pepper);
    }
    check_private(&path)?;
    let text = std::fs::read_to_string(&path).map_err(|e| cfg_err(format!("cannot read {}: {e}", path.display())))?;
    let raw = B64
        .decode(text.trim())
        .map_err(|_| cfg_err(format!("{} is not base64; delete it and the keys file to start over", path.display())))?;
    if raw.len() < mcp_auth::MIN_PEPPER_LEN {
        return Err(cfg_err(format!("{} holds fewer than {} bytes", path.display(), mcp_auth::MIN_PEPPER_LEN)));
    }
    Ok(SecretBox::new(raw.into_boxed_slice()))
}

fn load_keys(dir: &Path) -> Result<KeysFile, ServerError> {
    let path = dir.join(KEYS_FILE);
    if !path.exists() {
        return Ok(KeysFile::default());
    }
    check_private(&path)?;
    let text = std::fs::read_to_string(&path).map_err(|e| cfg_err(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| cfg_err(format!("{}: {}", path.display(), e.message())))
}

fn save_keys(dir: &Path, keys: &KeysFile) -> Result<(), ServerError> {
    let text = toml::to_string(keys).map_err(|e| cfg_err(format!("cannot encode the keys file: {e}")))?;
    write_private(&dir.join(KEYS_FILE), text.as_bytes())
}

/// Add a key to the data dir's keys file; returns the key (to show once) and the file's path.
pub(crate) fn add_key(
    dir: &Path,
    id: &str,
    permissions: &[&str],
    roles: &[&str],
) -> Result<(SecretBox<str>, PathBuf), ServerError> {
    ensure_dir(dir)?;
    let pepper = load_pepper(dir)?;
    let mut keys = load_keys(dir)?;
    if keys.keys.iter().any(|k| k.id == id) {
        return Err(cfg_err(format!("a key named {id:?} exists already; choose another --name")));
    }
    let new = mcp_auth::generate_api_key(id, &pepper, permissions, roles, None).map_err(|e| cfg_err(e.to_string()))?;
    let e = new.entry;
    keys.keys.push(StoredKey {
        id: e.id,
        digest: e.digest,
        permissions: e.permissions,
        roles: e.roles,
        rate_limit_class: e.rate_limit_class,
    });
    save_keys(dir, &keys)?;
    Ok((new.key, dir.join(KEYS_FILE)))
}

/// Load (or on first start create) the data dir's API keys.
pub(crate) fn load(dir: &Path) -> Result<Bootstrap, ServerError> {
    ensure_dir(dir)?;
    let mut new_key = None;
    if load_keys(dir)?.keys.is_empty() {
        let (key, _) = add_key(dir, "admin", &[], &["admin"])?;
        new_key = Some(("admin".to_owned(), key));
    }
    let pepper = load_pepper(dir)?;
    let keys = load_keys(dir)?
        .keys
        .into_iter()
        .map(|k| ApiKeyEntry {
            id: k.id,
            digest: k.digest,
            permissions: k.permissions,
            roles: k.roles,
            rate_limit_class: k.rate_limit_class,
        })
        .collect();
    let config = AuthConfig {
        methods: vec![MethodName::ApiKey],
        api_keys: Some(ApiKeysConfig {
            header: "X-API-Key".into(),
            pepper: SecretRef::Secret(PEPPER_REF.into()),
            keys,
        }),
        ..AuthConfig::default()
    };
    Ok(Bootstrap { config, pepper, new_key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_makes_one_key_then_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let b = load(dir.path()).unwrap();
        let (id, key) = b.new_key.unwrap();
        assert_eq!(id, "admin");
        assert!(key.expose_secret().starts_with("mcp_"));
        let stored = std::fs::read_to_string(dir.path().join(KEYS_FILE)).unwrap();
        assert!(!stored.contains(key.expose_secret()), "only the digest is stored");
        let mode = std::fs::metadata(dir.path().join(PEPPER_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load(dir.path()).unwrap();
        assert!(again.new_key.is_none());
        assert_eq!(again.config.api_keys.unwrap().keys.len(), 1);
        std::fs::set_permissions(dir.path().join(PEPPER_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load(dir.path()).err().unwrap().to_string().contains("chmod 600"));
    }
}
