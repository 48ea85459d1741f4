//! API keys: the config holds `HMAC-SHA-256(pepper, key)` digests, never keys.
//!
//! **Why HMAC with a pepper and not argon2.** Keys made by [`generate_api_key`] are 256 bits
//! from the OS CSPRNG. A slow password hash exists to make guessing *low-entropy* secrets
//! expensive; guessing a 256-bit random key is already infeasible, so argon2 would add
//! ~50–100 ms and tens of MiB per request (a denial-of-service lever) and no security. The pepper
//! (a 256-bit server secret kept outside the config) means a leaked config file alone does not
//! even allow an offline check of a candidate key.
//!
//! **Why the lookup is timing-safe.** The presented key is first turned into its HMAC under the
//! secret pepper, and only that digest is looked up in a `HashMap` keyed by digest. Any timing
//! difference in hashing or comparing (the comparison is constant-time anyway, via `subtle`)
//! depends on the digest of the attacker's guess, which the attacker cannot steer towards a
//! stored digest without the pepper — so timing reveals nothing about stored keys. There is no
//! per-byte comparison of the key itself anywhere.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderName;
use mcp_core::{AuthMethod, Permission, Principal};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretBox};
use subtle::ConstantTimeEq;

use crate::config::{ApiKeyEntry, ApiKeysConfig};
use crate::error::{AuthError, FailureReason};
use crate::secrets::Secrets;

/// Prefix of generated keys (lets secret scanners recognise them).
pub const API_KEY_PREFIX: &str = "mcp_";
/// Prefix of stored digests.
pub const DIGEST_PREFIX: &str = "hmac-sha256:";
/// Presented keys outside this length range are refused before hashing.
const KEY_LEN: std::ops::RangeInclusive<usize> = 16..=256;
/// Smallest pepper accepted, bytes.
pub const MIN_PEPPER_LEN: usize = 32;

/// A digest, compared in constant time.
#[derive(Clone, Copy)]
struct Digest([u8; 32]);

impl PartialEq for Digest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for Digest {}
impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

#[derive(Debug)]
struct KeyInfo {
    /// Shared with every request the key authenticates (no copy of its sets per request).
    principal: Arc<Principal>,
    rate_limit_class: Arc<str>,
}

/// Authenticates API keys.
pub struct ApiKeyAuthenticator {
    header: HeaderName,
    /// The pepper's bytes (zeroized on drop); ring's HMAC key is built per verification.
    pepper: SecretBox<[u8]>,
    by_digest: HashMap<Digest, KeyInfo>,
    class_by_id: HashMap<Arc<str>, Arc<str>>,
}

impl std::fmt::Debug for ApiKeyAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyAuthenticator")
            .field("header", &self.header)
            .field("keys", &self.by_digest.values().map(|k| &*k.principal.id).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn pepper_key(pepper: &SecretBox<[u8]>) -> Result<hmac::Key, AuthError> {
    let p = pepper.expose_secret();
    if p.len() < MIN_PEPPER_LEN {
        return Err(AuthError::config(format!(
            "the API-key pepper is {} bytes; at least {MIN_PEPPER_LEN} are required",
            p.len()
        )));
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, p))
}

/// A copy of the pepper that zeroizes itself when dropped, after checking its length.
fn pepper_copy(pepper: &SecretBox<[u8]>) -> Result<SecretBox<[u8]>, AuthError> {
    pepper_key(pepper)?;
    Ok(SecretBox::new(Box::from(pepper.expose_secret())))
}

fn digest_with(key: &hmac::Key, api_key: &str) -> Digest {
    let tag = hmac::sign(key, api_key.as_bytes());
    let mut d = [0u8; 32];
    d.copy_from_slice(tag.as_ref());
    Digest(d)
}

fn parse_digest(s: &str) -> Option<Digest> {
    let b = URL_SAFE_NO_PAD.decode(s.strip_prefix(DIGEST_PREFIX)?).ok()?;
    Some(Digest(b.try_into().ok()?))
}

impl ApiKeyAuthenticator {
    /// Build from config; `secrets` must hold the pepper.
    pub fn new(cfg: &ApiKeysConfig, secrets: &Secrets) -> Result<Self, AuthError> {
        let header = HeaderName::from_bytes(cfg.header.as_bytes())
            .map_err(|_| AuthError::config(format!("auth.api_keys.header {:?} is not a header name", cfg.header)))?;
        if header == http::header::AUTHORIZATION || header == http::header::COOKIE {
            return Err(AuthError::config("auth.api_keys.header must not be Authorization or Cookie"));
        }
        let pepper = pepper_copy(secrets.get(&cfg.pepper)?)?;
        let mut by_digest = HashMap::with_capacity(cfg.keys.len());
        let mut class_by_id = HashMap::with_capacity(cfg.keys.len());
        for entry in &cfg.keys {
            let info = key_info(entry)?;
            let digest = parse_digest(&entry.digest).ok_or_else(|| {
                AuthError::config(format!(
                    "auth.api_keys key {:?}: digest must be {DIGEST_PREFIX}<43 base64url chars>",
                    entry.id
                ))
            })?;
            if class_by_id.insert(info.principal.id.clone(), info.rate_limit_class.clone()).is_some() {
                return Err(AuthError::config(format!("auth.api_keys: id {:?} appears twice", entry.id)));
            }
            if by_digest.insert(digest, info).is_some() {
                return Err(AuthError::config(format!("auth.api_keys key {:?}: digest appears twice", entry.id)));
            }
        }
        Ok(Self { header, pepper, by_digest, class_by_id })
    }

    /// The header carrying keys.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The rate-limit class of key `id`.
    pub fn rate_limit_class(&self, id: &str) -> Option<&str> {
        self.class_by_id.get(id).map(|c| &**c)
    }

    /// Verify a presented key; the principal id is the key's id.
    pub fn verify(&self, key: &str) -> Result<Arc<Principal>, AuthError> {
        if !KEY_LEN.contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AuthError::rejected(AuthMethod::ApiKey, FailureReason::MalformedApiKey));
        }
        let digest = digest_with(&hmac::Key::new(hmac::HMAC_SHA256, self.pepper.expose_secret()), key);
        match self.by_digest.get(&digest) {
            Some(info) => Ok(info.principal.clone()),
            None => Err(AuthError::rejected(AuthMethod::ApiKey, FailureReason::UnknownApiKey)),
        }
    }
}

fn key_info(entry: &ApiKeyEntry) -> Result<KeyInfo, AuthError> {
    if !valid_id(&entry.id) {
        return Err(AuthError::config(format!("auth.api_keys id {:?}: use 1-64 of [A-Za-z0-9_.-]", entry.id)));
    }
    if !valid_id(&entry.rate_limit_class) {
        return Err(AuthError::config(format!("auth.api_keys key {:?}: invalid rate_limit_class", entry.id)));
    }
    let mut p = Principal::new(entry.id.as_str(), AuthMethod::ApiKey);
    p.permissions = parse_permissions(&entry.permissions, &entry.id)?;
    p.roles = parse_roles(&entry.roles, &entry.id)?;
    let rate_limit_class: Arc<str> = entry.rate_limit_class.as_str().into();
    p.rate_class = Some(rate_limit_class.clone());
    Ok(KeyInfo { principal: Arc::new(p), rate_limit_class })
}

pub(crate) fn parse_permissions(list: &[String], owner: &str) -> Result<BTreeSet<Permission>, AuthError> {
    list.iter().map(|s| s.parse::<Permission>().map_err(|e| AuthError::config(format!("{owner:?}: {e}")))).collect()
}

pub(crate) fn parse_roles(list: &[String], owner: &str) -> Result<BTreeSet<Arc<str>>, AuthError> {
    list.iter()
        .map(|r| {
            if valid_id(r) {
                Ok(Arc::from(r.as_str()))
            } else {
                Err(AuthError::config(format!("{owner:?}: invalid role {r:?}")))
            }
        })
        .collect()
}

/// `hmac-sha256:<base64url>` digest of `api_key` under `pepper`, as stored in config.
pub fn digest_api_key(pepper: &SecretBox<[u8]>, api_key: &str) -> Result<String, AuthError> {
    let d = digest_with(&pepper_key(pepper)?, api_key);
    Ok(format!("{DIGEST_PREFIX}{}", URL_SAFE_NO_PAD.encode(d.0)))
}

/// 32 random bytes from the OS CSPRNG, e.g. for a new pepper.
pub fn generate_pepper() -> Result<SecretBox<[u8]>, AuthError> {
    let mut b = vec![0u8; 32];
    SystemRandom::new().fill(&mut b).map_err(|_| AuthError::config("the OS random generator failed"))?;
    Ok(SecretBox::new(b.into_boxed_slice()))
}

/// A freshly generated key: show `key` once, store `config_toml` (digest only).
#[derive(Debug)]
pub struct NewApiKey {
    /// The key (`mcp_` + 43 base64url characters = 256 random bits). Shown once, never stored.
    pub key: SecretBox<str>,
    /// The config entry for it.
    pub entry: ApiKeyEntry,
    /// The entry as a TOML `[[auth.api_keys.keys]]` table, ready to paste.
    pub config_toml: String,
}

/// Generate a new key for `id` (the future principal id) with the given grants.
pub fn generate_api_key(
    id: &str,
    pepper: &SecretBox<[u8]>,
    permissions: &[&str],
    roles: &[&str],
    rate_limit_class: Option<&str>,
) -> Result<NewApiKey, AuthError> {
    let mut raw = [0u8; 32];
    SystemRandom::new().fill(&mut raw).map_err(|_| AuthError::config("the OS random generator failed"))?;
    let key = format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    zeroize::Zeroize::zeroize(&mut raw);
    let entry = ApiKeyEntry {
        id: id.to_owned(),
        digest: digest_api_key(pepper, &key)?,
        permissions: permissions.iter().map(|s| (*s).to_owned()).collect(),
        roles: roles.iter().map(|s| (*s).to_owned()).collect(),
        rate_limit_class: rate_limit_class.unwrap_or("default").to_owned(),
    };
    key_info(&entry)?; // same validation as at load time: ids, roles, permissions
    let list = |v: &[String]| v.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
    let config_toml = format!(
        "[[auth.api_keys.keys]]\nid = \"{}\"\ndigest = \"{}\"\npermissions = [{}]\nroles = [{}]\nrate_limit_class = \"{}\"\n",
        entry.id,
        entry.digest,
        list(&entry.permissions),
        list(&entry.roles),
        entry.rate_limit_class
    );
    Ok(NewApiKey { key: SecretBox::from(key), entry, config_toml })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretRef;

    fn pepper() -> SecretBox<[u8]> {
        SecretBox::new(Box::from(&[42u8; 32][..]))
    }

    fn authn(entries: Vec<ApiKeyEntry>) -> ApiKeyAuthenticator {
        let mut s = Secrets::new();
        s.insert(SecretRef::Env("P".into()), pepper());
        let cfg = ApiKeysConfig { header: "X-API-Key".into(), pepper: SecretRef::Env("P".into()), keys: entries };
        ApiKeyAuthenticator::new(&cfg, &s).unwrap()
    }

    #[test]
    fn generated_key_round_trips_through_toml() {
        let new = generate_api_key("client-1", &pepper(), &["tools", "resources"], &["user"], None).unwrap();
        let key = new.key.expose_secret();
        assert!(key.starts_with("mcp_") && key.len() == 47);
        assert!(!new.config_toml.contains(key));
        #[derive(serde::Deserialize)]
        struct Doc {
            auth: Auth,
        }
        #[derive(serde::Deserialize)]
        struct Auth {
            api_keys: Keys,
        }
        #[derive(serde::Deserialize)]
        struct Keys {
            keys: Vec<ApiKeyEntry>,
        }
        let doc: Doc = toml::from_str(&new.config_toml).unwrap();
        let a = authn(doc.auth.api_keys.keys);
        let p = a.verify(key).unwrap();
        assert_eq!(&*p.id, "client-1");
        assert_eq!(p.method, AuthMethod::ApiKey);
        assert_eq!(p.permissions.len(), 2);
        assert_eq!(a.rate_limit_class("client-1"), Some("default"));
    }

    #[test]
    fn near_misses_and_junk_are_refused() {
        let new = generate_api_key("k", &pepper(), &[], &[], Some("bulk")).unwrap();
        let a = authn(vec![new.entry.clone()]);
        let key = new.key.expose_secret().to_owned();
        let mut last = key.clone().into_bytes();
        let n = last.len() - 1;
        last[n] = if last[n] == b'A' { b'B' } else { b'A' };
        let near = String::from_utf8(last).unwrap();
        assert_eq!(a.verify(&near).unwrap_err().reason(), FailureReason::UnknownApiKey);
        assert_eq!(a.verify("short").unwrap_err().reason(), FailureReason::MalformedApiKey);
        assert_eq!(a.verify(&"x".repeat(300)).unwrap_err().reason(), FailureReason::MalformedApiKey);
        assert_eq!(a.verify(&format!("{key} ")).unwrap_err().reason(), FailureReason::MalformedApiKey);
        assert!(a.verify(&key).is_ok());
        assert_eq!(a.rate_limit_class("k"), Some("bulk"));
        assert!(!format!("{a:?}").contains(&key));
    }

    #[test]
    fn config_errors() {
        assert!(generate_api_key("bad id", &pepper(), &[], &[], None).is_err());
        assert!(generate_api_key("k", &pepper(), &["not a perm"], &[], None).is_err());
        assert!(generate_api_key("k", &SecretBox::new(Box::from(&[1u8; 8][..])), &[], &[], None).is_err());
        let e = ApiKeyEntry {
            id: "a".into(),
            digest: "sha256:xyz".into(),
            permissions: vec![],
            roles: vec![],
            rate_limit_class: "default".into(),
        };
        let mut s = Secrets::new();
        s.insert(SecretRef::Env("P".into()), pepper());
        let cfg = ApiKeysConfig { header: "X-API-Key".into(), pepper: SecretRef::Env("P".into()), keys: vec![e] };
        assert!(ApiKeyAuthenticator::new(&cfg, &s).is_err());
        let cfg = ApiKeysConfig { header: "Authorization".into(), pepper: SecretRef::Env("P".into()), keys: vec![] };
        assert!(ApiKeyAuthenticator::new(&cfg, &s).is_err());
    }
}
