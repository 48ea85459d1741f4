//! Compact JWS handling shared by the JWT and OAuth authenticators: strict splitting, header
//! checks, signature verification with `ring`, claim validation.
//!
//! Order of operations for a token, cheapest and most hostile-input-proof first:
//! 1. length bound (before anything else);
//! 2. charset + exactly three parts;
//! 3. header: valid JSON, no duplicate names, `alg` present, not `none`, implemented, allowed by
//!    config; no `jku`/`x5u`/`jwk`/`x5c`/`crit`;
//! 4. key chosen by `kid` from configured/JWKS keys only, and its family must match `alg`;
//! 5. signature;
//! 6. only then the claims are parsed and checked.

pub(crate) mod claims;
pub(crate) mod key;
pub(crate) mod mapping;

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::FailureReason;

/// A JWS algorithm. Config pins the accepted set; a token's `alg` only selects within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum Algorithm {
    /// HMAC SHA-256.
    HS256,
    /// HMAC SHA-384.
    HS384,
    /// HMAC SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    RS512,
    /// RSASSA-PSS SHA-256.
    PS256,
    /// RSASSA-PSS SHA-384.
    PS384,
    /// RSASSA-PSS SHA-512.
    PS512,
    /// ECDSA P-256 SHA-256.
    ES256,
    /// ECDSA P-384 SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

/// Key families: a key of one family never verifies an algorithm of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Hmac,
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Algorithm {
    /// The JOSE name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parse a JOSE `alg`; `none` in any case is its own failure.
    pub(crate) fn from_jose(s: &str) -> Result<Self, FailureReason> {
        Ok(match s {
            "HS256" => Self::HS256,
            "HS384" => Self::HS384,
            "HS512" => Self::HS512,
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" | "Ed25519" => Self::EdDSA,
            s if s.eq_ignore_ascii_case("none") => return Err(FailureReason::AlgNone),
            _ => return Err(FailureReason::UnsupportedAlgorithm),
        })
    }

    pub(crate) const fn family(self) -> Family {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => Family::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => Family::Rsa,
            Self::ES256 => Family::P256,
            Self::ES384 => Family::P384,
            Self::EdDSA => Family::Ed25519,
        }
    }

    /// Minimum HMAC key length (RFC 7518 §3.2: at least the hash size).
    pub(crate) const fn min_hmac_key_len(self) -> usize {
        match self {
            Self::HS384 => 48,
            Self::HS512 => 64,
            _ => 32,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token split into its parts, borrowed.
#[derive(Debug)]
pub(crate) struct Compact<'a> {
    pub(crate) header_b64: &'a str,
    pub(crate) payload_b64: &'a str,
    /// `header.payload`: what the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) signature_b64: &'a str,
}

/// Split a compact JWS into exactly three non-empty parts. The parts are not inspected here:
/// each is later decoded with strict base64url (no padding, no whitespace, no `+`/`/`,
/// canonical trailing bits), so nothing ambiguous gets through.
pub(crate) fn split(token: &str) -> Result<Compact<'_>, FailureReason> {
    let first = token.find('.').ok_or(FailureReason::MalformedToken)?;
    let last = token.rfind('.').ok_or(FailureReason::MalformedToken)?;
    if first == last {
        return Err(FailureReason::MalformedToken);
    }
    let (h, p, s) = (&token[..first], &token[first + 1..last], &token[last + 1..]);
    if h.is_empty() || p.is_empty() || s.is_empty() || p.contains('.') {
        return Err(FailureReason::MalformedToken);
    }
    Ok(Compact { header_b64: h, payload_b64: p, signing_input: &token[..last], signature_b64: s })
}

/// Strict base64url (no padding, canonical trailing bits).
pub(crate) fn b64(s: &str) -> Result<Vec<u8>, FailureReason> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| FailureReason::MalformedToken)
}

/// True when `token` has the shape of a compact JWS whose header decodes to a JSON object with
/// an `alg`: used to tell JWT access tokens from opaque ones.
pub(crate) fn looks_like_jws(token: &str) -> bool {
    split(token).ok().and_then(|c| b64(c.header_b64).ok()).is_some_and(|h| {
        is_json_object(&h) && serde_json::from_slice::<RawHeader<'_>>(&h).is_ok_and(|h| h.alg.is_some())
    })
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    jwk: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
    #[serde(default)]
    enc: Option<IgnoredAny>,
}

/// The parts of a JOSE header this crate acts on.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
}

/// True when `json` starts (after whitespace) with `{`. serde's derived struct visitors also
/// accept arrays, so this is checked before deserializing a header into a struct.
pub(crate) fn is_json_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b" \t\r\n".contains(b)) == Some(&b'{')
}

/// Longest `kid` accepted; a `kid` is only ever a map key here, never a path or a URL.
const MAX_KID_LEN: usize = 256;

/// Decode and check the header against the pinned algorithm set.
pub(crate) fn parse_header(header_b64: &str, allowed: &[Algorithm]) -> Result<Header, FailureReason> {
    let bytes = b64(header_b64).map_err(|_| FailureReason::MalformedHeader)?;
    if !is_json_object(&bytes) {
        return Err(FailureReason::MalformedHeader);
    }
    let raw: RawHeader<'_> = serde_json::from_slice(&bytes).map_err(|_| FailureReason::MalformedHeader)?;
    if raw.jku.is_some() || raw.x5u.is_some() || raw.jwk.is_some() || raw.x5c.is_some() || raw.crit.is_some() {
        return Err(FailureReason::ForbiddenHeader);
    }
    if raw.enc.is_some() {
        return Err(FailureReason::MalformedHeader);
    }
    let alg = Algorithm::from_jose(raw.alg.as_deref().ok_or(FailureReason::MalformedHeader)?)?;
    if !allowed.contains(&alg) {
        return Err(FailureReason::AlgorithmNotAllowed);
    }
    let kid = match raw.kid {
        Some(k) if k.is_empty() || k.len() > MAX_KID_LEN || k.chars().any(char::is_control) => {
            return Err(FailureReason::MalformedHeader);
        }
        other => other.map(Cow::into_owned),
    };
    Ok(Header { alg, kid, typ: raw.typ.map(Cow::into_owned) })
}

/// Verify the signature of `c` with `key`, then decode the payload. Nothing in the payload is
/// looked at before this succeeds.
pub(crate) fn verify_signature(
    c: &Compact<'_>,
    alg: Algorithm,
    key: &key::VerifyKey,
) -> Result<Vec<u8>, FailureReason> {
    let sig = b64(c.signature_b64)?;
    key.verify(alg, c.signing_input.as_bytes(), &sig)?;
    b64(c.payload_b64)
}

/// Seconds since the Unix epoch (0 before it).
pub(crate) fn unix_secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn split_is_strict() {
        assert!(split("a.b.c").is_ok());
        for bad in ["a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "", "abc"] {
            assert_eq!(split(bad).map(|_| ()), Err(FailureReason::MalformedToken), "{bad:?}");
        }
        for bad in ["e30=", "e30 ", " e30", "e3+0", "e3/0", "e31"] {
            assert_eq!(b64(bad), Err(FailureReason::MalformedToken), "{bad:?}");
        }
        let c = split("hh.pp.ss").unwrap();
        assert_eq!(c.signing_input, "hh.pp");
    }

    #[test]
    fn header_rules() {
        let all = [Algorithm::HS256, Algorithm::ES256];
        assert_eq!(parse_header(&enc(r#"{"alg":"HS256","kid":"k"}"#), &all).unwrap().alg, Algorithm::HS256);
        for (h, want) in [
            (r#"{"alg":"none"}"#, FailureReason::AlgNone),
            (r#"{"alg":"NoNe"}"#, FailureReason::AlgNone),
            (r#"{"alg":"RS256"}"#, FailureReason::AlgorithmNotAllowed),
            (r#"{"alg":"HS1"}"#, FailureReason::UnsupportedAlgorithm),
            (r#"{"typ":"JWT"}"#, FailureReason::MalformedHeader),
            (r#"{"alg":"HS256","jku":"https://evil/jwks"}"#, FailureReason::ForbiddenHeader),
            (r#"{"alg":"HS256","x5u":"https://evil/cert"}"#, FailureReason::ForbiddenHeader),
            (r#"{"alg":"ES256","jwk":{"kty":"EC"}}"#, FailureReason::ForbiddenHeader),
            (r#"{"alg":"ES256","x5c":["MII"]}"#, FailureReason::ForbiddenHeader),
            (r#"{"alg":"HS256","crit":["b64"],"b64":false}"#, FailureReason::ForbiddenHeader),
            (r#"{"alg":"HS256","alg":"none"}"#, FailureReason::MalformedHeader),
            (r#"{"alg":"HS256","kid":""}"#, FailureReason::MalformedHeader),
            (r#"["HS256"]"#, FailureReason::MalformedHeader),
        ] {
            assert_eq!(parse_header(&enc(h), &all).map(|_| ()), Err(want), "{h}");
        }
    }

    #[test]
    fn jws_shape_detection() {
        assert!(looks_like_jws(&format!("{}.e30.c2ln", enc(r#"{"alg":"ES256"}"#))));
        assert!(!looks_like_jws("ydUtajHqhcDLtQNHoOPPFjPfLn4fnXCWckleC9fiskK"));
        assert!(!looks_like_jws("a.b.c"));
    }
}
