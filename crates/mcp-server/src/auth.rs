//! Authentication on the request path: credentials from the request, the configured
//! authenticator, and the HTTP answer (401 / 403 / 400 + `WWW-Authenticate`) when it refuses.

use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode, header};
use mcp_auth::{AuthError, CompositeAuthenticator, SecretGeneration};
use mcp_core::traits::AuthnContext;
use mcp_core::{ErrorKind, Principal, SecurityEvent, SecurityEventKind};
use mcp_protocol::{ErrorObject, codes};
use mcp_transport::{Body, IncomingRequest};

use crate::McpServer;

/// The `rule` of the security event recorded when a request is accepted with the previous
/// version of a rotated secret, during the grace period.
pub const PREVIOUS_SECRET_RULE: &str = "rotation:previous_secret";

/// The name of an authentication method as a shared string, made once per method (the
/// `authenticated` event of every request carries it).
fn method_name(m: mcp_core::AuthMethod) -> Arc<str> {
    use mcp_core::AuthMethod as M;
    static NAMES: std::sync::LazyLock<[Arc<str>; 6]> = std::sync::LazyLock::new(|| {
        [M::Anonymous, M::Stdio, M::ApiKey, M::Jwt, M::OAuth, M::Mtls].map(|m| Arc::from(m.as_str()))
    });
    let i = match m {
        M::Anonymous => 0,
        M::Stdio => 1,
        M::ApiKey => 2,
        M::Jwt => 3,
        M::OAuth => 4,
        M::Mtls => 5,
        _ => return Arc::from(m.as_str()),
    };
    NAMES[i].clone()
}

/// How a server authenticates callers.
#[derive(Clone)]
pub(crate) enum AuthMode {
    /// Every caller is anonymous. Only by explicit choice (`danger_allow_unauthenticated`).
    Unauthenticated,
    /// The configured authenticator; swapped when a secret it uses is rotated.
    Required(Arc<arc_swap::ArcSwap<CompositeAuthenticator>>),
}

impl std::fmt::Debug for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unauthenticated => f.write_str("Unauthenticated"),
            Self::Required(_) => f.write_str("Required"),
        }
    }
}

/// The HTTP status of an authentication refusal.
pub(crate) fn status_for(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::InsufficientScope | ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn message_for(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unauthenticated => "Unauthorized",
        ErrorKind::InsufficientScope | ErrorKind::Forbidden => "Forbidden: insufficient scope",
        ErrorKind::InvalidRequest => "Bad Request: malformed credentials",
        ErrorKind::Unavailable => "Authentication temporarily unavailable",
        _ => "Internal error",
    }
}

impl McpServer {
    /// Authenticate an HTTP request; on refusal, the complete answer to send.
    pub(crate) async fn authenticate_http(
        &self,
        req: &IncomingRequest,
        anonymous: &Arc<Principal>,
    ) -> Result<Arc<Principal>, Response<Body>> {
        let auth = match &self.0.auth {
            AuthMode::Unauthenticated => return Ok(anonymous.clone()),
            AuthMode::Required(a) => a.load(),
        };
        let cert = req.tls.as_ref().and_then(|t| t.client_cert_der.clone());
        let creds = match auth.credentials_from_request(&req.parts.headers, &req.parts.uri, cert) {
            Ok(c) => c,
            Err(e) => return Err(self.refuse(&auth, req, &e, false)),
        };
        let presented = creds.bearer.is_some();
        match auth.authenticate_with_generation(&creds, &AuthnContext::new(Some(req.peer))).await {
            Ok((mut p, generation)) => {
                if p.rate_class.is_none() {
                    let class = auth.rate_limit_class(&p).map(std::sync::Arc::from);
                    Arc::make_mut(&mut p).rate_class = class;
                }
                let mut e =
                    SecurityEvent::new(SecurityEventKind::Authenticated, "authenticated", std::time::SystemTime::now());
                e.principal = Some(p.id.clone());
                e.peer = Some(req.peer);
                e.method = Some(method_name(p.method));
                let _ = self.0.events.record(e);
                if generation == SecretGeneration::Previous {
                    // A straggler: audited (and logged at WARN) so that operators see who still
                    // uses the secret version that was rotated out.
                    let e = SecurityEvent::new(
                        SecurityEventKind::SecretAccess,
                        "credential accepted with the previous secret version (rotation grace period)",
                        std::time::SystemTime::now(),
                    )
                    .with_principal(p.id.clone())
                    .with_peer(Some(req.peer))
                    .with_method(p.method.as_str())
                    .with_rule(PREVIOUS_SECRET_RULE);
                    let _ = self.0.events.record(e);
                }
                Ok(p)
            }
            Err(e) => Err(self.refuse(&auth, req, &e, presented)),
        }
    }

    fn refuse(
        &self,
        auth: &CompositeAuthenticator,
        req: &IncomingRequest,
        e: &AuthError,
        token_presented: bool,
    ) -> Response<Body> {
        let _ = self.0.events.record(e.security_event(Some(req.peer), std::time::SystemTime::now()));
        let kind = e.kind();
        let status = status_for(kind);
        let body = mcp_protocol::encode_error(None, &ErrorObject::new(codes::SECURITY_REJECTED, message_for(kind)));
        let mut r = Response::new(Body::full(body));
        *r.status_mut() = status;
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for v in auth.challenge().for_error(e, token_presented) {
            r.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
        r
    }

    /// The `WWW-Authenticate` value of a 403 scope denial: `insufficient_scope`, every scope the
    /// operation needs, and the resource metadata URL.
    pub(crate) fn scope_challenge(&self, e: &ErrorObject) -> Option<HeaderValue> {
        let AuthMode::Required(auth) = &self.0.auth else { return None };
        let auth = auth.load();
        let scopes: Vec<&str> = e
            .data
            .as_ref()
            .and_then(|d| d.get("requiredScopes"))
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        Some(auth.challenge().bearer(Some("insufficient_scope"), Some(&scopes)))
    }

    /// Replace the authenticator (after a secret it uses was rotated); requests already being
    /// authenticated finish with the old one. False when the server runs without authentication.
    pub fn replace_authenticator(&self, auth: Arc<CompositeAuthenticator>) -> bool {
        match &self.0.auth {
            AuthMode::Required(a) => {
                a.store(auth);
                true
            }
            AuthMode::Unauthenticated => false,
        }
    }

    /// The RFC 9728 metadata document when `path` is one of its well-known paths.
    pub(crate) fn protected_resource_metadata(&self, path: &str) -> Option<Response<Body>> {
        let AuthMode::Required(auth) = &self.0.auth else { return None };
        let auth = auth.load();
        let meta = auth.protected_resource_metadata()?;
        if !meta.well_known_paths().iter().any(|p| p == path) {
            return None;
        }
        let mut r = Response::new(Body::full(meta.to_json()));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Some(r)
    }
}

/// An API key made on first start, to show once: (id, key).
pub type NewKey = (String, secrecy::SecretBox<str>);

impl crate::ServerBuilder {
    /// Set authentication from the configuration file: `[auth]` when present; else, with
    /// `danger.allow_unauthenticated`, none; else the data directory's API keys (created on first
    /// start, in which case the new key is returned to be shown once).
    pub async fn auth_from_config(self, cfg: &crate::Config) -> Result<(Self, Option<NewKey>), crate::ServerError> {
        if cfg.danger.allow_unauthenticated {
            tracing::warn!("danger.allow_unauthenticated is set: every caller is anonymous and may call every tool");
            return Ok((self.danger_allow_unauthenticated(), None));
        }
        let (auth, new_key) = authenticator_from_config(cfg, self.secrets.as_ref(), self.events.clone()).await?;
        Ok((self.authenticator(auth), new_key))
    }
}

/// The authenticator `[auth]` describes (or the data directory's API keys), with every secret it
/// references read now; `secrets` is the open store (opened from `cfg` when `None`). Also used to
/// rebuild it after a rotation.
pub async fn authenticator_from_config(
    cfg: &crate::Config,
    secrets_store: Option<&mcp_secrets::Secrets>,
    events: Arc<dyn mcp_core::traits::AuditSink>,
) -> Result<(Arc<CompositeAuthenticator>, Option<NewKey>), crate::ServerError> {
    {
        let to_err = |e: AuthError| crate::ServerError::Config(format!("authentication: {e}"));
        let (auth_cfg, mut secrets, new_key) = match &cfg.auth {
            Some(a) => {
                let mut secrets = mcp_auth::Secrets::new();
                let env_refs: Vec<_> =
                    a.secret_refs().into_iter().filter(|r| matches!(r, mcp_auth::SecretRef::Env(_))).collect();
                secrets.insert_from_env(env_refs).map_err(to_err)?;
                let store_refs: Vec<String> = a
                    .secret_refs()
                    .into_iter()
                    .filter_map(|r| match r {
                        mcp_auth::SecretRef::Secret(n) => Some(n.clone()),
                        mcp_auth::SecretRef::Env(_) => None,
                    })
                    .collect();
                if !store_refs.is_empty() {
                    let store = match secrets_store {
                        Some(s) => s.clone(),
                        None => crate::secrets::open(cfg).await?,
                    };
                    for name in store_refs {
                        let parsed = mcp_core::traits::SecretName::parse(&name).map_err(|_| {
                            crate::ServerError::Config(format!("authentication: invalid secret name {name:?}"))
                        })?;
                        let value = store.get(&parsed).await.map_err(|e| {
                            crate::ServerError::Config(format!(
                                "authentication: secret {name:?}: {e} (store it with: mcp-server secrets set {name})"
                            ))
                        })?;
                        secrets.insert(mcp_auth::SecretRef::Secret(name), value);
                    }
                }
                (a.clone(), secrets, None)
            }
            None => {
                let dir = crate::bootstrap::expand(&cfg.server.data_dir);
                let b = crate::bootstrap::load(&dir)?;
                let mut secrets = mcp_auth::Secrets::new();
                secrets.insert(mcp_auth::SecretRef::Secret(crate::bootstrap::PEPPER_REF.into()), b.pepper);
                (b.config, secrets, b.new_key)
            }
        };
        let on_mismatch: mcp_transport::outbound::PinMismatchHook = Arc::new(move |_host: &str| {
            let e = SecurityEvent::new(
                SecurityEventKind::TransportRejected,
                "outbound certificate pin mismatch",
                std::time::SystemTime::now(),
            );
            let _ = events.record(e);
        });
        let tls = mcp_transport::outbound::client_config(&cfg.outbound_tls, Some(on_mismatch))
            .map_err(|e| crate::ServerError::Config(format!("outbound_tls: {e}")))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            // Tokens and client secrets must not leave through a proxy named by the environment.
            .no_proxy()
            .build()
            .map_err(|e| crate::ServerError::Config(format!("outbound HTTP client: {e}")))?;
        let auth = CompositeAuthenticator::builder(auth_cfg)
            .secrets(std::mem::take(&mut secrets))
            .http_client(http)
            .build()
            .map_err(to_err)?;
        auth.warm_up().await.map_err(to_err)?;
        Ok((Arc::new(auth), new_key))
    }
}
