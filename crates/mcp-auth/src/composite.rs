//! The composite [`Authenticator`]: dispatch by credential kind, in configured order.
//!
//! A request's credentials are classified by kind — bearer token, API key, client certificate —
//! and each kind goes to exactly one authenticator: API key → `api_keys`, client certificate →
//! `mtls`, bearer → `oauth` or `jwt` (both enabled: a JWT whose unverified `iss` is the OAuth
//! issuer, or an opaque token, goes to `oauth`; any other JWT to `jwt`). There is no fallback:
//! a token refused by the JWT authenticator is never retried as OAuth, so an attacker cannot
//! pick the weakest verifier. Credentials of several enabled kinds are refused unless
//! `multiple_credentials` says otherwise.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, Uri};
use mcp_core::traits::{Authenticator, AuthnContext, BackendError, Credentials};
use mcp_core::{BoxFuture, Clock, Principal, SystemClock};
use secrecy::{ExposeSecret, SecretBox};

use crate::api_key::ApiKeyAuthenticator;
use crate::challenge::Challenge;
use crate::config::{AuthConfig, MethodName, MultipleCredentials, SecretRef};
use crate::error::{AuthError, FailureReason};
use crate::jose::{self, claims::peek_issuer};
use crate::jwt::JwtAuthenticator;
use crate::metadata::ProtectedResourceMetadata;
use crate::mtls::MtlsAuthenticator;
use crate::oauth::OAuthAuthenticator;
use crate::oauth::fetch::{HttpFetch, ReqwestFetch};
use crate::rotation::GraceSlot;
use crate::secrets::Secrets;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bearer,
    ApiKey,
    ClientCert,
}

/// All configured authenticators behind one [`Authenticator`].
#[derive(Debug)]
pub struct CompositeAuthenticator {
    kinds: Vec<Kind>,
    multiple: MultipleCredentials,
    jwt: Option<JwtAuthenticator>,
    api_keys: Option<ApiKeyAuthenticator>,
    oauth: Option<OAuthAuthenticator>,
    mtls: Option<MtlsAuthenticator>,
    challenge: Challenge,
    metadata: Option<ProtectedResourceMetadata>,
    bearer_peek_limit: usize,
    pub(crate) grace: GraceSlot,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Builds a [`CompositeAuthenticator`] from [`AuthConfig`] plus resolved secrets.
#[derive(Debug)]
pub struct AuthBuilder {
    config: AuthConfig,
    secrets: Secrets,
    fetch: Option<Arc<dyn HttpFetch>>,
    client: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
}

impl AuthBuilder {
    /// Start from a config.
    pub fn new(config: AuthConfig) -> Self {
        Self { config, secrets: Secrets::new(), fetch: None, client: None, clock: Arc::new(SystemClock) }
    }

    /// Provide all secrets at once (see [`AuthConfig::secret_refs`]).
    pub fn secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = secrets;
        self
    }

    /// Provide the value of one secret reference.
    pub fn secret(mut self, reference: SecretRef, value: SecretBox<[u8]>) -> Self {
        self.secrets.insert(reference, value);
        self
    }

    /// The HTTP client for discovery, JWKS and introspection — pass the one built with the
    /// server's outbound TLS config (CA, SPKI pins) and redirects off.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// A custom [`HttpFetch`] (takes precedence over [`Self::http_client`]).
    pub fn fetcher(mut self, fetch: Arc<dyn HttpFetch>) -> Self {
        self.fetch = Some(fetch);
        self
    }

    /// Injected time (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Validate the config and build every enabled authenticator. No network IO: call
    /// [`CompositeAuthenticator::warm_up`] next.
    pub fn build(self) -> Result<CompositeAuthenticator, AuthError> {
        let cfg = &self.config;
        cfg.validate()?;
        let resource = cfg.resource.as_deref();
        let jwt = cfg
            .jwt
            .as_ref()
            .map(|j| JwtAuthenticator::new(j, resource, &self.secrets, self.clock.clone()))
            .transpose()?;
        let api_keys = cfg.api_keys.as_ref().map(|k| ApiKeyAuthenticator::new(k, &self.secrets)).transpose()?;
        let mtls = cfg.mtls.as_ref().map(|m| MtlsAuthenticator::new(m, self.clock.clone())).transpose()?;
        let (oauth, metadata) = match &cfg.oauth {
            None => (None, None),
            Some(o) => {
                let resource = resource.ok_or_else(|| AuthError::config("auth.resource is required for oauth"))?;
                if cfg.jwt.as_ref().is_some_and(|j| j.issuer == o.issuer) {
                    return Err(AuthError::config(
                        "auth.jwt.issuer equals auth.oauth.issuer: bearer tokens are routed by issuer, so one section would never be used",
                    ));
                }
                let fetch: Arc<dyn HttpFetch> = match (self.fetch.clone(), self.client.clone()) {
                    (Some(f), _) => f,
                    (None, client) => {
                        let timeout = std::time::Duration::from_secs(o.http_timeout_secs.clamp(1, 60));
                        let client = match client {
                            Some(c) => c,
                            None => {
                                let loopback = crate::url::check_endpoint(&o.issuer)
                                    .map(|u| u.scheme() == "http")
                                    .unwrap_or(false);
                                ReqwestFetch::default_client(loopback).map_err(|e| AuthError::config(e.to_string()))?
                            }
                        };
                        Arc::new(ReqwestFetch::new(client, timeout, o.max_response_bytes))
                    }
                };
                let auth = OAuthAuthenticator::new(o, resource, &self.secrets, fetch, self.clock.clone())?;
                let scopes =
                    if o.scopes_supported.is_empty() { o.required_scopes.clone() } else { o.scopes_supported.clone() };
                let mut md = ProtectedResourceMetadata::new(resource, vec![o.issuer.clone()], scopes)?;
                md.resource_name = o.resource_name.clone();
                md.resource_documentation = o.resource_documentation.clone();
                (Some(auth), Some(md))
            }
        };
        let mut kinds = Vec::new();
        for m in &cfg.methods {
            let k = match m {
                MethodName::Jwt | MethodName::Oauth => Kind::Bearer,
                MethodName::ApiKey => Kind::ApiKey,
                MethodName::Mtls => Kind::ClientCert,
            };
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        let challenge_scopes: Vec<String> = cfg.oauth.as_ref().map(|o| o.required_scopes.clone()).unwrap_or_default();
        let metadata_url = metadata.as_ref().map(ProtectedResourceMetadata::metadata_url);
        let challenge = Challenge::new(
            jwt.is_some() || oauth.is_some(),
            metadata_url.as_deref(),
            &challenge_scopes,
            api_keys.as_ref().map(|a| a.header().as_str()),
        )?;
        let bearer_peek_limit =
            cfg.oauth.as_ref().map_or(0, |o| o.max_token_bytes).max(cfg.jwt.as_ref().map_or(0, |j| j.max_token_bytes));
        Ok(CompositeAuthenticator {
            kinds,
            multiple: cfg.multiple_credentials,
            jwt,
            api_keys,
            oauth,
            mtls,
            challenge,
            metadata,
            bearer_peek_limit,
            grace: GraceSlot::default(),
            clock: self.clock,
        })
    }
}

impl CompositeAuthenticator {
    /// Shorthand for [`AuthBuilder::new`].
    pub fn builder(config: AuthConfig) -> AuthBuilder {
        AuthBuilder::new(config)
    }

    /// Fetch OAuth metadata and JWKS now (call once at startup; a no-op without OAuth).
    pub async fn warm_up(&self) -> Result<(), AuthError> {
        match &self.oauth {
            Some(o) => o.warm_up().await,
            None => Ok(()),
        }
    }

    /// The challenge builder for 401/403/400 answers.
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The RFC 9728 document to serve (OAuth only), with its paths from
    /// [`ProtectedResourceMetadata::well_known_paths`].
    pub fn protected_resource_metadata(&self) -> Option<&ProtectedResourceMetadata> {
        self.metadata.as_ref()
    }

    /// The API-key header, when API keys are enabled.
    pub fn api_key_header(&self) -> Option<&HeaderName> {
        self.api_keys.as_ref().map(ApiKeyAuthenticator::header)
    }

    /// The rate-limit class of an API-key principal, looked up by key id. Principals also carry
    /// their class in [`Principal::rate_class`]: API keys always (`rate_limit_class`), JWT and
    /// OAuth principals when `claims.rate_class` names a claim.
    pub fn rate_limit_class(&self, principal: &Principal) -> Option<&str> {
        if principal.method != mcp_core::AuthMethod::ApiKey {
            return None;
        }
        self.api_keys.as_ref()?.rate_limit_class(&principal.id)
    }

    /// The JWT authenticator, if enabled.
    pub fn jwt(&self) -> Option<&JwtAuthenticator> {
        self.jwt.as_ref()
    }

    /// The OAuth authenticator, if enabled.
    pub fn oauth(&self) -> Option<&OAuthAuthenticator> {
        self.oauth.as_ref()
    }

    /// The API-key authenticator, if enabled.
    pub fn api_keys(&self) -> Option<&ApiKeyAuthenticator> {
        self.api_keys.as_ref()
    }

    /// The mTLS identity mapper, if enabled.
    pub fn mtls(&self) -> Option<&MtlsAuthenticator> {
        self.mtls.as_ref()
    }

    /// [`crate::credentials_from_request`] with this configuration's API-key header.
    pub fn credentials_from_request(
        &self,
        headers: &HeaderMap,
        uri: &Uri,
        client_cert_der: Option<Vec<u8>>,
    ) -> Result<Credentials, AuthError> {
        crate::extract::credentials_from_request(headers, uri, self.api_key_header(), client_cert_der)
    }

    fn present<'c>(&'c self, c: &'c Credentials) -> impl Iterator<Item = Kind> + 'c {
        self.kinds.iter().copied().filter(|k| match k {
            Kind::Bearer => c.bearer.is_some(),
            Kind::ApiKey => c.api_key.is_some(),
            Kind::ClientCert => c.client_cert_der.is_some(),
        })
    }

    /// Authenticate with the current secrets only.
    pub(crate) async fn authenticate_current(&self, c: &Credentials) -> Result<Arc<Principal>, AuthError> {
        let mut present = self.present(c);
        match (present.next(), present.next()) {
            (None, _) => {
                let disabled = (c.bearer.is_some() && !self.kinds.contains(&Kind::Bearer))
                    || (c.api_key.is_some() && !self.kinds.contains(&Kind::ApiKey));
                let reason = if disabled { FailureReason::MethodNotEnabled } else { FailureReason::MissingCredentials };
                Err(AuthError::Missing { reason })
            }
            (Some(one), None) => self.one(one, c).await,
            (Some(first), Some(second)) => match self.multiple {
                MultipleCredentials::Reject => {
                    Err(AuthError::BadRequest { reason: FailureReason::MultipleCredentials })
                }
                MultipleCredentials::First => self.one(first, c).await,
                MultipleCredentials::All => {
                    let principal = self.one(first, c).await?;
                    for k in std::iter::once(second).chain(present) {
                        self.one(k, c).await?;
                    }
                    Ok(principal)
                }
            },
        }
    }

    async fn one(&self, kind: Kind, c: &Credentials) -> Result<Arc<Principal>, AuthError> {
        let missing = || AuthError::Missing { reason: FailureReason::MissingCredentials };
        match kind {
            Kind::ApiKey => {
                let key = c.api_key.as_ref().ok_or_else(missing)?;
                self.api_keys.as_ref().ok_or_else(missing)?.verify(key.expose_secret())
            }
            Kind::ClientCert => {
                let der = c.client_cert_der.as_deref().ok_or_else(missing)?;
                self.mtls.as_ref().ok_or_else(missing)?.verify(der).map(Arc::new)
            }
            Kind::Bearer => {
                let token = c.bearer.as_ref().ok_or_else(missing)?.expose_secret();
                let principal = match (&self.jwt, &self.oauth) {
                    (Some(j), None) => j.verify(token),
                    (None, Some(o)) => o.verify(token).await,
                    (Some(j), Some(o)) => {
                        if token.len() > self.bearer_peek_limit {
                            return j.verify(token).map(Arc::new); // refused as too long before any parsing
                        }
                        let to_oauth = !jose::looks_like_jws(token)
                            || peek_issuer(token, self.bearer_peek_limit).as_deref() == Some(o.issuer());
                        if to_oauth { o.verify(token).await } else { j.verify(token) }
                    }
                    (None, None) => Err(missing()),
                };
                principal.map(Arc::new)
            }
        }
    }
}

impl Authenticator for CompositeAuthenticator {
    fn authenticate<'a>(
        &'a self,
        credentials: &'a Credentials,
        context: &'a AuthnContext,
    ) -> BoxFuture<'a, Result<Principal, BackendError>> {
        Box::pin(async move {
            self.authenticate_detailed(credentials, context)
                .await
                .map(Arc::unwrap_or_clone)
                .map_err(|e| e.to_backend_error())
        })
    }
}
