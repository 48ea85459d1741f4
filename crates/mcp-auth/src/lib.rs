//! Authentication for mcp-secure: JWT, OAuth 2.1 / OIDC resource server, API keys and
//! mutual-TLS identity mapping behind one [`mcp_core::traits::Authenticator`].
//!
//! Wiring it into a server (see `docs/authentication.md`):
//!
//! ```no_run
//! # async fn wire(config: mcp_auth::AuthConfig, headers: http::HeaderMap, uri: http::Uri) -> Result<(), mcp_auth::AuthError> {
//! use mcp_auth::{CompositeAuthenticator, Secrets};
//! use mcp_core::traits::AuthnContext;
//!
//! // 1. resolve secret references (env here; `{ secret = ... }` from the secret store)
//! let mut secrets = Secrets::new();
//! secrets.insert_from_env(config.secret_refs())?;
//! // 2. build once at startup, fetch OAuth metadata + JWKS
//! let auth = CompositeAuthenticator::builder(config).secrets(secrets).build()?;
//! auth.warm_up().await?;
//! // 3. per request
//! let creds = auth.credentials_from_request(&headers, &uri, None)?;
//! match auth.authenticate_detailed(&creds, &AuthnContext::new(None)).await {
//!     Ok(principal) => { /* request extensions */ }
//!     Err(e) => {
//!         let status_kind = e.kind(); // → the server's one error table
//!         let challenges = auth.challenge().for_error(&e, creds.bearer.is_some()); // WWW-Authenticate
//!         let event = e.security_event(None, std::time::SystemTime::now()); // precise reason
//! #       let _ = (status_kind, challenges, event);
//!     }
//! }
//! # Ok(()) }
//! ```

mod api_key;
mod cache;
mod challenge;
mod claim_path;
mod composite;
mod config;
mod error;
mod extract;
mod jose;
mod jwt;
mod metadata;
mod mtls;
mod oauth;
mod rotation;
mod secrets;
mod url;

pub use api_key::{
    API_KEY_PREFIX, ApiKeyAuthenticator, DIGEST_PREFIX, MIN_PEPPER_LEN, NewApiKey, digest_api_key, generate_api_key,
    generate_pepper,
};
pub use challenge::Challenge;
pub use claim_path::ClaimPaths;
pub use composite::{AuthBuilder, CompositeAuthenticator};
pub use config::{
    ApiKeyEntry, ApiKeysConfig, AuthConfig, ClaimMapping, DiscoveryMode, IdentitySource, IntrospectionConfig,
    JwtConfig, JwtKeyConfig, MethodName, MtlsConfig, MtlsIdentity, MultipleCredentials, OAuthConfig, SecretRef,
    UnmappedCertificates,
};
pub use error::{AuthError, FailureReason};
pub use extract::{api_key, bearer_token, credentials_from_request, reject_token_in_query};
pub use jose::Algorithm;
pub use jwt::JwtAuthenticator;
pub use metadata::{ProtectedResourceMetadata, WELL_KNOWN as PROTECTED_RESOURCE_WELL_KNOWN, metadata_url};
pub use mtls::{CertIdentity, MtlsAuthenticator, cert_identity};
pub use oauth::fetch::{FetchError, HttpFetch, HttpResponse, ReqwestFetch};
pub use oauth::{OAuthAuthenticator, OAuthStats};
pub use rotation::SecretGeneration;
pub use secrets::Secrets;
