//! Host / Origin allow-lists, CORS and security headers, compiled once from config.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;

use crate::config::HttpConfig;

/// Compiled request guard.
#[derive(Debug)]
pub(crate) struct Guard {
    hosts: Vec<String>,
    origins: Vec<String>,
    allow_loopback_origins: bool,
    cors_origins: Vec<String>,
    cors_max_age: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
    hsts: Option<HeaderValue>,
}

/// Why the guard refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Host,
    Origin,
}

const CORS_ALLOW_HEADERS: &str = "content-type, accept, authorization, x-api-key, mcp-protocol-version, mcp-session-id, mcp-method, mcp-name, last-event-id";
const CORS_EXPOSE_HEADERS: &str = "mcp-session-id, mcp-protocol-version, www-authenticate, retry-after";

impl Guard {
    pub(crate) fn new(cfg: &HttpConfig, tls: bool) -> Self {
        let sh = &cfg.security_headers;
        let mut headers = Vec::new();
        if sh.enabled {
            let mut push = |name: HeaderName, value: &str| {
                if let Ok(v) = HeaderValue::from_str(value) {
                    headers.push((name, v));
                }
            };
            push(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
            push(header::X_FRAME_OPTIONS, &sh.frame_options);
            push(header::REFERRER_POLICY, &sh.referrer_policy);
            push(header::CONTENT_SECURITY_POLICY, &sh.content_security_policy);
            push(header::CACHE_CONTROL, "no-store");
            for (k, v) in &sh.extra {
                if let Ok(name) = HeaderName::from_bytes(k.as_bytes()) {
                    push(name, v);
                }
            }
        }
        let hsts = (sh.enabled && tls).then(|| HeaderValue::from_str(&sh.hsts).ok()).flatten();
        Self {
            hosts: cfg.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            origins: cfg.allowed_origins.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()).collect(),
            allow_loopback_origins: cfg.allow_loopback_origins,
            cors_origins: cfg
                .cors
                .allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            cors_max_age: HeaderValue::from(cfg.cors.max_age_secs),
            headers,
            hsts,
        }
    }

    /// Host header (HTTP/1.1) or `:authority` (HTTP/2) must be allowed.
    pub(crate) fn check_host(&self, parts: &Parts) -> Result<(), Refusal> {
        let authority = match parts.headers.get(header::HOST) {
            Some(h) => h.to_str().map_err(|_| Refusal::Host)?,
            None => parts.uri.authority().map(|a| a.as_str()).ok_or(Refusal::Host)?,
        };
        // The allowed names are stored in lower case; compared without case, no copy.
        let name = host_name(authority);
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(authority) || h.eq_ignore_ascii_case(name)) {
            Ok(())
        } else {
            Err(Refusal::Host)
        }
    }

    /// A present `Origin` must be allowed. Returns the origin when CORS headers should be added.
    pub(crate) fn check_origin(&self, parts: &Parts) -> Result<Option<HeaderValue>, Refusal> {
        let Some(origin) = parts.headers.get(header::ORIGIN) else {
            return Ok(None);
        };
        let text = origin.to_str().map_err(|_| Refusal::Origin)?.trim_end_matches('/').to_ascii_lowercase();
        let cors = self.cors_origins.contains(&text);
        let allowed =
            cors || self.origins.contains(&text) || (self.allow_loopback_origins && is_loopback_origin(&text));
        if !allowed {
            return Err(Refusal::Origin);
        }
        Ok(cors.then(|| origin.clone()))
    }

    /// Add the security headers (and CORS headers for an allowed cross origin).
    pub(crate) fn decorate(&self, headers: &mut HeaderMap, cors_origin: Option<&HeaderValue>) {
        headers.reserve(self.headers.len() + 1);
        for (k, v) in &self.headers {
            headers.entry(k).or_insert_with(|| v.clone());
        }
        if let Some(h) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, h.clone());
        }
        if let Some(origin) = cors_origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(CORS_EXPOSE_HEADERS));
        }
    }

    /// Headers of a successful CORS preflight answer.
    pub(crate) fn preflight(&self, headers: &mut HeaderMap) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, DELETE, OPTIONS"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(CORS_ALLOW_HEADERS));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, self.cors_max_age.clone());
    }
}

/// `name` of `name:port`, keeping IPv6 brackets.
fn host_name(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.find(']').map_or(authority, |i| &authority[..=i]);
    }
    authority.rsplit_once(':').map_or(authority, |(n, _)| n)
}

fn is_loopback_origin(origin: &str) -> bool {
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    let Some(rest) = rest else { return false };
    let name = host_name(rest);
    let port_ok =
        rest[name.len()..].strip_prefix(':').is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    matches!(name, "localhost" | "127.0.0.1" | "[::1]") && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri("/mcp");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn host_allow_list() {
        let g = Guard::new(&HttpConfig::default(), false);
        for ok in ["localhost", "localhost:8765", "127.0.0.1:1", "[::1]:8765", "LOCALHOST", "LocalHost:8765"] {
            assert_eq!(g.check_host(&parts(&[("host", ok)])), Ok(()), "{ok}");
        }
        for bad in ["evil.com", "evil.com:8765", "localhost.evil.com", "127.0.0.1.nip.io", ""] {
            assert_eq!(g.check_host(&parts(&[("host", bad)])), Err(Refusal::Host), "{bad}");
        }
        assert_eq!(g.check_host(&parts(&[])), Err(Refusal::Host));
    }

    #[test]
    fn origin_allow_list() {
        let mut cfg = HttpConfig::default();
        cfg.cors.allowed_origins = vec!["https://app.example.com".into()];
        let g = Guard::new(&cfg, false);
        assert_eq!(g.check_origin(&parts(&[])), Ok(None));
        assert_eq!(g.check_origin(&parts(&[("origin", "http://localhost:3000")])), Ok(None));
        assert!(g.check_origin(&parts(&[("origin", "https://app.example.com")])).unwrap().is_some());
        for bad in ["http://evil.com", "null", "http://localhost.evil.com", "http://localhost:", "file://"] {
            assert_eq!(g.check_origin(&parts(&[("origin", bad)])), Err(Refusal::Origin), "{bad}");
        }
    }

    #[test]
    fn headers_added_and_hsts_only_with_tls() {
        let mut h = HeaderMap::new();
        Guard::new(&HttpConfig::default(), false).decorate(&mut h, None);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(!h.contains_key("strict-transport-security"));
        let mut h = HeaderMap::new();
        Guard::new(&HttpConfig::default(), true).decorate(&mut h, None);
        assert!(h.contains_key("strict-transport-security"));
    }
}
