//! Pulling credentials out of an HTTP request, strictly.

use http::{HeaderMap, HeaderName, Uri};
use mcp_core::traits::Credentials;
use secrecy::SecretBox;

use crate::error::{AuthError, FailureReason};

/// Longest `Authorization` / API-key header value looked at; longer is a malformed request.
/// (Token length limits proper are enforced by each authenticator before parsing.)
const MAX_HEADER_VALUE: usize = 64 * 1024;

fn bad(reason: FailureReason) -> AuthError {
    AuthError::BadRequest { reason }
}

/// The one value of header `name`, if present. Two or more → `duplicate_header`.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h http::HeaderValue>, AuthError> {
    let mut it = headers.get_all(name).iter();
    match (it.next(), it.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => Ok(Some(v)),
        (Some(_), Some(_)) => Err(bad(FailureReason::DuplicateHeader)),
    }
}

/// The bearer token of the `Authorization` header.
///
/// - no header, or another scheme (`Basic`, ...) → `Ok(None)` (the request is then
///   unauthenticated and gets a 401 challenge);
/// - two `Authorization` headers → `BadRequest(duplicate_header)`;
/// - `Bearer` without a token68 (RFC 6750 §2.1: `[A-Za-z0-9-._~+/]+=*`) →
///   `BadRequest(malformed_authorization_header)`.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<SecretBox<str>>, AuthError> {
    let Some(value) = single(headers, &http::header::AUTHORIZATION)? else { return Ok(None) };
    let bytes = value.as_bytes();
    if bytes.len() > MAX_HEADER_VALUE {
        return Err(bad(FailureReason::MalformedAuthorizationHeader));
    }
    let Some(sp) = bytes.iter().position(|&b| b == b' ') else {
        return if bytes.eq_ignore_ascii_case(b"bearer") {
            Err(bad(FailureReason::MalformedAuthorizationHeader))
        } else {
            Ok(None)
        };
    };
    if !bytes[..sp].eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    let token = trim_spaces(&bytes[sp..]);
    if !is_token68(token) {
        return Err(bad(FailureReason::MalformedAuthorizationHeader));
    }
    // token68 is ASCII.
    let token = std::str::from_utf8(token).map_err(|_| bad(FailureReason::MalformedAuthorizationHeader))?;
    Ok(Some(SecretBox::from(token.to_owned())))
}

fn trim_spaces(mut b: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' '] = b {
        b = rest;
    }
    b
}

fn is_token68(t: &[u8]) -> bool {
    let body = t.iter().position(|&b| b == b'=').map_or(t, |i| &t[..i]);
    !body.is_empty()
        && body.iter().all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        && t[body.len()..].iter().all(|&b| b == b'=')
}

/// The value of the API-key header `name`. Two headers → `BadRequest(duplicate_header)`;
/// non-visible-ASCII → `BadRequest(malformed_authorization_header)`.
pub fn api_key(headers: &HeaderMap, name: &HeaderName) -> Result<Option<SecretBox<str>>, AuthError> {
    let Some(value) = single(headers, name)? else { return Ok(None) };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_HEADER_VALUE || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(bad(FailureReason::MalformedAuthorizationHeader));
    }
    let key = std::str::from_utf8(bytes).map_err(|_| bad(FailureReason::MalformedAuthorizationHeader))?;
    Ok(Some(SecretBox::from(key.to_owned())))
}

/// Refuse a URI whose query carries `access_token` (RFC 6750 §2.3 is not supported: query
/// strings end up in logs, proxies and browser history). Percent-encoded names are decoded
/// first, so `access%5Ftoken` is caught too.
pub fn reject_token_in_query(uri: &Uri) -> Result<(), AuthError> {
    let Some(q) = uri.query() else { return Ok(()) };
    for pair in q.split('&') {
        let name = pair.split('=').next().unwrap_or("");
        if percent_decode_eq(name, "access_token") {
            return Err(bad(FailureReason::TokenInQuery));
        }
    }
    Ok(())
}

fn percent_decode_eq(encoded: &str, want: &str) -> bool {
    let b = encoded.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out == want.as_bytes()
}

/// Everything [`crate::CompositeAuthenticator`] needs from a request: refuses a token in the
/// query, then extracts the bearer token, the API key (when `api_key_header` is set) and takes
/// the client certificate the TLS layer verified.
pub fn credentials_from_request(
    headers: &HeaderMap,
    uri: &Uri,
    api_key_header: Option<&HeaderName>,
    client_cert_der: Option<Vec<u8>>,
) -> Result<Credentials, AuthError> {
    reject_token_in_query(uri)?;
    let mut c = Credentials::default();
    c.bearer = bearer_token(headers)?;
    if let Some(name) = api_key_header {
        c.api_key = api_key(headers, name)?;
    }
    c.client_cert_der = client_cert_der;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use secrecy::ExposeSecret;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn bearer_parsing() {
        let t = bearer_token(&h(&[("authorization", "Bearer abc.def-_~+/==")])).unwrap().unwrap();
        assert_eq!(t.expose_secret(), "abc.def-_~+/==");
        assert_eq!(bearer_token(&h(&[("authorization", "bearer   x  ")])).unwrap().unwrap().expose_secret(), "x");
        assert!(bearer_token(&h(&[])).unwrap().is_none());
        assert!(bearer_token(&h(&[("authorization", "Basic dXNlcjpwdw==")])).unwrap().is_none());
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Bearer a=b", "Bearer =", "Bearer a\"b"] {
            assert_eq!(
                bearer_token(&h(&[("authorization", bad)])).unwrap_err().reason(),
                FailureReason::MalformedAuthorizationHeader,
                "{bad:?}"
            );
        }
        let two = h(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert_eq!(bearer_token(&two).unwrap_err().reason(), FailureReason::DuplicateHeader);
        assert_eq!(bearer_token(&two).unwrap_err().oauth_error_code(), Some("invalid_request"));
    }

    #[test]
    fn api_key_header() {
        let name = HeaderName::from_static("x-api-key");
        assert_eq!(api_key(&h(&[("x-api-key", "mcp_abc")]), &name).unwrap().unwrap().expose_secret(), "mcp_abc");
        assert!(api_key(&h(&[("x-api-key", "a"), ("x-api-key", "b")]), &name).is_err());
        assert!(api_key(&h(&[("x-api-key", "a b")]), &name).is_err());
    }

    #[test]
    fn token_in_query() {
        let ok: Uri = "/mcp?x=1&access_tokens=2".parse().unwrap();
        assert!(reject_token_in_query(&ok).is_ok());
        for bad in ["/mcp?access_token=abc", "/mcp?a=1&access_token", "/mcp?access%5Ftoken=x", "/mcp?access%5ftoken=x"]
        {
            let u: Uri = bad.parse().unwrap();
            assert_eq!(reject_token_in_query(&u).unwrap_err().reason(), FailureReason::TokenInQuery, "{bad}");
        }
    }

    #[test]
    fn full_extraction() {
        let headers = h(&[("authorization", "Bearer tok"), ("x-api-key", "mcp_key_value_123")]);
        let name = HeaderName::from_static("x-api-key");
        let c = credentials_from_request(&headers, &"/mcp".parse().unwrap(), Some(&name), Some(vec![1])).unwrap();
        assert!(c.bearer.is_some() && c.api_key.is_some() && c.client_cert_der.is_some());
        let c = credentials_from_request(&headers, &"/mcp".parse().unwrap(), None, None).unwrap();
        assert!(c.api_key.is_none());
    }
}
