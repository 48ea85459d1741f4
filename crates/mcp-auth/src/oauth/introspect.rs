//! RFC 7662 token introspection for opaque access tokens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcp_core::{AuthMethod, Principal};
use secrecy::{ExposeSecret, SecretBox};

use super::fetch::HttpFetch;
use crate::cache::{TokenCache, TokenHash};
use crate::config::IntrospectionConfig;
use crate::error::{AuthError, FailureReason};
use crate::jose::claims::{self, ClaimRules, Claims};
use crate::jose::mapping::{self, ClaimPlan};
use crate::secrets::Secrets;

/// Calls the introspection endpoint, bounded in concurrency, with negative caching.
#[derive(Debug)]
pub(crate) struct Introspector {
    /// `Basic <base64(urlencoded id ":" urlencoded secret)>` (RFC 6749 §2.3.1).
    authorization: SecretBox<str>,
    cache_max: u64,
    negative_secs: u64,
    permits: tokio::sync::Semaphore,
    timeout: Duration,
    inactive: TokenCache<()>,
    calls: AtomicU64,
}

/// `application/x-www-form-urlencoded` encoding of raw bytes.
fn form_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Introspector {
    pub(crate) fn new(cfg: &IntrospectionConfig, secrets: &Secrets, timeout: Duration) -> Result<Self, AuthError> {
        if cfg.client_id.is_empty() {
            return Err(AuthError::config("auth.oauth.introspection.client_id is empty"));
        }
        let secret = secrets.get(&cfg.client_secret)?;
        let mut creds = form_encode(cfg.client_id.as_bytes());
        creds.push(':');
        creds.push_str(&form_encode(secret.expose_secret()));
        let authorization = format!("Basic {}", STANDARD.encode(creds.as_bytes()));
        zeroize::Zeroize::zeroize(&mut creds);
        Ok(Self {
            authorization: SecretBox::from(authorization),
            cache_max: cfg.cache_max_secs,
            negative_secs: cfg.negative_cache_secs,
            permits: tokio::sync::Semaphore::new(cfg.max_concurrent.clamp(1, 256)),
            timeout,
            inactive: TokenCache::new(4096),
            calls: AtomicU64::new(0),
        })
    }

    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Introspect `token`; returns the principal and until when it may be cached.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn introspect(
        &self,
        fetch: &dyn HttpFetch,
        endpoint: &str,
        token: &str,
        hash: TokenHash,
        rules: &ClaimRules<'_>,
        plan: &ClaimPlan,
        now: u64,
    ) -> Result<(Principal, u64), AuthError> {
        let rejected = |r| AuthError::rejected(AuthMethod::OAuth, r);
        let unavailable =
            AuthError::Unavailable { method: AuthMethod::OAuth, reason: FailureReason::IntrospectionUnavailable };
        if self.inactive.get(&hash, now).is_some() {
            return Err(rejected(FailureReason::TokenInactive));
        }
        let _permit = tokio::time::timeout(self.timeout, self.permits.acquire())
            .await
            .map_err(|_| unavailable.clone())?
            .map_err(|_| unavailable.clone())?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let form = [("token", token), ("token_type_hint", "access_token")];
        let resp = fetch.post_form(endpoint, self.authorization.expose_secret(), &form).await.map_err(|e| {
            tracing::warn!(error = %e, "introspection call failed");
            unavailable.clone()
        })?;
        if resp.status != 200 {
            tracing::warn!(status = resp.status, "introspection endpoint refused the call");
            return Err(unavailable);
        }
        let c = Claims::parse(&resp.body).map_err(|_| unavailable.clone())?;
        if c.bool("active").map_err(|_| unavailable.clone())? != Some(true) {
            self.inactive.insert(hash, now + self.negative_secs, (), now);
            return Err(rejected(FailureReason::TokenInactive));
        }
        if let Some(tt) = c.str("token_type").map_err(rejected)?
            && !tt.eq_ignore_ascii_case("bearer")
            && tt != "access_token"
        {
            return Err(rejected(FailureReason::WrongTokenType));
        }
        let exp = claims::validate(&c, rules, now).map_err(rejected)?;
        let principal = mapping::principal(&c, plan, AuthMethod::OAuth, true).map_err(rejected)?;
        let until = exp.unwrap_or(u64::MAX).min(now.saturating_add(self.cache_max));
        Ok((principal, until))
    }
}

#[cfg(test)]
mod tests {
    use super::form_encode;

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode(b"a b:c%d~"), "a+b%3Ac%25d%7E");
        assert_eq!(form_encode(b"client-1_x.y"), "client-1_x.y");
    }
}
