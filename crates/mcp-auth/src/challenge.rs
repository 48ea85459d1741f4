//! `WWW-Authenticate` challenges (RFC 6750 §3, RFC 9728 §5.1).
//!
//! | outcome | status | challenge |
//! |---|---|---|
//! | no credentials | 401 | `Bearer scope="…", resource_metadata="…"` |
//! | invalid / expired / wrong-audience token | 401 | `Bearer error="invalid_token", scope="…", resource_metadata="…"` |
//! | valid token lacking a scope | 403 | `Bearer error="insufficient_scope", scope="<all required>", resource_metadata="…"` |
//! | malformed request (two Authorization headers, token in query, two credential kinds) | 400 | `Bearer error="invalid_request", resource_metadata="…"` |
//! | issuer / introspection down | 503 | none |
//!
//! With API keys enabled, 401 answers also carry `ApiKey header="X-API-Key"`.

use http::HeaderValue;
use mcp_core::ErrorKind;

use crate::error::AuthError;

/// RFC 6749 §3.3 scope-token: `1*NQCHAR` (printable ASCII except space, `"` and `\`).
pub(crate) fn valid_scope(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Safe inside a quoted-string: printable ASCII without `"` and `\`.
fn valid_quoted(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7E).contains(&b) && b != b'"' && b != b'\\')
}

/// Builds the challenges for this server's configuration. Built once, cheap to use.
#[derive(Clone, Debug)]
pub struct Challenge {
    bearer: bool,
    resource_metadata: Option<String>,
    scope: Option<String>,
    api_key_header: Option<String>,
}

impl Challenge {
    /// `bearer`: JWT or OAuth is enabled. `resource_metadata`: URL of the RFC 9728 document
    /// (OAuth only). `scopes`: the scopes a client should request. `api_key_header`: the API-key
    /// header when API keys are enabled.
    pub fn new(
        bearer: bool,
        resource_metadata: Option<&str>,
        scopes: &[impl AsRef<str>],
        api_key_header: Option<&str>,
    ) -> Result<Self, AuthError> {
        if let Some(rm) = resource_metadata.filter(|r| !valid_quoted(r)) {
            return Err(AuthError::config(format!("resource metadata URL {rm:?} cannot be quoted in a challenge")));
        }
        if let Some(s) = scopes.iter().map(AsRef::as_ref).find(|s| !valid_scope(s)) {
            return Err(AuthError::config(format!("invalid scope {s:?}")));
        }
        let scope = (!scopes.is_empty()).then(|| scopes.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" "));
        Ok(Self {
            bearer,
            resource_metadata: resource_metadata.map(str::to_owned),
            scope,
            api_key_header: api_key_header.map(str::to_owned),
        })
    }

    /// One `Bearer` challenge with an optional RFC 6750 `error` and the configured scope (or
    /// `scope_override`) and `resource_metadata`.
    pub fn bearer(&self, error: Option<&str>, scope_override: Option<&[&str]>) -> HeaderValue {
        let mut params: Vec<String> = Vec::with_capacity(3);
        if let Some(e) = error.filter(|e| valid_quoted(e)) {
            params.push(format!("error=\"{e}\""));
        }
        let scope = match scope_override {
            Some(list) => {
                let ok: Vec<&str> = list.iter().copied().filter(|s| valid_scope(s)).collect();
                (!ok.is_empty()).then(|| ok.join(" "))
            }
            None => self.scope.clone(),
        };
        if let Some(s) = scope {
            params.push(format!("scope=\"{s}\""));
        }
        if let Some(rm) = &self.resource_metadata {
            params.push(format!("resource_metadata=\"{rm}\""));
        }
        let text = if params.is_empty() { "Bearer".to_owned() } else { format!("Bearer {}", params.join(", ")) };
        // Every part was checked to be visible ASCII.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    /// The `WWW-Authenticate` values for a refusal of `kind`; `token_presented` says whether
    /// the request carried a bearer token. Empty for kinds that carry no challenge (503, ...).
    pub fn header_values(&self, kind: ErrorKind, token_presented: bool) -> Vec<HeaderValue> {
        let error = match kind {
            ErrorKind::Unauthenticated if token_presented => Some("invalid_token"),
            ErrorKind::Unauthenticated => None,
            ErrorKind::InsufficientScope => Some("insufficient_scope"),
            ErrorKind::InvalidRequest => Some("invalid_request"),
            _ => return Vec::new(),
        };
        let mut out = Vec::with_capacity(2);
        if self.bearer {
            out.push(self.bearer(error, None));
        }
        if kind == ErrorKind::Unauthenticated
            && let Some(h) = self.api_key_header.as_deref().filter(|h| valid_quoted(h))
            && let Ok(v) = HeaderValue::from_str(&format!("ApiKey header=\"{h}\""))
        {
            out.push(v);
        }
        out
    }

    /// [`Self::header_values`] for an [`AuthError`]. For `InsufficientScope` the `scope`
    /// parameter lists every scope the error says is required.
    pub fn for_error(&self, err: &AuthError, token_presented: bool) -> Vec<HeaderValue> {
        if let AuthError::InsufficientScope { required, .. } = err
            && self.bearer
        {
            let list: Vec<&str> = required.iter().map(|s| &**s).collect();
            return vec![self.bearer(Some("insufficient_scope"), Some(&list))];
        }
        self.header_values(err.kind(), token_presented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> Challenge {
        Challenge::new(
            true,
            Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp"),
            &["mcp:tools", "mcp:read"],
            Some("X-API-Key"),
        )
        .unwrap()
    }

    #[test]
    fn snapshots() {
        let rm = "resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\"";
        let v = c().header_values(ErrorKind::Unauthenticated, false);
        assert_eq!(v[0], format!("Bearer scope=\"mcp:tools mcp:read\", {rm}").as_str());
        assert_eq!(v[1], "ApiKey header=\"X-API-Key\"");
        let v = c().header_values(ErrorKind::Unauthenticated, true);
        assert_eq!(v[0], format!("Bearer error=\"invalid_token\", scope=\"mcp:tools mcp:read\", {rm}").as_str());
        let v = c().header_values(ErrorKind::InsufficientScope, true);
        assert_eq!(
            v,
            vec![
                HeaderValue::from_str(&format!(
                    "Bearer error=\"insufficient_scope\", scope=\"mcp:tools mcp:read\", {rm}"
                ))
                .unwrap()
            ]
        );
        let v = c().header_values(ErrorKind::InvalidRequest, true);
        assert_eq!(v[0], format!("Bearer error=\"invalid_request\", scope=\"mcp:tools mcp:read\", {rm}").as_str());
        assert!(c().header_values(ErrorKind::Unavailable, true).is_empty());
        let none: [&str; 0] = [];
        let plain = Challenge::new(true, None, &none, None).unwrap();
        assert_eq!(plain.header_values(ErrorKind::Unauthenticated, false)[0], "Bearer");
    }

    #[test]
    fn insufficient_scope_lists_everything_required() {
        let err = AuthError::InsufficientScope {
            principal: "c".into(),
            required: std::sync::Arc::from(vec![std::sync::Arc::from("a:b"), std::sync::Arc::from("c")]),
        };
        let v = c().for_error(&err, true);
        assert!(v[0].to_str().unwrap().starts_with("Bearer error=\"insufficient_scope\", scope=\"a:b c\""));
    }

    #[test]
    fn injection_is_refused() {
        assert!(Challenge::new(true, Some("https://x/\", error=\"evil"), &["a"], None).is_err());
        assert!(Challenge::new(true, None, &["a b"], None).is_err());
        assert!(Challenge::new(true, None, &["a\"b"], None).is_err());
        assert!(valid_scope("mcp:tools") && !valid_scope("") && !valid_scope("a\\b"));
    }
}
