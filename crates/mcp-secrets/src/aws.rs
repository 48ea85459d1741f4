//! `aws_secrets_manager`: AWS Secrets Manager through the official SDK.
//!
//! - Credentials: the default AWS chain (environment, shared profile, web identity, ECS / IMDS
//!   role); region from the config; optional `endpoint_url` (VPC endpoint, local test server).
//! - HTTPS through `aws-smithy-http-client` on rustls with the ring provider (no aws-lc).
//! - A secret is one Secrets Manager secret named `<prefix>/<name>`; UTF-8 values are stored as
//!   `SecretString`, others as `SecretBinary`. `write` adds a version (the old one moves to stage
//!   `AWSPREVIOUS`); reading `Current` / `Previous` reads stage `AWSCURRENT` / `AWSPREVIOUS`.
//! - `remove` schedules deletion with the configured recovery window (0 = immediately); writing a
//!   name that is scheduled for deletion restores it first.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{Credentials, Region};
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::primitives::{Blob, DateTime};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use mcp_core::BoxFuture;
use mcp_core::traits::SecretName;
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroizing;

use crate::config::{AwsConfig, check_prefix, join_prefix};
use crate::error::SecretsError;
use crate::store::{
    VersionId, VersionInfo, VersionSelector, Versioned, VersionedSecretStore, check_value, secret_from,
};

const BACKEND: &str = "aws_secrets_manager";
const MAX_LIST: usize = 100_000;

/// The AWS Secrets Manager store. Cheap to clone.
#[derive(Clone)]
pub struct AwsStore {
    client: Client,
    cfg: AwsConfig,
}

impl fmt::Debug for AwsStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsStore")
            .field("region", &self.cfg.region)
            .field("endpoint_url", &self.cfg.endpoint_url)
            .field("prefix", &self.cfg.prefix)
            .finish_non_exhaustive()
    }
}

fn to_system_time(d: Option<&DateTime>) -> Option<SystemTime> {
    d.and_then(|d| SystemTime::try_from(*d).ok())
}

/// The error and its sources, joined by ": " (no Debug dumps).
fn render(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

/// What an SDK error means for us.
enum Failure {
    NotFound,
    /// The secret is scheduled for deletion.
    Deleted,
    Exists,
    Denied,
    Auth(String),
    Down(String),
    Other(String),
}

fn classify<E, R>(e: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    let rendered = render(e);
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let msg = err.message().unwrap_or("").to_ascii_lowercase();
            match err.code().unwrap_or("") {
                "ResourceNotFoundException" => Failure::NotFound,
                "InvalidRequestException" if msg.contains("deletion") || msg.contains("deleted") => Failure::Deleted,
                "ResourceExistsException" => Failure::Exists,
                "AccessDeniedException" => Failure::Denied,
                "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "ExpiredTokenException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch" => Failure::Auth(rendered),
                "InternalServiceError" | "ThrottlingException" | "ServiceUnavailable" => Failure::Down(rendered),
                _ => Failure::Other(rendered),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Failure::Down(rendered)
        }
        _ => Failure::Other(rendered),
    }
}

impl AwsStore {
    /// Build the client. `credentials` overrides the default chain (tests, or credentials the
    /// caller obtained itself); `None` uses the chain.
    pub async fn connect(cfg: &AwsConfig, credentials: Option<Credentials>) -> Result<Self, SecretsError> {
        check_prefix("aws_secrets_manager", &cfg.prefix)?;
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(SecretsError::Config(
                "no rustls CryptoProvider is installed: call rustls::crypto::ring::default_provider().install_default() once at startup"
                    .into(),
            ));
        }
        let http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .http_client(http)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(cfg.timeout_secs.min(5)))
                    .operation_attempt_timeout(Duration::from_secs(cfg.timeout_secs))
                    .operation_timeout(Duration::from_secs(cfg.timeout_secs))
                    .build(),
            );
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(c) = credentials {
            loader = loader.credentials_provider(c);
        }
        let sdk = loader.load().await;
        Ok(Self { client: Client::new(&sdk), cfg: cfg.clone() })
    }

    fn id(&self, name: &SecretName) -> String {
        join_prefix(&self.cfg.prefix, name.as_str())
    }

    fn map(&self, f: Failure, name: Option<&SecretName>, which: Option<&VersionSelector>) -> SecretsError {
        let label = || name.map_or_else(|| "<list>".to_owned(), |n| n.as_str().to_owned());
        match f {
            Failure::NotFound | Failure::Deleted => match which {
                Some(w) if !matches!(w, VersionSelector::Current) => {
                    SecretsError::VersionNotFound { backend: BACKEND, name: label(), version: w.to_string() }
                }
                _ => SecretsError::NotFound { backend: BACKEND, name: label() },
            },
            Failure::Denied => SecretsError::Forbidden { backend: BACKEND, name: label() },
            Failure::Auth(detail) => SecretsError::BackendAuth {
                backend: BACKEND,
                detail: format!("{detail}; check the AWS credential chain (AWS_ACCESS_KEY_ID / profile / role)"),
            },
            Failure::Down(detail) => SecretsError::Unavailable { backend: BACKEND, detail },
            Failure::Exists => SecretsError::Protocol { backend: BACKEND, detail: "secret already exists".into() },
            Failure::Other(detail) => SecretsError::Protocol { backend: BACKEND, detail },
        }
    }

    async fn put_value(
        &self,
        id: &str,
        value: &SecretBox<[u8]>,
    ) -> Result<VersionId, SdkError<aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError>> {
        let mut req = self.client.put_secret_value().secret_id(id);
        req = match std::str::from_utf8(value.expose_secret()) {
            Ok(s) => req.secret_string(s),
            Err(_) => req.secret_binary(Blob::new(value.expose_secret().to_vec())),
        };
        let out = req.send().await?;
        Ok(VersionId::new(out.version_id().unwrap_or_default()))
    }

    async fn create(&self, id: &str, value: &SecretBox<[u8]>) -> Result<VersionId, SecretsError> {
        let mut req = self.client.create_secret().name(id);
        req = match std::str::from_utf8(value.expose_secret()) {
            Ok(s) => req.secret_string(s),
            Err(_) => req.secret_binary(Blob::new(value.expose_secret().to_vec())),
        };
        let out = req.send().await.map_err(|e| self.map(classify(&e), None, None))?;
        Ok(VersionId::new(out.version_id().unwrap_or_default()))
    }
}

impl AwsStore {
    /// NotFound unless the secret exists and is not scheduled for deletion.
    async fn ensure_live(&self, name: &SecretName) -> Result<(), SecretsError> {
        let d = self
            .client
            .describe_secret()
            .secret_id(self.id(name))
            .send()
            .await
            .map_err(|e| self.map(classify(&e), Some(name), None))?;
        if d.deleted_date().is_some() {
            return Err(SecretsError::not_found(BACKEND, name));
        }
        Ok(())
    }
}

impl VersionedSecretStore for AwsStore {
    fn backend_kind(&self) -> &'static str {
        BACKEND
    }

    fn read<'a>(
        &'a self,
        name: &'a SecretName,
        which: &'a VersionSelector,
    ) -> BoxFuture<'a, Result<Versioned, SecretsError>> {
        Box::pin(async move {
            let req = self.client.get_secret_value().secret_id(self.id(name));
            let req = match which {
                VersionSelector::Current => req.version_stage("AWSCURRENT"),
                VersionSelector::Previous => req.version_stage("AWSPREVIOUS"),
                VersionSelector::Id(id) => req.version_id(id.as_str()),
            };
            let mut out = match req.send().await {
                Ok(o) => o,
                Err(e) => {
                    let f = classify(&e);
                    // A missing stage on an existing secret is a missing version, not a missing secret.
                    if matches!(f, Failure::NotFound) && !matches!(which, VersionSelector::Current) {
                        let exists = self.client.describe_secret().secret_id(self.id(name)).send().await;
                        if let Err(e) = exists {
                            return Err(self.map(classify(&e), Some(name), None));
                        }
                    }
                    return Err(self.map(f, Some(name), Some(which)));
                }
            };
            let value = if let Some(s) = out.secret_string.take() {
                let s = Zeroizing::new(s);
                secret_from(s.as_bytes())
            } else if let Some(b) = out.secret_binary.take() {
                let b = Zeroizing::new(b.into_inner());
                secret_from(&b)
            } else {
                return Err(SecretsError::Protocol {
                    backend: BACKEND,
                    detail: format!("{} holds no value", self.id(name)),
                });
            };
            Ok(Versioned {
                value,
                version: VersionId::new(out.version_id().unwrap_or_default()),
                created: to_system_time(out.created_date()),
            })
        })
    }

    fn write<'a>(
        &'a self,
        name: &'a SecretName,
        value: SecretBox<[u8]>,
    ) -> BoxFuture<'a, Result<VersionId, SecretsError>> {
        Box::pin(async move {
            check_value(&value)?;
            let id = self.id(name);
            // Ask first: AWS refuses a new version of a secret scheduled for deletion (restore it
            // first), and test servers differ in what they answer for a missing one.
            let described = self.client.describe_secret().secret_id(&id).send().await;
            let put = |e: SdkError<_>| self.map(classify(&e), Some(name), None);
            match described {
                Ok(d) => {
                    if d.deleted_date().is_some() {
                        self.client
                            .restore_secret()
                            .secret_id(&id)
                            .send()
                            .await
                            .map_err(|e| self.map(classify(&e), Some(name), None))?;
                    }
                    self.put_value(&id, &value).await.map_err(put)
                }
                Err(e) => match classify(&e) {
                    Failure::NotFound => match self.create(&id, &value).await {
                        // Lost a race with another writer creating it: add a version instead.
                        Err(SecretsError::Protocol { .. }) => self.put_value(&id, &value).await.map_err(put),
                        other => other,
                    },
                    f => Err(self.map(f, Some(name), None)),
                },
            }
        })
    }

    fn remove<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<(), SecretsError>> {
        Box::pin(async move {
            // AWS answers a forced delete of a missing secret with success: ask first, so a
            // missing (or already deleted) secret is NotFound as on every other backend.
            self.ensure_live(name).await?;
            let mut req = self.client.delete_secret().secret_id(self.id(name));
            req = if self.cfg.recovery_window_days == 0 {
                req.force_delete_without_recovery(true)
            } else {
                req.recovery_window_in_days(i64::from(self.cfg.recovery_window_days))
            };
            req.send().await.map_err(|e| self.map(classify(&e), Some(name), None))?;
            Ok(())
        })
    }

    fn names(&self) -> BoxFuture<'_, Result<Vec<SecretName>, SecretsError>> {
        Box::pin(async move {
            let strip = if self.cfg.prefix.is_empty() { String::new() } else { format!("{}/", self.cfg.prefix) };
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut req = self.client.list_secrets().max_results(100).include_planned_deletion(false);
                if !strip.is_empty() {
                    req = req.filters(Filter::builder().key(FilterNameStringType::Name).values(strip.clone()).build());
                }
                if let Some(t) = token.take() {
                    req = req.next_token(t);
                }
                let page = req.send().await.map_err(|e| self.map(classify(&e), None, None))?;
                for entry in page.secret_list() {
                    let Some(full) = entry.name() else { continue };
                    if entry.deleted_date().is_some() {
                        continue;
                    }
                    if let Some(rel) = full.strip_prefix(strip.as_str())
                        && let Ok(n) = SecretName::parse(rel)
                    {
                        out.push(n);
                    }
                }
                if out.len() > MAX_LIST {
                    return Err(SecretsError::Protocol {
                        backend: BACKEND,
                        detail: format!(
                            "more than {MAX_LIST} secrets under the prefix; narrow aws_secrets_manager.prefix"
                        ),
                    });
                }
                match page.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            out.sort();
            out.dedup();
            Ok(out)
        })
    }

    fn generate_random(&self, len: usize) -> BoxFuture<'_, Result<SecretBox<[u8]>, SecretsError>> {
        Box::pin(async move {
            // GetRandomPassword's limit.
            const MAX: usize = 4096;
            if len == 0 || len > MAX {
                return Err(SecretsError::ValueSize { len, max: MAX });
            }
            let out = self
                .client
                .get_random_password()
                .password_length(len as i64)
                .exclude_punctuation(true)
                .include_space(false)
                .send()
                .await
                .map_err(|e| self.map(classify(&e), None, None))?;
            let password = Zeroizing::new(out.random_password.unwrap_or_default());
            if password.len() != len {
                return Err(SecretsError::Protocol {
                    backend: BACKEND,
                    detail: "GetRandomPassword did not return the requested length".into(),
                });
            }
            Ok(secret_from(password.as_bytes()))
        })
    }

    fn versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretsError>> {
        Box::pin(async move {
            // Existence first: a deleted secret has no versions to show, and some servers
            // answer a missing one with a 500 here.
            self.ensure_live(name).await?;
            let mut out = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut req = self.client.list_secret_version_ids().secret_id(self.id(name)).include_deprecated(false);
                if let Some(t) = token.take() {
                    req = req.next_token(t);
                }
                let page = req.send().await.map_err(|e| self.map(classify(&e), Some(name), None))?;
                for v in page.versions() {
                    let Some(id) = v.version_id() else { continue };
                    out.push(VersionInfo {
                        id: VersionId::new(id),
                        created: to_system_time(v.created_date()),
                        current: v.version_stages().iter().any(|s| s == "AWSCURRENT"),
                    });
                }
                match page.next_token() {
                    Some(t) if !t.is_empty() && out.len() < MAX_LIST => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            // Current first, then newest first.
            out.sort_by(|a, b| b.current.cmp(&a.current).then(b.created.cmp(&a.created)));
            Ok(out)
        })
    }
}

crate::store::impl_secret_store!(AwsStore);
