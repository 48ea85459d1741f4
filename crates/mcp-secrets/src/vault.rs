//! `vault`: HashiCorp Vault / OpenBao KV v2 through `vaultrs`, with AppRole login.
//!
//! - The role_id and secret_id are read from the environment variables *named* in the config;
//!   the config file never holds them.
//! - The token is renewed once two thirds of its lease have passed; when renewal fails, is
//!   refused, or no longer extends the lease (the token's max TTL is near), the store logs in
//!   again. A request answered with 403 checks whether the token is still valid; if not it logs in
//!   again and retries once, otherwise the 403 is a policy denial.
//! - Each secret is one KV v2 path `<mount>/data/<prefix>/<name>` holding `{"value": "<utf-8>"}`
//!   (or `{"value_base64": "..."}` for binary values); versions are KV v2 versions.
//! - TLS: by default the system roots plus `ca_cert_path`; or, with
//!   [`VaultStore::connect_with_tls`] / [`crate::BuildOptions::vault_tls`], a `rustls`
//!   `ClientConfig` from the caller (the server passes its `[outbound_tls]` policy: roots, CA,
//!   SPKI pins, minimum version). A refused handshake is [`SecretsError::Tls`].

mod transport;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcp_core::BoxFuture;
use mcp_core::traits::SecretName;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::Serialize;
use vaultrs::api::kv2::requests::ReadSecretRequest;
use vaultrs::api::kv2::responses::ReadSecretResponse;
use vaultrs::client::{Client, VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;
use zeroize::Zeroizing;

use crate::config::{EnvLookup, VaultConfig, check_prefix, join_prefix};
use crate::error::SecretsError;
use crate::store::{
    VersionId, VersionInfo, VersionSelector, Versioned, VersionedSecretStore, check_value, secret_from,
};

const BACKEND: &str = "vault";
/// Most names [`VaultStore::names`] collects before refusing (a bound on a runaway listing).
const MAX_LIST: usize = 100_000;

/// AppRole credentials. `Debug` redacts them.
pub struct AppRoleCredentials {
    /// role_id.
    pub role_id: SecretString,
    /// secret_id.
    pub secret_id: SecretString,
}

impl fmt::Debug for AppRoleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppRoleCredentials([REDACTED])")
    }
}

impl AppRoleCredentials {
    /// Read both from the environment variables named in `cfg`.
    pub fn from_env(cfg: &VaultConfig, env: EnvLookup<'_>) -> Result<Self, SecretsError> {
        let get = |var: &str| {
            env(var).filter(|v| !v.trim().is_empty()).map(SecretString::from).ok_or_else(|| SecretsError::Env {
                var: var.to_owned(),
                problem: "is not set: export the AppRole credential (the config names the variable, never the value)",
            })
        };
        Ok(Self { role_id: get(&cfg.role_id_env)?, secret_id: get(&cfg.secret_id_env)? })
    }
}

struct Session {
    client: VaultClient,
    /// When the token expires.
    expires: Instant,
    /// When to renew.
    renew_at: Instant,
    /// Lease granted at login, to notice renewals that no longer extend it.
    login_lease: Duration,
    renewable: bool,
}

struct Inner {
    cfg: VaultConfig,
    creds: AppRoleCredentials,
    /// The HTTP client built from the caller's TLS policy, shared by every session.
    http: Option<reqwest::Client>,
    session: std::sync::RwLock<Option<Arc<Session>>>,
    auth_lock: tokio::sync::Mutex<()>,
    logins: AtomicU64,
    renewals: AtomicU64,
}

/// The Vault / OpenBao store. Cheap to clone.
#[derive(Clone)]
pub struct VaultStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for VaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultStore")
            .field("address", &self.inner.cfg.address)
            .field("mount", &self.inner.cfg.mount)
            .field("namespace", &self.inner.cfg.namespace)
            .field("prefix", &self.inner.cfg.prefix)
            .finish_non_exhaustive()
    }
}

/// Login and renewal counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Successful AppRole logins.
    pub logins: u64,
    /// Successful token renewals.
    pub renewals: u64,
}

fn check_address(addr: &str) -> Result<(), SecretsError> {
    let rest = addr.strip_prefix("https://").or_else(|| addr.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        let host = r.split('/').next().unwrap_or("");
        !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
    });
    if !ok {
        return Err(SecretsError::Config(format!(
            "vault.address '{addr}' must be an http:// or https:// URL such as https://vault.internal:8200"
        )));
    }
    Ok(())
}

/// Parse the RFC 3339 UTC timestamps Vault returns (`2024-05-01T10:20:30.123456Z`).
pub(crate) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let mut nanos = 0u32;
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut n: u64 = frac[..digits.min(9)].parse().ok()?;
        for _ in digits.min(9)..9 {
            n *= 10;
        }
        nanos = n as u32;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o.get(1..3)?.parse::<i64>().ok()? * 3600 + o.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // days from civil (Howard Hinnant's algorithm)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

fn api_code(e: &ClientError) -> Option<u16> {
    match e {
        ClientError::APIError { code, .. } => Some(*code),
        _ => None,
    }
}

impl VaultStore {
    /// Read the AppRole credentials from the environment variables named in `cfg`, log in, and
    /// return the store. Fails fast on a wrong address, refused credentials or missing variables.
    pub async fn connect(cfg: &VaultConfig, env: EnvLookup<'_>) -> Result<Self, SecretsError> {
        let creds = AppRoleCredentials::from_env(cfg, env)?;
        Self::connect_with(cfg, creds).await
    }

    /// [`connect`](Self::connect) with explicit credentials.
    pub async fn connect_with(cfg: &VaultConfig, creds: AppRoleCredentials) -> Result<Self, SecretsError> {
        Self::connect_with_options(cfg, creds, None).await
    }

    /// [`connect`](Self::connect) verifying the server with `tls` when given: a ready rustls
    /// client config carrying the trusted roots, SPKI pins and minimum protocol version (in
    /// mcp-server, `mcp_transport::outbound::client_config(&cfg.outbound_tls, hook)`). It then
    /// decides trust alone, so `ca_cert_path` must not be set as well (put that CA in the
    /// policy). A handshake the policy refuses, such as a pin mismatch, fails with
    /// [`SecretsError::Tls`] carrying the verifier's message.
    pub async fn connect_with_tls(
        cfg: &VaultConfig,
        env: EnvLookup<'_>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, SecretsError> {
        let creds = AppRoleCredentials::from_env(cfg, env)?;
        Self::connect_with_options(cfg, creds, tls).await
    }

    /// [`connect_with_tls`](Self::connect_with_tls) with explicit credentials.
    pub async fn connect_with_options(
        cfg: &VaultConfig,
        creds: AppRoleCredentials,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, SecretsError> {
        check_address(&cfg.address)?;
        if tls.is_some() && cfg.ca_cert_path.is_some() {
            return Err(SecretsError::Config(
                "vault.ca_cert_path cannot be combined with the outbound TLS policy the server passes: add that CA to the policy (outbound_tls.ca_path) and remove vault.ca_cert_path".into(),
            ));
        }
        if tls.is_some() && cfg.address.starts_with("http://") {
            tracing::warn!(address = %cfg.address, "vault.address is plain http: the outbound TLS policy (pins, CA) does not apply");
        }
        check_prefix("vault", &cfg.prefix)?;
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(SecretsError::Config(
                "no rustls CryptoProvider is installed: call rustls::crypto::ring::default_provider().install_default() once at startup"
                    .into(),
            ));
        }
        let http = match &tls {
            Some(t) => Some(transport::http_client(t, Duration::from_secs(cfg.timeout_secs))?),
            None => None,
        };
        let store = Self {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                creds,
                http,
                session: std::sync::RwLock::new(None),
                auth_lock: tokio::sync::Mutex::new(()),
                logins: AtomicU64::new(0),
                renewals: AtomicU64::new(0),
            }),
        };
        store.session(true).await?;
        Ok(store)
    }

    /// Login and renewal counters.
    pub fn auth_stats(&self) -> AuthStats {
        AuthStats {
            logins: self.inner.logins.load(Ordering::Relaxed),
            renewals: self.inner.renewals.load(Ordering::Relaxed),
        }
    }

    fn new_client(&self, token: &str) -> Result<VaultClient, SecretsError> {
        let cfg = &self.inner.cfg;
        let mut b = VaultClientSettingsBuilder::default();
        b.address(&cfg.address)
            .token(token)
            .verify(true)
            .ca_certs(cfg.ca_cert_path.iter().map(|p| p.display().to_string()).collect())
            .timeout(Some(Duration::from_secs(cfg.timeout_secs)));
        if let Some(ns) = &cfg.namespace {
            b.set_namespace(ns.clone());
        }
        let settings = b.build().map_err(|e| SecretsError::Config(format!("vault client settings: {e}")))?;
        let mut client = VaultClient::new(settings).map_err(|e| SecretsError::Config(format!("vault client: {e}")))?;
        // vaultrs has no setting for a TLS config, but its HTTP client is a public field: swap
        // in the one built from the caller's policy (same base URL, token and namespace
        // middleware as vaultrs set up).
        if let Some(http) = &self.inner.http {
            client.http.http = http.clone();
        }
        Ok(client)
    }

    async fn login(&self) -> Result<Session, SecretsError> {
        let cfg = &self.inner.cfg;
        let mut client = self.new_client("")?;
        let auth = vaultrs::auth::approle::login(
            &client,
            &cfg.auth_mount,
            self.inner.creds.role_id.expose_secret(),
            self.inner.creds.secret_id.expose_secret(),
        )
        .await
        .map_err(|e| match api_code(&e) {
            Some(400 | 401 | 403) => SecretsError::BackendAuth {
                backend: BACKEND,
                detail: format!(
                    "AppRole login at auth/{}/login was refused: check the values of {} and {} (a secret_id expires or runs out of uses)",
                    cfg.auth_mount, cfg.role_id_env, cfg.secret_id_env
                ),
            },
            _ => self.unavailable(&e),
        })?;
        let token = Zeroizing::new(auth.client_token);
        client.set_token(&token);
        self.inner.logins.fetch_add(1, Ordering::Relaxed);
        let lease = Duration::from_secs(auth.lease_duration);
        let now = Instant::now();
        tracing::debug!(lease_secs = auth.lease_duration, renewable = auth.renewable, "vault AppRole login");
        Ok(Session {
            client,
            expires: now + lease,
            renew_at: now + lease * 2 / 3,
            login_lease: lease,
            renewable: auth.renewable && auth.lease_duration > 0,
        })
    }

    /// A session with a valid token: the current one, renewed, or a fresh login.
    async fn session(&self, force_login: bool) -> Result<Arc<Session>, SecretsError> {
        let current = || self.inner.session.read().ok().and_then(|s| s.clone());
        let usable = |s: &Session| s.login_lease.is_zero() || Instant::now() < s.renew_at;
        if !force_login && let Some(s) = current().filter(|s| usable(s)) {
            return Ok(s);
        }
        let _guard = self.inner.auth_lock.lock().await;
        let existing = current();
        if !force_login && let Some(s) = existing.clone().filter(|s| usable(s)) {
            return Ok(s);
        }
        let mut next = None;
        if let Some(s) = existing.filter(|s| !force_login && s.renewable && Instant::now() < s.expires) {
            match vaultrs::token::renew_self(&s.client, None).await {
                Ok(auth) if Duration::from_secs(auth.lease_duration) * 3 >= s.login_lease => {
                    self.inner.renewals.fetch_add(1, Ordering::Relaxed);
                    let lease = Duration::from_secs(auth.lease_duration);
                    let now = Instant::now();
                    let client = self.new_client(s.client.settings().token.as_str())?;
                    next = Some(Session {
                        client,
                        expires: now + lease,
                        renew_at: now + lease * 2 / 3,
                        login_lease: s.login_lease,
                        renewable: auth.renewable,
                    });
                }
                Ok(_) => tracing::debug!("vault token near its max TTL; logging in again"),
                Err(e) => tracing::warn!(error = %e, "vault token renewal failed; logging in again"),
            }
        }
        let session = Arc::new(match next {
            Some(s) => s,
            None => self.login().await?,
        });
        if let Ok(mut slot) = self.inner.session.write() {
            *slot = Some(session.clone());
        }
        Ok(session)
    }

    fn unavailable(&self, e: &ClientError) -> SecretsError {
        match e {
            ClientError::APIError { code, errors } => {
                SecretsError::Unavailable { backend: BACKEND, detail: format!("HTTP {code}: {}", errors.join("; ")) }
            }
            other => transport::transport_error(other, &self.inner.cfg.address),
        }
    }

    fn path(&self, name: &SecretName) -> String {
        join_prefix(&self.inner.cfg.prefix, name.as_str())
    }

    /// Run `op` with a valid token; on 403 with a dead token, log in again and retry once.
    async fn call<T, F>(&self, name: Option<&SecretName>, op: F) -> Result<T, SecretsError>
    where
        F: for<'c> Fn(&'c VaultClient) -> BoxFuture<'c, Result<T, ClientError>>,
    {
        let session = self.session(false).await?;
        match op(&session.client).await {
            Ok(v) => Ok(v),
            Err(e) if api_code(&e) == Some(403) => {
                if vaultrs::token::lookup_self(&session.client).await.is_ok() {
                    return Err(self.forbidden(name));
                }
                let session = self.session(true).await?;
                op(&session.client).await.map_err(|e| self.map_err(e, name))
            }
            Err(e) => Err(self.map_err(e, name)),
        }
    }

    fn forbidden(&self, name: Option<&SecretName>) -> SecretsError {
        SecretsError::Forbidden {
            backend: BACKEND,
            name: name.map_or_else(|| "<list>".into(), |n| n.as_str().to_owned()),
        }
    }

    fn map_err(&self, e: ClientError, name: Option<&SecretName>) -> SecretsError {
        match (api_code(&e), name) {
            (Some(404), Some(n)) => SecretsError::not_found(BACKEND, n),
            (Some(404), None) => SecretsError::NotFound { backend: BACKEND, name: "<list>".into() },
            (Some(403), _) => self.forbidden(name),
            _ => self.unavailable(&e),
        }
    }

    async fn read_raw(&self, name: &SecretName, version: Option<u64>) -> Result<ReadSecretResponse, SecretsError> {
        let (mount, path) = (self.inner.cfg.mount.clone(), self.path(name));
        self.call(Some(name), move |c| {
            let req = ReadSecretRequest::builder().mount(mount.clone()).path(path.clone()).version(version).build();
            Box::pin(async move {
                let req = req.map_err(|_| ClientError::InvalidUpdateParameter)?;
                vaultrs::api::exec_with_result(c, req).await
            })
        })
        .await
    }

    async fn metadata(
        &self,
        name: &SecretName,
    ) -> Result<vaultrs::api::kv2::responses::ReadSecretMetadataResponse, SecretsError> {
        let (mount, path) = (self.inner.cfg.mount.clone(), self.path(name));
        self.call(Some(name), move |c| {
            let (mount, path) = (mount.clone(), path.clone());
            Box::pin(async move { vaultrs::kv2::read_metadata(c, &mount, &path).await })
        })
        .await
    }

    fn decode(&self, name: &SecretName, resp: ReadSecretResponse) -> Result<Versioned, SecretsError> {
        let serde_json::Value::Object(mut data) = resp.data else {
            return Err(self.no_value(name));
        };
        let value = match (data.remove("value"), data.remove("value_base64")) {
            (Some(serde_json::Value::String(s)), _) => {
                let s = Zeroizing::new(s);
                secret_from(s.as_bytes())
            }
            (_, Some(serde_json::Value::String(s))) => {
                let s = Zeroizing::new(s);
                let bytes = Zeroizing::new(STANDARD.decode(s.as_bytes()).map_err(|_| self.no_value(name))?);
                secret_from(&bytes)
            }
            _ => return Err(self.no_value(name)),
        };
        Ok(Versioned {
            value,
            version: VersionId::from(resp.metadata.version),
            created: parse_rfc3339(&resp.metadata.created_time),
        })
    }

    fn no_value(&self, name: &SecretName) -> SecretsError {
        SecretsError::Protocol {
            backend: BACKEND,
            detail: format!(
                "{}/{} has no string field `value` (or base64 `value_base64`): write it with `bao kv put {}/{} value=...`",
                self.inner.cfg.mount,
                self.path(name),
                self.inner.cfg.mount,
                self.path(name)
            ),
        }
    }

    fn version_not_found(name: &SecretName, which: &VersionSelector) -> SecretsError {
        SecretsError::VersionNotFound { backend: BACKEND, name: name.as_str().to_owned(), version: which.to_string() }
    }
}

#[derive(Serialize)]
struct Data<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_base64: Option<&'a str>,
}

impl VersionedSecretStore for VaultStore {
    fn backend_kind(&self) -> &'static str {
        BACKEND
    }

    fn read<'a>(
        &'a self,
        name: &'a SecretName,
        which: &'a VersionSelector,
    ) -> BoxFuture<'a, Result<Versioned, SecretsError>> {
        Box::pin(async move {
            match which {
                VersionSelector::Current => {
                    let resp = self.read_raw(name, None).await?;
                    self.decode(name, resp)
                }
                VersionSelector::Previous => {
                    let meta = self.metadata(name).await?;
                    let prev = meta
                        .versions
                        .iter()
                        .filter_map(|(k, v)| {
                            let n: u64 = k.parse().ok()?;
                            (n < meta.current_version && !v.destroyed && v.deletion_time.is_empty()).then_some(n)
                        })
                        .max()
                        .ok_or_else(|| Self::version_not_found(name, which))?;
                    let resp = self.read_raw(name, Some(prev)).await.map_err(|e| match e {
                        SecretsError::NotFound { .. } => Self::version_not_found(name, which),
                        e => e,
                    })?;
                    self.decode(name, resp)
                }
                VersionSelector::Id(id) => {
                    let n = id.as_number().filter(|n| *n > 0).ok_or_else(|| Self::version_not_found(name, which))?;
                    let meta = self.metadata(name).await?;
                    if !meta.versions.contains_key(&n.to_string()) {
                        return Err(Self::version_not_found(name, which));
                    }
                    let resp = self.read_raw(name, Some(n)).await.map_err(|e| match e {
                        SecretsError::NotFound { .. } => Self::version_not_found(name, which),
                        e => e,
                    })?;
                    self.decode(name, resp)
                }
            }
        })
    }

    fn write<'a>(
        &'a self,
        name: &'a SecretName,
        value: SecretBox<[u8]>,
    ) -> BoxFuture<'a, Result<VersionId, SecretsError>> {
        Box::pin(async move {
            check_value(&value)?;
            let encoded: Zeroizing<String> = match std::str::from_utf8(value.expose_secret()) {
                Ok(s) => Zeroizing::new(s.to_owned()),
                Err(_) => Zeroizing::new(STANDARD.encode(value.expose_secret())),
            };
            let utf8 = std::str::from_utf8(value.expose_secret()).is_ok();
            let (mount, path) = (self.inner.cfg.mount.clone(), self.path(name));
            let meta = self
                .call(Some(name), |c| {
                    let owned = Zeroizing::new(encoded.as_str().to_owned());
                    let (mount, path) = (mount.clone(), path.clone());
                    Box::pin(async move {
                        let data = if utf8 {
                            Data { value: Some(owned.as_str()), value_base64: None }
                        } else {
                            Data { value: None, value_base64: Some(owned.as_str()) }
                        };
                        vaultrs::kv2::set(c, &mount, &path, &data).await
                    })
                })
                .await?;
            Ok(VersionId::from(meta.version))
        })
    }

    fn remove<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            self.metadata(name).await?;
            let (mount, path) = (self.inner.cfg.mount.clone(), self.path(name));
            self.call(Some(name), move |c| {
                let (mount, path) = (mount.clone(), path.clone());
                Box::pin(async move { vaultrs::kv2::delete_metadata(c, &mount, &path).await })
            })
            .await
        })
    }

    fn names(&self) -> BoxFuture<'_, Result<Vec<SecretName>, SecretsError>> {
        Box::pin(async move {
            let mount = self.inner.cfg.mount.clone();
            let prefix = self.inner.cfg.prefix.clone();
            let mut out = Vec::new();
            let mut dirs = vec![String::new()];
            while let Some(dir) = dirs.pop() {
                let full = join_prefix(&prefix, &dir);
                let full = full.trim_end_matches('/').to_owned();
                let mount = mount.clone();
                let listed = self
                    .call(None, move |c| {
                        let (mount, full) = (mount.clone(), full.clone());
                        Box::pin(async move { vaultrs::kv2::list(c, &mount, &full).await })
                    })
                    .await;
                let keys = match listed {
                    Ok(k) => k,
                    Err(SecretsError::NotFound { .. }) => Vec::new(),
                    Err(e) => return Err(e),
                };
                for k in keys {
                    let rel = format!("{dir}{k}");
                    if rel.ends_with('/') {
                        if rel.matches('/').count() > 32 {
                            continue;
                        }
                        dirs.push(rel);
                    } else if let Ok(n) = SecretName::parse(&rel) {
                        out.push(n);
                    }
                    if out.len() + dirs.len() > MAX_LIST {
                        return Err(SecretsError::Protocol {
                            backend: BACKEND,
                            detail: format!("more than {MAX_LIST} entries under the prefix; narrow vault.prefix"),
                        });
                    }
                }
            }
            out.sort();
            Ok(out)
        })
    }

    fn generate_random(&self, len: usize) -> BoxFuture<'_, Result<SecretBox<[u8]>, SecretsError>> {
        Box::pin(self.server_random(len))
    }

    fn versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretsError>> {
        Box::pin(async move {
            let meta = self.metadata(name).await?;
            let mut out: Vec<VersionInfo> = meta
                .versions
                .iter()
                .filter(|(_, v)| !v.destroyed && v.deletion_time.is_empty())
                .filter_map(|(k, v)| {
                    let n: u64 = k.parse().ok()?;
                    Some(VersionInfo {
                        id: VersionId::from(n),
                        created: parse_rfc3339(&v.created_time),
                        current: n == meta.current_version,
                    })
                })
                .collect();
            out.sort_by_key(|v| std::cmp::Reverse(v.id.as_number()));
            Ok(out)
        })
    }
}

impl VaultStore {
    /// `len` random bytes from the server's `sys/tools/random` (the policy needs
    /// `path "sys/tools/random" { capabilities = ["update"] }`).
    async fn server_random(&self, len: usize) -> Result<SecretBox<[u8]>, SecretsError> {
        let bytes =
            u64::try_from(len).map_err(|_| SecretsError::ValueSize { len, max: crate::store::MAX_VALUE_LEN })?;
        let resp = self
            .call(None, move |c| {
                Box::pin(async move {
                    let mut req = vaultrs::api::sys::requests::RandomRequestBuilder::default();
                    req.bytes(bytes).format("base64");
                    vaultrs::sys::tools::random(c, Some(&mut req)).await
                })
            })
            .await
            .map_err(|e| match e {
                SecretsError::Forbidden { backend, .. } => {
                    SecretsError::Forbidden { backend, name: "sys/tools/random".into() }
                }
                e => e,
            })?;
        let encoded = Zeroizing::new(resp.random_bytes);
        let raw = Zeroizing::new(STANDARD.decode(encoded.as_bytes()).map_err(|_| self.bad_random())?);
        if raw.len() != len {
            return Err(self.bad_random());
        }
        Ok(secret_from(&raw))
    }

    fn bad_random(&self) -> SecretsError {
        SecretsError::Protocol {
            backend: BACKEND,
            detail: "sys/tools/random did not return the requested bytes".into(),
        }
    }
}

crate::store::impl_secret_store!(VaultStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        let t = parse_rfc3339("2024-05-01T10:20:30.5Z").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap(), Duration::new(1_714_558_830, 500_000_000));
        let t2 = parse_rfc3339("2024-05-01T12:20:30.5+02:00").unwrap();
        assert_eq!(t, t2);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), UNIX_EPOCH);
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn address_and_env_checks() {
        assert!(check_address("http://127.0.0.1:8200").is_ok());
        assert!(check_address("https://vault.internal:8200/").is_ok());
        assert!(check_address("vault:8200").is_err());
        assert!(check_address("http://exa mple").is_err());
        let cfg: VaultConfig = serde_json::from_str(r#"{"address":"http://127.0.0.1:1","role_id_env":"R"}"#).unwrap();
        let env = |v: &str| (v == "R").then(|| "rid".to_string());
        let err = AppRoleCredentials::from_env(&cfg, &env).unwrap_err();
        assert!(err.to_string().contains("VAULT_SECRET_ID"), "{err}");
        let both = |_: &str| Some("x".to_string());
        let c = AppRoleCredentials::from_env(&cfg, &both).unwrap();
        assert!(!format!("{c:?}").contains('x'));
    }
}
