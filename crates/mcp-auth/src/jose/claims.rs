//! Claims: parsed once (borrowing), duplicate names refused, validated; nested values reached
//! by claim path (the mapping to a principal is in `mapping`).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::claim_path::ClaimPath;
use crate::error::FailureReason;

/// Most claims a token may carry.
const MAX_CLAIMS: usize = 128;
/// Most audiences in one token.
const MAX_AUDIENCES: usize = 64;
/// Longest principal id, role, scope.
pub(crate) const MAX_NAME: usize = 256;

/// A JSON object's members, borrowed, in order; a repeated name is an error (two parsers could
/// otherwise disagree about which `aud` counts).
#[derive(Debug)]
pub(crate) struct Claims<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Claims<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Claims<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(12);
                while let Some(Name(k)) = map.next_key::<Name<'de>>()? {
                    if entries.len() >= MAX_CLAIMS {
                        return Err(de::Error::custom("too many claims"));
                    }
                    if entries.iter().any(|(e, _)| *e == k) {
                        return Err(de::Error::custom("duplicate claim"));
                    }
                    let v: &'de RawValue = map.next_value()?;
                    entries.push((k, v));
                }
                Ok(Claims { entries })
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Claims<'a> {
    /// Parse a decoded payload.
    pub(crate) fn parse(json: &'a [u8]) -> Result<Self, FailureReason> {
        serde_json::from_slice(json).map_err(|_| FailureReason::MalformedClaims)
    }

    fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.entries.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }

    /// The value at `path`: the top-level claim, then one object member per further segment.
    /// `None` when a step is missing or not an object; a repeated member name on the way is
    /// malformed, as at the top level.
    pub(crate) fn path(&self, path: &ClaimPath) -> Result<Option<&'a RawValue>, FailureReason> {
        let Some((first, rest)) = path.segments().split_first() else { return Ok(None) };
        let Some(mut v) = self.raw(first) else { return Ok(None) };
        for seg in rest {
            match member(v, seg)? {
                Some(m) => v = m,
                None => return Ok(None),
            }
        }
        Ok(Some(v))
    }

    /// A string at `path`; present-but-not-a-string is malformed. `null` counts as absent.
    pub(crate) fn str_at(&self, path: &ClaimPath) -> Result<Option<Cow<'a, str>>, FailureReason> {
        match self.path(path)? {
            None => Ok(None),
            Some(v) if v.get() == "null" => Ok(None),
            Some(v) => json_str(v).map(Some),
        }
    }

    /// A string claim; present-but-not-a-string is malformed. `null` counts as absent.
    pub(crate) fn str(&self, name: &str) -> Result<Option<Cow<'a, str>>, FailureReason> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => {
                serde_json::from_str::<Option<Cow<'a, str>>>(v.get()).map_err(|_| FailureReason::MalformedClaims)
            }
        }
    }

    /// A boolean claim.
    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, FailureReason> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => serde_json::from_str::<Option<bool>>(v.get()).map_err(|_| FailureReason::MalformedClaims),
        }
    }

    /// A NumericDate (RFC 7519 §2): non-negative seconds, fractions floored.
    pub(crate) fn time(&self, name: &str) -> Result<Option<u64>, FailureReason> {
        let Some(v) = self.raw(name) else { return Ok(None) };
        let n: Option<serde_json::Number> =
            serde_json::from_str(v.get()).map_err(|_| FailureReason::MalformedClaims)?;
        let Some(n) = n else { return Ok(None) };
        if let Some(u) = n.as_u64() {
            return Ok(Some(u));
        }
        match n.as_f64() {
            Some(f) if (0.0..1e15).contains(&f) => Ok(Some(f as u64)),
            _ => Err(FailureReason::MalformedClaims),
        }
    }

    /// `aud`: a string or list of strings, each a valid name, at most [`MAX_AUDIENCES`];
    /// anything else is malformed (an audience is never guessed).
    fn audiences(&self) -> Result<Vec<Cow<'a, str>>, FailureReason> {
        let Some(v) = self.raw("aud") else { return Ok(Vec::new()) };
        // Dispatch on the first byte instead of an untagged enum (which buffers and retries).
        let items: Vec<Cow<'a, str>> = match v.get().as_bytes().first() {
            Some(b'"') => vec![json_str(v)?],
            Some(b'[') => {
                let raw: Vec<&'a RawValue> =
                    serde_json::from_str(v.get()).map_err(|_| FailureReason::MalformedClaims)?;
                if raw.len() > MAX_AUDIENCES {
                    return Err(FailureReason::MalformedClaims);
                }
                raw.into_iter().map(json_str).collect::<Result<_, _>>()?
            }
            Some(b'n') if v.get() == "null" => Vec::new(),
            _ => return Err(FailureReason::MalformedClaims),
        };
        if items.iter().any(|i| !valid_name(i)) {
            return Err(FailureReason::MalformedClaims);
        }
        Ok(items)
    }
}

/// The non-empty space-separated parts of `s`, borrowed when `s` is.
pub(crate) fn split_spaces(s: Cow<'_, str>) -> Vec<Cow<'_, str>> {
    match s {
        Cow::Borrowed(b) => b.split(' ').filter(|p| !p.is_empty()).map(Cow::Borrowed).collect(),
        Cow::Owned(o) => o.split(' ').filter(|p| !p.is_empty()).map(|p| Cow::Owned(p.to_owned())).collect(),
    }
}

/// The member `key` of the JSON object `v` (`None` when `v` is not an object or lacks it).
fn member<'a>(v: &'a RawValue, key: &str) -> Result<Option<&'a RawValue>, FailureReason> {
    struct Find<'k>(&'k str);
    impl<'de> DeserializeSeed<'de> for Find<'_> {
        type Value = Option<&'de RawValue>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    impl<'de> Visitor<'de> for Find<'_> {
        type Value = Option<&'de RawValue>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut found = None;
            while let Some(Name(k)) = map.next_key::<Name<'de>>()? {
                let v: &'de RawValue = map.next_value()?;
                if k == self.0 {
                    if found.is_some() {
                        return Err(de::Error::custom("duplicate member"));
                    }
                    found = Some(v);
                }
            }
            Ok(found)
        }
    }
    if !v.get().starts_with('{') {
        return Ok(None);
    }
    let mut de = serde_json::Deserializer::from_str(v.get());
    Find(key).deserialize(&mut de).map_err(|_| FailureReason::MalformedClaims)
}

/// A JSON string, borrowed unless it has escapes.
pub(crate) fn json_str(v: &RawValue) -> Result<Cow<'_, str>, FailureReason> {
    let raw = v.get();
    if !raw.starts_with('"') {
        return Err(FailureReason::MalformedClaims);
    }
    match serde_json::from_str::<&str>(raw) {
        Ok(s) => Ok(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(raw).map(Cow::Owned).map_err(|_| FailureReason::MalformedClaims),
    }
}

pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME && !s.chars().any(char::is_control)
}

/// What a token must satisfy besides its signature.
#[derive(Debug)]
pub(crate) struct ClaimRules<'r> {
    pub(crate) issuer: &'r str,
    pub(crate) audiences: &'r [String],
    pub(crate) leeway: u64,
    pub(crate) max_ttl: u64,
    /// `iat` required (JWT: always, for the lifetime bound). Introspection answers may omit it.
    pub(crate) require_iat: bool,
    /// `exp` required (introspection answers may omit it).
    pub(crate) require_exp: bool,
    /// `iss` required (introspection answers may omit it; the endpoint is the issuer's own).
    pub(crate) require_iss: bool,
}

/// Check time, issuer and audience claims at `now` (Unix seconds). Returns `exp`, if any.
pub(crate) fn validate(c: &Claims<'_>, rules: &ClaimRules<'_>, now: u64) -> Result<Option<u64>, FailureReason> {
    let exp = c.time("exp")?;
    let iat = c.time("iat")?;
    let nbf = c.time("nbf")?;
    if (rules.require_exp && exp.is_none()) || (rules.require_iat && iat.is_none()) {
        return Err(FailureReason::MissingClaim);
    }
    let leeway = rules.leeway;
    if let Some(exp) = exp
        && now > exp.saturating_add(leeway)
    {
        return Err(FailureReason::Expired);
    }
    if let Some(nbf) = nbf
        && now.saturating_add(leeway) < nbf
    {
        return Err(FailureReason::NotYetValid);
    }
    if let Some(iat) = iat {
        if now.saturating_add(leeway) < iat {
            return Err(FailureReason::IssuedInFuture);
        }
        if let Some(exp) = exp {
            if exp < iat {
                return Err(FailureReason::MalformedClaims);
            }
            if exp - iat > rules.max_ttl {
                return Err(FailureReason::LifetimeTooLong);
            }
        }
    }
    match c.str("iss")? {
        None if rules.require_iss => return Err(FailureReason::MissingClaim),
        None => {}
        Some(iss) if iss != rules.issuer => return Err(FailureReason::WrongIssuer),
        Some(_) => {}
    }
    let aud = c.audiences()?;
    if aud.is_empty() {
        return Err(FailureReason::MissingClaim);
    }
    if !aud.iter().any(|a| rules.audiences.iter().any(|want| want == a)) {
        return Err(FailureReason::WrongAudience);
    }
    Ok(exp)
}

/// Unverified peek at `iss`, used only to route a bearer token between the JWT and OAuth
/// authenticators (the chosen one then verifies everything).
pub(crate) fn peek_issuer(token: &str, max_bytes: usize) -> Option<String> {
    if token.len() > max_bytes {
        return None;
    }
    let parts = super::split(token).ok()?;
    let payload = super::b64(parts.payload_b64).ok()?;
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    if !super::is_json_object(&payload) {
        return None;
    }
    serde_json::from_slice::<Iss>(&payload).ok()?.iss
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(aud: &[String]) -> ClaimRules<'_> {
        ClaimRules {
            issuer: "https://iss",
            audiences: aud,
            leeway: 30,
            max_ttl: 3600,
            require_iat: true,
            require_exp: true,
            require_iss: true,
        }
    }

    fn check(json: &str, now: u64) -> Result<Option<u64>, FailureReason> {
        let aud = vec!["https://rs/mcp".to_owned()];
        let c = Claims::parse(json.as_bytes())?;
        validate(&c, &rules(&aud), now)
    }

    #[test]
    fn time_rules() {
        let base = r#""iss":"https://iss","aud":"https://rs/mcp""#;
        assert_eq!(check(&format!(r#"{{{base},"iat":1000,"exp":2000}}"#), 1500), Ok(Some(2000)));
        assert_eq!(check(&format!(r#"{{{base},"iat":1000,"exp":2000}}"#), 2030), Ok(Some(2000)), "within leeway");
        assert_eq!(check(&format!(r#"{{{base},"iat":1000,"exp":2000}}"#), 2031), Err(FailureReason::Expired));
        assert_eq!(
            check(&format!(r#"{{{base},"iat":1000,"exp":2000,"nbf":1600}}"#), 1500),
            Err(FailureReason::NotYetValid)
        );
        assert_eq!(check(&format!(r#"{{{base},"iat":1600,"exp":2000}}"#), 1500), Err(FailureReason::IssuedInFuture));
        assert_eq!(check(&format!(r#"{{{base},"iat":1000,"exp":9000}}"#), 1500), Err(FailureReason::LifetimeTooLong));
        assert_eq!(check(&format!(r#"{{{base},"exp":2000}}"#), 1500), Err(FailureReason::MissingClaim));
        assert_eq!(check(&format!(r#"{{{base},"iat":1000}}"#), 1500), Err(FailureReason::MissingClaim));
        assert_eq!(check(&format!(r#"{{{base},"iat":1000.5,"exp":2000.9}}"#), 1500), Ok(Some(2000)));
        assert_eq!(check(&format!(r#"{{{base},"iat":-1,"exp":2000}}"#), 1500), Err(FailureReason::MalformedClaims));
        assert_eq!(check(&format!(r#"{{{base},"iat":"1000","exp":2000}}"#), 1500), Err(FailureReason::MalformedClaims));
    }

    #[test]
    fn issuer_and_audience() {
        let t = r#""iat":1000,"exp":2000"#;
        assert_eq!(
            check(&format!(r#"{{{t},"iss":"https://evil","aud":"https://rs/mcp"}}"#), 1500),
            Err(FailureReason::WrongIssuer)
        );
        assert_eq!(check(&format!(r#"{{{t},"aud":"https://rs/mcp"}}"#), 1500), Err(FailureReason::MissingClaim));
        assert_eq!(check(&format!(r#"{{{t},"iss":"https://iss"}}"#), 1500), Err(FailureReason::MissingClaim));
        assert_eq!(
            check(&format!(r#"{{{t},"iss":"https://iss","aud":"https://other/mcp"}}"#), 1500),
            Err(FailureReason::WrongAudience)
        );
        assert_eq!(
            check(&format!(r#"{{{t},"iss":"https://iss","aud":["x","https://rs/mcp"]}}"#), 1500),
            Ok(Some(2000))
        );
        assert_eq!(check(&format!(r#"{{{t},"iss":"https://iss","aud":[]}}"#), 1500), Err(FailureReason::MissingClaim));
    }

    #[test]
    fn duplicates_and_shapes() {
        assert_eq!(Claims::parse(br#"{"aud":"a","aud":"b"}"#).unwrap_err(), FailureReason::MalformedClaims);
        assert_eq!(Claims::parse(br#"{"a\u0075d":"a","aud":"b"}"#).unwrap_err(), FailureReason::MalformedClaims);
        assert!(Claims::parse(b"[1]").is_err());
        assert!(Claims::parse(b"{} ").is_ok());
        assert!(Claims::parse(b"{}x").is_err());
    }
}
