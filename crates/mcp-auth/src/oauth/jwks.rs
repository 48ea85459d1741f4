//! A parsed JWKS and key selection.

use std::collections::HashMap;

use serde::Deserialize;

use crate::error::FailureReason;
use crate::jose::Algorithm;
#[cfg(test)]
use crate::jose::Family;
use crate::jose::key::{Jwk, parse_jwk};

/// Most keys taken from one JWKS.
const MAX_KEYS: usize = 64;

/// The usable signature keys of one JWKS document.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<Jwk>,
    by_kid: HashMap<String, Vec<usize>>,
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parse a JWKS body. Keys that are not for signature verification (or of unsupported
    /// types, or symmetric) are skipped; a malformed key is skipped with a warning. An empty
    /// result is an error.
    pub(crate) fn parse(body: &[u8], allowed: &[Algorithm]) -> Result<Self, String> {
        if !crate::jose::is_json_object(body) {
            return Err("JWKS is not a JSON object".into());
        }
        let doc: JwksDoc = serde_json::from_slice(body).map_err(|e| format!("invalid JWKS: {e}"))?;
        let mut set = KeySet::default();
        for v in doc.keys.iter().take(MAX_KEYS) {
            match parse_jwk(v) {
                Ok(Some(k)) if allowed.iter().any(|a| a.family() == k.key.family()) => {
                    if let Some(kid) = &k.kid {
                        set.by_kid.entry(kid.clone()).or_default().push(set.keys.len());
                    }
                    set.keys.push(k);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "skipping a JWKS key"),
            }
        }
        if set.keys.is_empty() {
            return Err("JWKS holds no usable signature key for the configured algorithms".into());
        }
        Ok(set)
    }

    /// True when `kid` is in the set.
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// The key for `kid` / `alg`. With a `kid`: the key(s) of that id whose family (and own
    /// `alg`, if pinned) fit `alg` — exactly one. Without: the single key that fits `alg`.
    pub(crate) fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&Jwk, FailureReason> {
        let fits = |k: &&Jwk| k.key.family() == alg.family() && k.alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => {
                let idx = self.by_kid.get(kid).ok_or(FailureReason::UnknownKid)?;
                let mut it = idx.iter().map(|&i| &self.keys[i]).filter(fits);
                match (it.next(), it.next()) {
                    (Some(k), None) => Ok(k),
                    (None, _) => Err(FailureReason::AlgKeyMismatch),
                    (Some(_), Some(_)) => Err(FailureReason::KidRequired),
                }
            }
            None => {
                let mut it = self.keys.iter().filter(fits);
                match (it.next(), it.next()) {
                    (Some(k), None) => Ok(k),
                    (None, _) => Err(FailureReason::UnknownKid),
                    (Some(_), Some(_)) => Err(FailureReason::KidRequired),
                }
            }
        }
    }

    /// Number of keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    #[cfg(test)]
    pub(crate) fn families(&self) -> Vec<Family> {
        self.keys.iter().map(|k| k.key.family()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn ed(kid: &str, alg: Option<&str>) -> serde_json::Value {
        let x = URL_SAFE_NO_PAD.encode([3u8; 32]);
        let mut v = json!({"kty":"OKP","crv":"Ed25519","x":x,"kid":kid});
        if let Some(a) = alg {
            v["alg"] = json!(a);
        }
        v
    }

    #[test]
    fn selection() {
        let body =
            json!({"keys":[ed("a", Some("EdDSA")), ed("b", None), {"kty":"oct","k":"AAAA","kid":"h"}]}).to_string();
        let set = KeySet::parse(body.as_bytes(), &[Algorithm::EdDSA, Algorithm::ES256]).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.families(), vec![Family::Ed25519, Family::Ed25519]);
        assert!(set.select(Some("a"), Algorithm::EdDSA).is_ok());
        assert_eq!(set.select(Some("a"), Algorithm::ES256).unwrap_err(), FailureReason::AlgKeyMismatch);
        assert_eq!(
            set.select(Some("h"), Algorithm::HS256).unwrap_err(),
            FailureReason::UnknownKid,
            "oct keys never load"
        );
        assert_eq!(set.select(Some("../../etc/passwd"), Algorithm::EdDSA).unwrap_err(), FailureReason::UnknownKid);
        assert_eq!(set.select(None, Algorithm::EdDSA).unwrap_err(), FailureReason::KidRequired);
        assert!(KeySet::parse(br#"{"keys":[]}"#, &[Algorithm::EdDSA]).is_err());
        assert!(KeySet::parse(body.as_bytes(), &[Algorithm::RS256]).is_err(), "no key of an allowed family");
    }
}
