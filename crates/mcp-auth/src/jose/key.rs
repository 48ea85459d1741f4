//! Verification keys (ring) built from config PEMs, HMAC secrets and JWKs.

use ring::{hmac, signature};
use secrecy::{ExposeSecret, SecretBox};
use serde::Deserialize;
use serde::de::IgnoredAny;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_SIG_ED25519};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::{Algorithm, Family, b64};
use crate::error::FailureReason;

/// A public key or HMAC secret, ready for ring.
pub(crate) enum VerifyKey {
    /// One ring key per HMAC hash (ring binds the hash into the key).
    Hmac(Box<HmacKeys>),
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed SEC1 point.
    P256(Vec<u8>),
    /// Uncompressed SEC1 point.
    P384(Vec<u8>),
    /// 32-byte public key.
    Ed25519(Vec<u8>),
}

/// An HMAC secret. Only the secret bytes are kept, in memory that is zeroized when the key is
/// dropped (after a rotation's grace period, for example); ring's key schedule for the hash in
/// use is built per verification and lives only for that call.
pub(crate) struct HmacKeys {
    secret: SecretBox<[u8]>,
    len: usize,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hmac(k) => write!(f, "Hmac([redacted; {} bytes])", k.len),
            Self::Rsa { n, .. } => write!(f, "Rsa({} bits)", n.len() * 8),
            Self::P256(_) => f.write_str("P256"),
            Self::P384(_) => f.write_str("P384"),
            Self::Ed25519(_) => f.write_str("Ed25519"),
        }
    }
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b[first..].to_vec()
}

/// Smallest RSA modulus accepted, bits.
const MIN_RSA_BITS: usize = 2048;

impl VerifyKey {
    pub(crate) fn family(&self) -> Family {
        match self {
            Self::Hmac(_) => Family::Hmac,
            Self::Rsa { .. } => Family::Rsa,
            Self::P256(_) => Family::P256,
            Self::P384(_) => Family::P384,
            Self::Ed25519(_) => Family::Ed25519,
        }
    }

    /// An HMAC key; `min_len` is the strictest requirement of the algorithms it will verify.
    pub(crate) fn hmac(secret: &SecretBox<[u8]>, min_len: usize) -> Result<Self, String> {
        let s = secret.expose_secret();
        if s.len() < min_len.max(32) {
            return Err(format!(
                "HMAC secret is {} bytes; at least {} are required (256 bits for HS256, 384 for HS384, 512 for HS512)",
                s.len(),
                min_len.max(32)
            ));
        }
        Ok(Self::Hmac(Box::new(HmacKeys { secret: SecretBox::new(Box::from(s)), len: s.len() })))
    }

    fn rsa(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let (n, e) = (strip_zeros(n), strip_zeros(e));
        if n.len() * 8 < MIN_RSA_BITS {
            return Err(format!("RSA key of {} bits; at least {MIN_RSA_BITS} are required", n.len() * 8));
        }
        if e.is_empty() || e.len() > 4 {
            return Err("RSA public exponent out of range".into());
        }
        Ok(Self::Rsa { n, e })
    }

    fn ec(family: Family, point: Vec<u8>) -> Result<Self, String> {
        let want = if family == Family::P256 { 65 } else { 97 };
        if point.len() != want || point[0] != 4 {
            return Err("EC public key must be an uncompressed point".into());
        }
        Ok(if family == Family::P256 { Self::P256(point) } else { Self::P384(point) })
    }

    /// From a `-----BEGIN PUBLIC KEY-----` (SPKI) PEM.
    pub(crate) fn from_spki_pem(pem: &[u8]) -> Result<Self, String> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|_| "not a PEM document".to_owned())?;
        if pem.label != "PUBLIC KEY" {
            return Err(format!("expected a PUBLIC KEY PEM, found {:?}", pem.label));
        }
        Self::from_spki_der(&pem.contents)
    }

    /// From DER SubjectPublicKeyInfo.
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<Self, String> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|_| "invalid SubjectPublicKeyInfo".to_owned())?;
        let alg = &spki.algorithm.algorithm;
        if *alg == OID_SIG_ED25519 {
            let raw = spki.subject_public_key.data.to_vec();
            if raw.len() != 32 {
                return Err("Ed25519 public key must be 32 bytes".into());
            }
            return Ok(Self::Ed25519(raw));
        }
        match spki.parsed().map_err(|_| "unparseable public key".to_owned())? {
            PublicKey::RSA(rsa) => Self::rsa(rsa.modulus, rsa.exponent),
            PublicKey::EC(point) if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY => {
                let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
                match curve {
                    Some(c) if c == OID_EC_P256 => Self::ec(Family::P256, point.data().to_vec()),
                    Some(c) if c == OID_NIST_EC_P384 => Self::ec(Family::P384, point.data().to_vec()),
                    _ => Err("unsupported EC curve (P-256 and P-384 are supported)".into()),
                }
            }
            _ => Err("unsupported public key type (RSA, EC P-256/P-384, Ed25519 are supported)".into()),
        }
    }

    /// Verify `sig` over `msg` with `alg`. A key of another family than `alg` is refused
    /// (`AlgKeyMismatch`), which is what defeats HS/RS confusion.
    pub(crate) fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), FailureReason> {
        if alg.family() != self.family() {
            return Err(FailureReason::AlgKeyMismatch);
        }
        let ok = match (self, alg) {
            (Self::Hmac(k), _) => {
                let hash = match alg {
                    Algorithm::HS384 => hmac::HMAC_SHA384,
                    Algorithm::HS512 => hmac::HMAC_SHA512,
                    _ => hmac::HMAC_SHA256,
                };
                hmac::verify(&hmac::Key::new(hash, k.secret.expose_secret()), msg, sig).is_ok()
            }
            (Self::Rsa { n, e }, _) => {
                let params: &signature::RsaParameters = match alg {
                    Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                    _ => &signature::RSA_PSS_2048_8192_SHA512,
                };
                signature::RsaPublicKeyComponents { n, e }.verify(params, msg, sig).is_ok()
            }
            (Self::P256(p), _) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p).verify(msg, sig).is_ok()
            }
            (Self::P384(p), _) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, p).verify(msg, sig).is_ok()
            }
            (Self::Ed25519(p), _) => signature::UnparsedPublicKey::new(&signature::ED25519, p).verify(msg, sig).is_ok(),
        };
        if ok { Ok(()) } else { Err(FailureReason::BadSignature) }
    }
}

/// One JWK as published in a JWKS document. Unknown members are ignored; private members are
/// never used.
#[derive(Deserialize)]
struct JwkDoc {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    d: Option<IgnoredAny>,
}

/// A usable signature key from a JWKS.
#[derive(Debug)]
pub(crate) struct Jwk {
    pub(crate) kid: Option<String>,
    /// The JWK's own `alg`, when it pins one.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) key: VerifyKey,
}

/// Parse one JWK. `Ok(None)` for keys that are well-formed but not for us (encryption keys,
/// symmetric `oct` keys — a JWKS never supplies an HMAC secret —, unsupported types).
pub(crate) fn parse_jwk(value: &serde_json::Value) -> Result<Option<Jwk>, String> {
    if !value.is_object() {
        return Err("a JWK must be a JSON object".into());
    }
    let doc: JwkDoc = serde_json::from_value(value.clone()).map_err(|e| format!("invalid JWK: {e}"))?;
    if doc.d.is_some() {
        return Err("JWKS publishes a private key; refusing it".into());
    }
    if doc.use_.as_deref().is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    if doc.key_ops.as_ref().is_some_and(|ops| !ops.iter().any(|o| o == "verify")) {
        return Ok(None);
    }
    let alg = match doc.alg.as_deref() {
        None => None,
        Some(a) => match Algorithm::from_jose(a) {
            Ok(a) => Some(a),
            Err(_) => return Ok(None),
        },
    };
    let d = |s: &Option<String>| -> Result<Vec<u8>, String> {
        b64(s.as_deref().ok_or("JWK member missing")?).map_err(|_| "JWK member is not base64url".to_owned())
    };
    let key = match (doc.kty.as_str(), doc.crv.as_deref()) {
        ("RSA", _) => VerifyKey::rsa(&d(&doc.n)?, &d(&doc.e)?)?,
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (x, y) = (d(&doc.x)?, d(&doc.y)?);
            let size = if crv == "P-256" { 32 } else { 48 };
            if x.len() != size || y.len() != size {
                return Err("EC JWK coordinates have the wrong length".into());
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            VerifyKey::ec(if crv == "P-256" { Family::P256 } else { Family::P384 }, point)?
        }
        ("OKP", Some("Ed25519")) => {
            let x = d(&doc.x)?;
            if x.len() != 32 {
                return Err("Ed25519 JWK must be 32 bytes".into());
            }
            VerifyKey::Ed25519(x)
        }
        _ => return Ok(None),
    };
    if let Some(a) = alg.filter(|a| a.family() != key.family()) {
        return Err(format!("JWK alg {a} does not fit its key type"));
    }
    Ok(Some(Jwk { kid: doc.kid, alg, key }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hmac_secret_length_is_enforced() {
        let short = SecretBox::new(Box::from(&b"0123456789abcdef0123456789abcde"[..]));
        assert!(VerifyKey::hmac(&short, 32).is_err());
        let ok = SecretBox::new(Box::from(&[7u8; 32][..]));
        assert!(VerifyKey::hmac(&ok, 32).is_ok());
        assert!(VerifyKey::hmac(&ok, 64).is_err());
        assert!(!format!("{:?}", VerifyKey::hmac(&ok, 32).unwrap()).contains('7'));
    }

    #[test]
    fn jwk_filtering() {
        assert!(parse_jwk(&json!({"kty":"oct","k":"AAAA"})).unwrap().is_none());
        assert!(parse_jwk(&json!({"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"})).unwrap().is_none());
        assert!(parse_jwk(&json!({"kty":"RSA","n":"AQAB","e":"AQAB"})).is_err(), "tiny modulus");
        assert!(parse_jwk(&json!({"kty":"EC","crv":"P-256","x":"AA","y":"AA"})).is_err());
        assert!(parse_jwk(&json!({"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"})).is_err());
        let x = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [9u8; 32]);
        let k = parse_jwk(&json!({"kty":"OKP","crv":"Ed25519","x":x,"kid":"e1","alg":"EdDSA"})).unwrap().unwrap();
        assert_eq!(k.kid.as_deref(), Some("e1"));
        assert!(parse_jwk(&json!({"kty":"OKP","crv":"Ed25519","x":x,"alg":"RS256"})).is_err());
    }

    #[test]
    fn family_mismatch_is_reported_before_any_crypto() {
        let secret = SecretBox::new(Box::from(&[1u8; 32][..]));
        let k = VerifyKey::hmac(&secret, 32).unwrap();
        assert_eq!(k.verify(Algorithm::RS256, b"m", b"s").unwrap_err(), FailureReason::AlgKeyMismatch);
        assert_eq!(k.verify(Algorithm::HS256, b"m", b"s").unwrap_err(), FailureReason::BadSignature);
    }
}
