//! OAuth 2.1 / OIDC resource server: discovery, JWKS cache with rate-limited single-flight
//! refresh, audience binding (RFC 8707), required scopes, RFC 7662 introspection.
//!
//! Network use is bounded: at most one metadata/JWKS fetch per `jwks_refresh_min_interval_secs`
//! however many unknown `kid`s arrive (concurrent requests wait for the one fetch in flight, later
//! ones are refused at once), a background refresh after `jwks_max_age_secs` that no request
//! waits for, and at most `max_concurrent` introspection calls. The only place a client's token is
//! ever sent is the configured issuer's own introspection endpoint.

pub(crate) mod discovery;
pub(crate) mod fetch;
mod introspect;
pub(crate) mod jwks;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use mcp_core::{AuthMethod, Clock, Principal};

use self::discovery::IssuerMetadata;
use self::fetch::HttpFetch;
use self::introspect::Introspector;
use self::jwks::KeySet;
use crate::cache::{TokenCache, token_hash};
use crate::config::{DiscoveryMode, OAuthConfig};
use crate::error::{AuthError, FailureReason};
use crate::jose::claims::{self, ClaimRules, Claims};
use crate::jose::mapping::{self, ClaimPlan};
use crate::jose::{self, Algorithm, Family};
use crate::secrets::Secrets;
use crate::url::check_endpoint;

/// Metadata plus the keys fetched from it.
#[derive(Debug)]
struct IssuerState {
    metadata: IssuerMetadata,
    keys: KeySet,
    fetched_at: Instant,
}

#[derive(Clone, Debug)]
struct CachedToken {
    principal: Principal,
    kid: Option<Arc<str>>,
}

/// Counters of outbound activity, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OAuthStats {
    /// Metadata + JWKS refreshes attempted (each is one discovery when needed plus one JWKS GET).
    pub refreshes: u64,
    /// Refreshes that failed.
    pub refresh_failures: u64,
    /// Unknown-`kid` refreshes refused by the rate limit.
    pub refreshes_rate_limited: u64,
    /// Introspection calls made.
    pub introspections: u64,
}

#[derive(Debug)]
struct Settings {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    required_scopes: Arc<[Arc<str>]>,
    require_at_jwt_typ: bool,
    leeway: u64,
    max_ttl: u64,
    max_bytes: usize,
    claims: ClaimPlan,
    discovery: DiscoveryMode,
    jwks_uri: Option<String>,
    introspection_endpoint: Option<String>,
    refresh_min: Duration,
    max_age: Duration,
}

#[derive(Debug)]
struct Inner {
    s: Settings,
    fetch: Arc<dyn HttpFetch>,
    state: ArcSwapOption<IssuerState>,
    refresh_lock: tokio::sync::Mutex<()>,
    last_refresh: Mutex<Option<Instant>>,
    cache: TokenCache<CachedToken>,
    introspector: Option<Introspector>,
    clock: Arc<dyn Clock>,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
    rate_limited: AtomicU64,
}

/// Verifies OAuth access tokens for one resource (this server) from one authorization server.
#[derive(Clone, Debug)]
pub struct OAuthAuthenticator {
    inner: Arc<Inner>,
}

impl OAuthAuthenticator {
    /// Build from config. `resource` is this server's resource URI (the required audience);
    /// `secrets` must hold the introspection client secret if introspection is on; `fetch` does
    /// the outbound calls. No IO happens here: call [`Self::warm_up`] at startup.
    pub fn new(
        cfg: &OAuthConfig,
        resource: &str,
        secrets: &Secrets,
        fetch: Arc<dyn HttpFetch>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        check_endpoint(&cfg.issuer).map_err(|e| AuthError::config(format!("auth.oauth.issuer: {e}")))?;
        if let Some(j) = &cfg.jwks_uri {
            check_endpoint(j).map_err(|e| AuthError::config(format!("auth.oauth.jwks_uri: {e}")))?;
        }
        if cfg.discovery == DiscoveryMode::None && cfg.jwks_uri.is_none() {
            return Err(AuthError::config("auth.oauth: discovery = \"none\" needs jwks_uri"));
        }
        if cfg.algorithms.is_empty() {
            return Err(AuthError::config("auth.oauth.algorithms is empty"));
        }
        if let Some(a) = cfg.algorithms.iter().find(|a| a.family() == Family::Hmac) {
            return Err(AuthError::config(format!(
                "auth.oauth.algorithms: {a} is symmetric; an authorization server's tokens are verified with its public keys"
            )));
        }
        crate::config::check_bounds("auth.oauth", cfg.leeway_secs, cfg.max_token_bytes)?;
        for s in cfg.required_scopes.iter().chain(&cfg.scopes_supported) {
            if !crate::challenge::valid_scope(s) {
                return Err(AuthError::config(format!("auth.oauth: invalid scope {s:?}")));
            }
        }
        let http_timeout = Duration::from_secs(cfg.http_timeout_secs.clamp(1, 60));
        let introspector = match &cfg.introspection {
            Some(i) => {
                if let Some(e) = &i.endpoint {
                    check_endpoint(e)
                        .map_err(|e| AuthError::config(format!("auth.oauth.introspection.endpoint: {e}")))?;
                }
                Some(Introspector::new(i, secrets, http_timeout)?)
            }
            None => None,
        };
        let s = Settings {
            issuer: cfg.issuer.clone(),
            audiences: vec![resource.to_owned()],
            algorithms: cfg.algorithms.clone(),
            required_scopes: cfg.required_scopes.iter().map(|s| Arc::from(s.as_str())).collect(),
            require_at_jwt_typ: cfg.require_at_jwt_typ,
            leeway: cfg.leeway_secs,
            max_ttl: cfg.max_token_ttl_secs,
            max_bytes: cfg.max_token_bytes,
            claims: ClaimPlan::new(&cfg.claims, "auth.oauth")?,
            discovery: cfg.discovery,
            jwks_uri: cfg.jwks_uri.clone(),
            introspection_endpoint: cfg.introspection.as_ref().and_then(|i| i.endpoint.clone()),
            refresh_min: Duration::from_secs(cfg.jwks_refresh_min_interval_secs),
            max_age: Duration::from_secs(cfg.jwks_max_age_secs.max(60)),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                s,
                fetch,
                state: ArcSwapOption::empty(),
                refresh_lock: tokio::sync::Mutex::new(()),
                last_refresh: Mutex::new(None),
                cache: TokenCache::new(cfg.cache_capacity),
                introspector,
                clock,
                refreshes: AtomicU64::new(0),
                refresh_failures: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
            }),
        })
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.s.issuer
    }

    /// Scopes every token must carry.
    pub fn required_scopes(&self) -> &[Arc<str>] {
        &self.inner.s.required_scopes
    }

    /// Outbound-activity counters.
    pub fn stats(&self) -> OAuthStats {
        let i = &self.inner;
        OAuthStats {
            refreshes: i.refreshes.load(Ordering::Relaxed),
            refresh_failures: i.refresh_failures.load(Ordering::Relaxed),
            refreshes_rate_limited: i.rate_limited.load(Ordering::Relaxed),
            introspections: i.introspector.as_ref().map_or(0, Introspector::calls),
        }
    }

    /// Verified tokens currently cached.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.len()
    }

    /// Discover the issuer and fetch its JWKS now (at startup), so no request waits on the
    /// network. Not rate-limited. On failure the server may still start: requests then retry
    /// (rate-limited) and get `Unavailable` meanwhile.
    pub async fn warm_up(&self) -> Result<(), AuthError> {
        let _g = self.inner.refresh_lock.lock().await;
        *self.inner.last_refresh.lock().unwrap_or_else(|p| p.into_inner()) = Some(self.inner.clock.instant());
        self.inner.refresh_now().await
    }

    /// Verify an access token: a JWT against the issuer's JWKS, or an opaque token by
    /// introspection (when configured). Scopes are checked last: a valid token lacking one is
    /// [`AuthError::InsufficientScope`].
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let inner = &self.inner;
        let rejected = |r| AuthError::rejected(AuthMethod::OAuth, r);
        if token.len() > inner.s.max_bytes {
            return Err(rejected(FailureReason::TokenTooLong));
        }
        let now = jose::unix_secs(inner.clock.now());
        let hash = token_hash(token);
        if let Some(hit) = inner.cache.get(&hash, now) {
            // A key withdrawn from the JWKS invalidates the tokens it signed.
            let key_still_published = match (&hit.kid, inner.state.load().as_ref()) {
                (Some(kid), Some(st)) => st.keys.has_kid(kid),
                _ => true,
            };
            if key_still_published {
                return self.check_scopes(hit.principal);
            }
        }
        let principal = if jose::looks_like_jws(token) {
            self.verify_jwt(token, hash, now).await?
        } else if let Some(intro) = &inner.introspector {
            let state = self.state().await?;
            let endpoint =
                inner.s.introspection_endpoint.as_deref().or(state.metadata.introspection_endpoint.as_deref());
            let endpoint = endpoint.ok_or(AuthError::Unavailable {
                method: AuthMethod::OAuth,
                reason: FailureReason::IntrospectionUnavailable,
            })?;
            let rules = self.rules(false);
            let (p, until) =
                intro.introspect(&*inner.fetch, endpoint, token, hash, &rules, &inner.s.claims, now).await?;
            inner.cache.insert(hash, until, CachedToken { principal: p.clone(), kid: None }, now);
            p
        } else {
            return Err(rejected(FailureReason::MalformedToken));
        };
        self.check_scopes(principal)
    }

    fn rules(&self, jwt: bool) -> ClaimRules<'_> {
        let s = &self.inner.s;
        ClaimRules {
            issuer: &s.issuer,
            audiences: &s.audiences,
            leeway: s.leeway,
            max_ttl: s.max_ttl,
            require_iat: jwt,
            require_exp: jwt,
            require_iss: jwt,
        }
    }

    async fn verify_jwt(&self, token: &str, hash: crate::cache::TokenHash, now: u64) -> Result<Principal, AuthError> {
        let inner = &self.inner;
        let rejected = |r| AuthError::rejected(AuthMethod::OAuth, r);
        let compact = jose::split(token).map_err(rejected)?;
        let header = jose::parse_header(compact.header_b64, &inner.s.algorithms).map_err(rejected)?;
        if inner.s.require_at_jwt_typ
            && !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"))
        {
            return Err(rejected(FailureReason::WrongTokenType));
        }
        let mut state = self.state().await?;
        let kid = header.kid.as_deref();
        let selected = state.keys.select(kid, header.alg).map(|_| ());
        if selected == Err(FailureReason::UnknownKid) && self.refresh_for_unknown_kid().await {
            state = self.state().await?;
        }
        let key = state.keys.select(kid, header.alg).map_err(rejected)?;
        let payload = jose::verify_signature(&compact, header.alg, &key.key).map_err(rejected)?;
        let c = Claims::parse(&payload).map_err(rejected)?;
        let exp = claims::validate(&c, &self.rules(true), now).map_err(rejected)?;
        let p = mapping::principal(&c, &inner.s.claims, AuthMethod::OAuth, true).map_err(rejected)?;
        if let Some(exp) = exp.filter(|_| inner.cache.enabled()) {
            let kid = key.kid.as_deref().map(Arc::from);
            inner.cache.insert(hash, exp, CachedToken { principal: p.clone(), kid }, now);
        }
        if inner.clock.instant().saturating_duration_since(state.fetched_at) > inner.s.max_age {
            self.spawn_background_refresh();
        }
        Ok(p)
    }

    fn check_scopes(&self, p: Principal) -> Result<Principal, AuthError> {
        let required = &self.inner.s.required_scopes;
        if required.iter().all(|s| p.scopes.contains(s)) {
            Ok(p)
        } else {
            Err(AuthError::InsufficientScope { principal: p.id, required: required.clone() })
        }
    }

    /// The current issuer state, fetching it (rate-limited) when there is none yet.
    async fn state(&self) -> Result<Arc<IssuerState>, AuthError> {
        if let Some(s) = self.inner.state.load_full() {
            return Ok(s);
        }
        self.refresh_for_unknown_kid().await;
        self.inner
            .state
            .load_full()
            .ok_or(AuthError::Unavailable { method: AuthMethod::OAuth, reason: FailureReason::IssuerUnavailable })
    }

    /// Rate-limited single-flight refresh. Returns true when the caller should look again
    /// (this call or a concurrent one refreshed).
    async fn refresh_for_unknown_kid(&self) -> bool {
        let inner = &self.inner;
        if inner.recently_refreshed() {
            inner.rate_limited.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let _g = inner.refresh_lock.lock().await;
        if inner.recently_refreshed() {
            // Someone refreshed while we waited for the lock.
            return true;
        }
        *inner.last_refresh.lock().unwrap_or_else(|p| p.into_inner()) = Some(inner.clock.instant());
        inner.refresh_now().await.is_ok()
    }

    fn spawn_background_refresh(&self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        if self.inner.recently_refreshed() {
            return;
        }
        let this = self.clone();
        rt.spawn(async move {
            let Ok(_g) = this.inner.refresh_lock.try_lock() else { return };
            if this.inner.recently_refreshed() {
                return;
            }
            *this.inner.last_refresh.lock().unwrap_or_else(|p| p.into_inner()) = Some(this.inner.clock.instant());
            let _ = this.inner.refresh_now().await;
        });
    }
}

impl Inner {
    fn recently_refreshed(&self) -> bool {
        let last = *self.last_refresh.lock().unwrap_or_else(|p| p.into_inner());
        last.is_some_and(|t| self.clock.instant().saturating_duration_since(t) < self.s.refresh_min)
    }

    /// Discovery (first time only) + JWKS fetch; the old state stays on failure. Caller holds
    /// `refresh_lock`.
    async fn refresh_now(&self) -> Result<(), AuthError> {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch_state().await;
        match result {
            Ok(st) => {
                let old_kids = self.state.load().as_ref().map(|s| s.keys.len());
                tracing::info!(issuer = %self.s.issuer, keys = st.keys.len(), previous = ?old_kids, "JWKS refreshed");
                let keys_now = Arc::new(st);
                self.state.store(Some(keys_now.clone()));
                self.cache.retain(|t| t.kid.as_deref().is_none_or(|k| keys_now.keys.has_kid(k)));
                Ok(())
            }
            Err(e) => {
                self.refresh_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(issuer = %self.s.issuer, error = %e, "authorization server metadata/JWKS refresh failed");
                Err(AuthError::Unavailable { method: AuthMethod::OAuth, reason: FailureReason::IssuerUnavailable })
            }
        }
    }

    async fn fetch_state(&self) -> Result<IssuerState, String> {
        let metadata = match self.state.load().as_ref() {
            Some(st) => st.metadata.clone(),
            None => {
                discovery::discover(
                    &*self.fetch,
                    &self.s.issuer,
                    self.s.discovery,
                    self.s.jwks_uri.as_deref(),
                    self.s.introspection_endpoint.as_deref(),
                )
                .await?
            }
        };
        let resp = self.fetch.get(&metadata.jwks_uri).await.map_err(|e| format!("{}: {e}", metadata.jwks_uri))?;
        if resp.status != 200 {
            return Err(format!("{}: HTTP {}", metadata.jwks_uri, resp.status));
        }
        let keys = KeySet::parse(&resp.body, &self.s.algorithms)?;
        Ok(IssuerState { metadata, keys, fetched_at: self.clock.instant() })
    }
}
