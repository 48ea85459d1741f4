//! `[auth]` configuration: typed, `deny_unknown_fields`, checked once at construction.
//!
//! The server embeds [`AuthConfig`] under `[auth]` in its TOML file. Secrets never appear as
//! literals: HMAC secrets, the API-key pepper and the introspection client secret are
//! [`SecretRef`]s (`{ env = "NAME" }` or `{ secret = "store/name" }`) that the server resolves
//! and hands to [`crate::AuthBuilder::secret`].

use std::path::PathBuf;

use serde::Deserialize;

use crate::claim_path::ClaimPaths;
use crate::error::AuthError;
use crate::jose::Algorithm;
use crate::jose::mapping::ClaimPlan;

/// A credential kind / authentication method, as named in `methods`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodName {
    /// Self-issued / pre-shared-key JWTs (`[auth.jwt]`).
    Jwt,
    /// API keys in a header (`[auth.api_keys]`).
    ApiKey,
    /// OAuth 2.1 access tokens from an authorization server (`[auth.oauth]`).
    Oauth,
    /// Client certificates verified by the TLS layer (`[auth.mtls]`).
    Mtls,
}

impl MethodName {
    /// The config spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::ApiKey => "api_key",
            Self::Oauth => "oauth",
            Self::Mtls => "mtls",
        }
    }
}

/// What to do when a request carries credentials of more than one enabled kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultipleCredentials {
    /// Refuse the request (400 `invalid_request`, reason `multiple_credentials`). Default.
    #[default]
    Reject,
    /// Authenticate with the first kind in `methods` order; the others are ignored.
    First,
    /// Every presented credential must verify; the principal comes from the first in `methods`
    /// order.
    All,
}

/// Where a secret comes from. The server resolves it; this crate only receives the bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// An environment variable holding the secret.
    Env(String),
    /// A name in the configured secret store.
    Secret(String),
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Env(n) => write!(f, "env:{n}"),
            Self::Secret(n) => write!(f, "secret:{n}"),
        }
    }
}

/// `[auth]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Enabled methods, in the order used when several credential kinds are presented.
    pub methods: Vec<MethodName>,
    /// This server's resource URI (RFC 8707 / RFC 9728), e.g. `https://mcp.example.com/mcp`.
    /// Required when `jwt` or `oauth` is enabled: it is the audience tokens must carry.
    #[serde(default)]
    pub resource: Option<String>,
    /// Policy for requests carrying several credential kinds.
    #[serde(default)]
    pub multiple_credentials: MultipleCredentials,
    /// `[auth.jwt]`.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// `[auth.api_keys]`.
    #[serde(default)]
    pub api_keys: Option<ApiKeysConfig>,
    /// `[auth.oauth]`.
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
    /// `[auth.mtls]`.
    #[serde(default)]
    pub mtls: Option<MtlsConfig>,
}

/// Which claims carry identity and grants (JWT and OAuth).
///
/// Every setting is a claim path (see [`ClaimPaths`]): a claim name, or names joined by `.` to
/// reach into nested objects (`realm_access.roles`); `\.` is a literal dot in a name. The
/// list-valued settings take one path or a list; the principal gets the union of all of them.
/// Values are a string (split at spaces) or an array of strings; other values are ignored, and
/// at most 256 roles (groups included), permissions and scopes are taken from one token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMapping {
    /// Path of the claim holding the principal id. Default `sub` (OAuth falls back to the
    /// top-level `client_id`). Present but not a string: the token is refused.
    #[serde(default = "default_principal_claim")]
    pub principal: String,
    /// Claims holding roles. Default `roles`.
    #[serde(default = "default_roles_claim")]
    pub roles: ClaimPaths,
    /// Claims holding group names; each group becomes a role of the same name (group `admins`
    /// grants what role `admins` grants). Default none.
    #[serde(default)]
    pub groups: ClaimPaths,
    /// Claims holding permissions (`segment(:segment)*`; malformed entries are skipped).
    /// Default `permissions`.
    #[serde(default = "default_permissions_claim")]
    pub permissions: ClaimPaths,
    /// Claims holding OAuth scopes (RFC 6749 scope tokens; others are skipped).
    /// Default `["scope", "scp"]`.
    #[serde(default = "default_scopes_claims")]
    pub scopes: ClaimPaths,
    /// Claim holding the principal's rate-limit class (`[A-Za-z0-9_.-]{1,64}`; anything else
    /// is ignored). Default none: the server's default class applies.
    #[serde(default)]
    pub rate_class: Option<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            principal: default_principal_claim(),
            roles: default_roles_claim(),
            groups: ClaimPaths::none(),
            permissions: default_permissions_claim(),
            scopes: default_scopes_claims(),
            rate_class: None,
        }
    }
}

/// `[auth.jwt]`: tokens signed with keys configured here.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Accepted audiences; default `[auth.resource]`.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Accepted algorithms, pinned here and never taken from the token.
    pub algorithms: Vec<Algorithm>,
    /// Verification keys.
    pub keys: Vec<JwtKeyConfig>,
    /// Clock leeway for `exp`, `nbf`, `iat`, seconds. Default 30, at most 300.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// Maximum token lifetime `exp - iat`, seconds. Default 3600.
    #[serde(default = "default_jwt_ttl")]
    pub max_token_ttl_secs: u64,
    /// Tokens longer than this are refused before parsing. Default 8192, at most 65536.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Verified-token cache entries. Default 10000; 0 disables the cache.
    #[serde(default = "default_cache_capacity")]
    pub cache_capacity: usize,
    /// Claim names.
    #[serde(default)]
    pub claims: ClaimMapping,
}

/// One JWT verification key: exactly one of `hmac_secret`, `public_key_pem`, `public_key_file`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeyConfig {
    /// Key id; tokens naming a `kid` must match it.
    #[serde(default)]
    pub kid: Option<String>,
    /// Algorithms this key may verify (subset of `jwt.algorithms`); default all of
    /// `jwt.algorithms` of the key's family.
    #[serde(default)]
    pub algorithms: Vec<Algorithm>,
    /// HMAC secret (HS*), at least 32 bytes (48 for HS384, 64 for HS512).
    #[serde(default)]
    pub hmac_secret: Option<SecretRef>,
    /// SPKI public key (`-----BEGIN PUBLIC KEY-----`), RSA ≥ 2048 bits, P-256, P-384 or Ed25519.
    #[serde(default)]
    pub public_key_pem: Option<String>,
    /// File holding such a PEM.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
}

/// `[auth.api_keys]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// Header carrying the key. Default `X-API-Key`.
    #[serde(default = "default_api_key_header")]
    pub header: String,
    /// Server pepper: the HMAC key of the stored digests, at least 32 bytes.
    pub pepper: SecretRef,
    /// The keys.
    #[serde(default)]
    pub keys: Vec<ApiKeyEntry>,
}

/// One API key: its id and digest, never the key.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyEntry {
    /// Key id: the principal id in logs and audit. `[A-Za-z0-9_.-]{1,64}`.
    pub id: String,
    /// `hmac-sha256:<base64url>` of the key under the pepper.
    pub digest: String,
    /// Permissions granted directly.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Roles granted.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Rate-limit class for the server's limiter. Default `default`.
    #[serde(default = "default_rate_class")]
    pub rate_limit_class: String,
}

/// Which metadata document to discover the issuer from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryMode {
    /// RFC 8414 first, then OpenID Connect Discovery. Default.
    #[default]
    Auto,
    /// RFC 8414 `/.well-known/oauth-authorization-server` only.
    Oauth,
    /// OIDC `/.well-known/openid-configuration` only.
    Oidc,
    /// No discovery: `jwks_uri` (and `introspection.endpoint`) must be set.
    None,
}

/// `[auth.oauth]`: an OAuth 2.1 / OIDC resource server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// The authorization server's issuer identifier (exact string; https, or http on loopback).
    pub issuer: String,
    /// Metadata discovery.
    #[serde(default)]
    pub discovery: DiscoveryMode,
    /// JWKS URI override (required with `discovery = "none"`).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Accepted signature algorithms. Default `["RS256", "ES256"]`. HS* are refused here.
    #[serde(default = "default_oauth_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// Scopes every token must carry (403 `insufficient_scope` otherwise).
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// `scopes_supported` of the protected resource metadata; default `required_scopes`.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Require JOSE `typ` `at+jwt` (RFC 9068). Default false (many issuers send `JWT`).
    #[serde(default)]
    pub require_at_jwt_typ: bool,
    /// Clock leeway, seconds. Default 30, at most 300.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// Maximum token lifetime `exp - iat`, seconds. Default 86400.
    #[serde(default = "default_oauth_ttl")]
    pub max_token_ttl_secs: u64,
    /// Tokens longer than this are refused before parsing. Default 8192, at most 65536.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Verified-token cache entries. Default 10000; 0 disables the cache.
    #[serde(default = "default_cache_capacity")]
    pub cache_capacity: usize,
    /// At most one JWKS (or metadata) fetch per this many seconds, whatever the traffic.
    /// Default 30.
    #[serde(default = "default_refresh_min")]
    pub jwks_refresh_min_interval_secs: u64,
    /// Refresh the JWKS in the background after this many seconds. Default 3600.
    #[serde(default = "default_jwks_max_age")]
    pub jwks_max_age_secs: u64,
    /// Timeout of each outbound call, seconds. Default 5.
    #[serde(default = "default_http_timeout")]
    pub http_timeout_secs: u64,
    /// Largest metadata / JWKS / introspection body accepted, bytes. Default 262144.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Claim names.
    #[serde(default)]
    pub claims: ClaimMapping,
    /// RFC 7662 introspection for opaque (non-JWT) tokens.
    #[serde(default)]
    pub introspection: Option<IntrospectionConfig>,
    /// `resource_name` of the protected resource metadata.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// `resource_documentation` of the protected resource metadata.
    #[serde(default)]
    pub resource_documentation: Option<String>,
}

/// `[auth.oauth.introspection]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// Endpoint override; default the metadata's `introspection_endpoint`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// This resource server's client id at the authorization server.
    pub client_id: String,
    /// Its client secret (`client_secret_basic`).
    pub client_secret: SecretRef,
    /// Cache an active answer at most this long (and never past `exp`), seconds. Default 300.
    #[serde(default = "default_introspection_cache")]
    pub cache_max_secs: u64,
    /// Cache an `active: false` answer this long, seconds. Default 30.
    #[serde(default = "default_negative_cache")]
    pub negative_cache_secs: u64,
    /// Concurrent introspection calls at most. Default 8.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
}

/// An identity that may name a certificate's principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// The SPIFFE id (a `spiffe://` URI SAN).
    Spiffe,
    /// The first other URI SAN.
    Uri,
    /// The first DNS SAN.
    Dns,
    /// The subject common name.
    CommonName,
}

/// What to do with a verified certificate that matches no identity rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnmappedCertificates {
    /// Refuse it. Default.
    #[default]
    Reject,
    /// Accept it with no roles or permissions, named by `principal_from`.
    Allow,
}

/// `[auth.mtls]`: identity mapping for client certificates the TLS layer has verified.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsConfig {
    /// Identity rules, first match wins.
    #[serde(default)]
    pub identities: Vec<MtlsIdentity>,
    /// Certificates matching no rule.
    #[serde(default)]
    pub unmapped: UnmappedCertificates,
    /// Order in which a certificate's identities name its principal when the matching rule has
    /// no `id`. Default `["spiffe", "uri", "dns", "common_name"]`.
    #[serde(default = "default_principal_from")]
    pub principal_from: Vec<IdentitySource>,
    /// Re-check the certificate's validity period here (the TLS layer already did). Default true.
    #[serde(default = "default_true")]
    pub check_validity: bool,
}

/// One identity rule: exactly one matcher (`spiffe_id`, `spiffe_trust_domain`, `dns_name`,
/// `uri`, `common_name`) plus what it grants.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsIdentity {
    /// Exact SPIFFE id, e.g. `spiffe://example.org/ns/prod/sa/agent`.
    #[serde(default)]
    pub spiffe_id: Option<String>,
    /// Any SPIFFE id in this trust domain, e.g. `example.org`.
    #[serde(default)]
    pub spiffe_trust_domain: Option<String>,
    /// Exact DNS SAN (case-insensitive).
    #[serde(default)]
    pub dns_name: Option<String>,
    /// Exact URI SAN.
    #[serde(default)]
    pub uri: Option<String>,
    /// Exact subject CN.
    #[serde(default)]
    pub common_name: Option<String>,
    /// Principal id; default the matched identity.
    #[serde(default)]
    pub id: Option<String>,
    /// Roles granted.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Permissions granted directly.
    #[serde(default)]
    pub permissions: Vec<String>,
}

fn default_principal_claim() -> String {
    "sub".into()
}
fn default_roles_claim() -> ClaimPaths {
    "roles".into()
}
fn default_permissions_claim() -> ClaimPaths {
    "permissions".into()
}
fn default_scopes_claims() -> ClaimPaths {
    ClaimPaths::new(["scope", "scp"])
}
const fn default_leeway() -> u64 {
    30
}
const fn default_jwt_ttl() -> u64 {
    3600
}
const fn default_oauth_ttl() -> u64 {
    86_400
}
const fn default_max_token_bytes() -> usize {
    8192
}
const fn default_cache_capacity() -> usize {
    10_000
}
fn default_api_key_header() -> String {
    "X-API-Key".into()
}
fn default_rate_class() -> String {
    "default".into()
}
fn default_oauth_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::RS256, Algorithm::ES256]
}
const fn default_refresh_min() -> u64 {
    30
}
const fn default_jwks_max_age() -> u64 {
    3600
}
const fn default_http_timeout() -> u64 {
    5
}
const fn default_max_response_bytes() -> usize {
    256 * 1024
}
const fn default_introspection_cache() -> u64 {
    300
}
const fn default_negative_cache() -> u64 {
    30
}
const fn default_max_concurrent() -> usize {
    8
}
fn default_principal_from() -> Vec<IdentitySource> {
    vec![IdentitySource::Spiffe, IdentitySource::Uri, IdentitySource::Dns, IdentitySource::CommonName]
}
const fn default_true() -> bool {
    true
}

/// Hard ceilings on configurable bounds.
pub(crate) const MAX_LEEWAY_SECS: u64 = 300;
pub(crate) const MAX_TOKEN_BYTES_CEILING: usize = 65_536;

impl AuthConfig {
    /// Every secret reference the server must resolve before [`crate::AuthBuilder::build`].
    pub fn secret_refs(&self) -> Vec<&SecretRef> {
        let mut out = Vec::new();
        if let Some(jwt) = &self.jwt {
            out.extend(jwt.keys.iter().filter_map(|k| k.hmac_secret.as_ref()));
        }
        if let Some(keys) = &self.api_keys {
            out.push(&keys.pepper);
        }
        if let Some(i) = self.oauth.as_ref().and_then(|o| o.introspection.as_ref()) {
            out.push(&i.client_secret);
        }
        out
    }

    /// True when `method` is listed in `methods`.
    pub fn enabled(&self, method: MethodName) -> bool {
        self.methods.contains(&method)
    }

    /// Structural checks: methods listed once, each with its section and each section listed,
    /// bounds within their ceilings. Key material is checked when authenticators are built.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.methods.is_empty() {
            return Err(AuthError::config("auth.methods is empty: enable at least one method"));
        }
        for (i, m) in self.methods.iter().enumerate() {
            if self.methods[..i].contains(m) {
                return Err(AuthError::config(format!("auth.methods lists {:?} twice", m.as_str())));
            }
        }
        let sections = [
            (MethodName::Jwt, self.jwt.is_some(), "jwt"),
            (MethodName::ApiKey, self.api_keys.is_some(), "api_keys"),
            (MethodName::Oauth, self.oauth.is_some(), "oauth"),
            (MethodName::Mtls, self.mtls.is_some(), "mtls"),
        ];
        for (method, present, section) in sections {
            match (self.enabled(method), present) {
                (true, false) => {
                    return Err(AuthError::config(format!(
                        "auth.methods enables {:?} but [auth.{section}] is missing",
                        method.as_str()
                    )));
                }
                (false, true) => {
                    return Err(AuthError::config(format!(
                        "[auth.{section}] is present but {:?} is not in auth.methods",
                        method.as_str()
                    )));
                }
                _ => {}
            }
        }
        if (self.enabled(MethodName::Jwt) || self.enabled(MethodName::Oauth)) && self.resource.is_none() {
            return Err(AuthError::config("auth.resource (this server's resource URI) is required for jwt and oauth"));
        }
        if let Some(r) = &self.resource {
            crate::url::check_resource_uri(r).map_err(|e| AuthError::config(format!("auth.resource: {e}")))?;
        }
        if let Some(j) = &self.jwt {
            check_bounds("auth.jwt", j.leeway_secs, j.max_token_bytes)?;
            ClaimPlan::new(&j.claims, "auth.jwt")?;
        }
        if let Some(o) = &self.oauth {
            check_bounds("auth.oauth", o.leeway_secs, o.max_token_bytes)?;
            ClaimPlan::new(&o.claims, "auth.oauth")?;
        }
        Ok(())
    }
}

pub(crate) fn check_bounds(section: &str, leeway: u64, max_bytes: usize) -> Result<(), AuthError> {
    if leeway > MAX_LEEWAY_SECS {
        return Err(AuthError::config(format!("{section}.leeway_secs is at most {MAX_LEEWAY_SECS}")));
    }
    if !(256..=MAX_TOKEN_BYTES_CEILING).contains(&max_bytes) {
        return Err(AuthError::config(format!("{section}.max_token_bytes must be in 256..={MAX_TOKEN_BYTES_CEILING}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<AuthConfig, toml::de::Error> {
        toml::from_str(s)
    }

    #[test]
    fn full_example_parses_with_defaults() {
        let c = parse(
            r#"
            methods = ["api_key", "oauth", "jwt", "mtls"]
            resource = "https://mcp.example.com/mcp"
            [jwt]
            issuer = "https://mcp.example.com"
            algorithms = ["HS256", "EdDSA"]
            keys = [{ kid = "k1", hmac_secret = { env = "MCP_JWT_SECRET" } }]
            [api_keys]
            pepper = { secret = "auth/pepper" }
            [[api_keys.keys]]
            id = "client-1"
            digest = "hmac-sha256:AAAA"
            permissions = ["tools"]
            [oauth]
            issuer = "https://as.example.com"
            required_scopes = ["mcp:tools"]
            [oauth.introspection]
            client_id = "rs"
            client_secret = { env = "RS_SECRET" }
            [mtls]
            identities = [{ spiffe_trust_domain = "example.org", roles = ["agent"] }]
            "#,
        )
        .unwrap();
        c.validate().unwrap();
        let jwt = c.jwt.as_ref().unwrap();
        assert_eq!(jwt.leeway_secs, 30);
        assert_eq!(jwt.max_token_bytes, 8192);
        assert_eq!(jwt.claims.principal, "sub");
        assert_eq!(jwt.claims.roles, "roles");
        assert!(jwt.claims.groups.is_empty());
        assert_eq!(jwt.claims.permissions, "permissions");
        assert_eq!(jwt.claims.scopes.paths(), ["scope", "scp"]);
        assert_eq!(jwt.claims.rate_class, None);
        let oauth = c.oauth.as_ref().unwrap();
        assert_eq!(oauth.algorithms, vec![Algorithm::RS256, Algorithm::ES256]);
        assert_eq!(oauth.jwks_refresh_min_interval_secs, 30);
        assert_eq!(c.api_keys.as_ref().unwrap().header, "X-API-Key");
        assert_eq!(c.api_keys.as_ref().unwrap().keys[0].rate_limit_class, "default");
        assert_eq!(c.mtls.as_ref().unwrap().principal_from.len(), 4);
        assert_eq!(c.secret_refs().len(), 3);
        assert_eq!(c.multiple_credentials, MultipleCredentials::Reject);
    }

    #[test]
    fn unknown_keys_and_literal_secrets_are_refused() {
        assert!(parse("methods = [\"jwt\"]\nbogus = 1").is_err());
        let literal = r#"
            methods = ["api_key"]
            [api_keys]
            pepper = "plain-text-secret"
        "#;
        assert!(parse(literal).is_err(), "a secret must be a reference, never a literal");
        assert!(parse("methods = [\"password\"]").is_err());
    }

    #[test]
    fn sections_and_methods_must_agree() {
        let c = parse("methods = [\"mtls\"]").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("[auth.mtls] is missing"));
        let c = parse("methods = [\"mtls\"]\n[mtls]\n[api_keys]\npepper = { env = \"P\" }").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("not in auth.methods"));
        let c = parse("methods = [\"mtls\", \"mtls\"]\n[mtls]").unwrap();
        assert!(c.validate().is_err());
        let c = parse("methods = []").unwrap();
        assert!(c.validate().is_err());
        let c = parse("methods = [\"oauth\"]\n[oauth]\nissuer = \"https://as.example.com\"").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("auth.resource"));
    }

    #[test]
    fn claim_paths_take_a_string_or_a_list_and_are_checked_by_validate() {
        let base = "methods = [\"oauth\"]\nresource = \"https://m.example/mcp\"\n[oauth]\nissuer = \"https://as.example.com\"\n[oauth.claims]\n";
        let c = parse(&format!(
            "{base}roles = \"role\"\ngroups = [\"groups\", \"realm_access.groups\"]\npermissions = []\nscopes = \"scp\"\nrate_class = \"tier\""
        ))
        .unwrap();
        c.validate().unwrap();
        let m = &c.oauth.as_ref().unwrap().claims;
        assert_eq!(m.roles, "role");
        assert_eq!(m.groups.paths(), ["groups", "realm_access.groups"]);
        assert!(m.permissions.is_empty());
        assert_eq!(m.rate_class.as_deref(), Some("tier"));
        let bad = parse(&format!("{base}roles = [\"realm_access..roles\"]")).unwrap();
        assert!(bad.validate().unwrap_err().to_string().contains("auth.oauth.claims.roles"));
        assert!(parse(&format!("{base}roles = 1")).is_err());
    }

    #[test]
    fn bounds_are_enforced() {
        let c = parse(
            "methods = [\"oauth\"]\nresource = \"https://m.example/mcp\"\n[oauth]\nissuer = \"https://as.example.com\"\nleeway_secs = 3600",
        )
        .unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("leeway"));
        let c = parse(
            "methods = [\"oauth\"]\nresource = \"https://m.example/mcp\"\n[oauth]\nissuer = \"https://as.example.com\"\nmax_token_bytes = 10000000",
        )
        .unwrap();
        assert!(c.validate().is_err());
        let c = parse("methods = [\"mtls\"]\nresource = \"ftp://x/y\"\n[mtls]").unwrap();
        assert!(c.validate().is_err());
    }
}
