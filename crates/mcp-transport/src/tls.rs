//! Inbound TLS: a rustls server config built from `[http.tls]`, TLS 1.3 minimum by default,
//! optional mutual TLS with a CA, CRLs and a chain-depth limit, and hot reload of the files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use serde::Deserialize;

use crate::TransportError;

/// Lowest TLS version accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2 (and 1.3).
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[default]
    #[serde(rename = "1.3")]
    Tls13,
}

/// `[http.tls]`: serve HTTPS.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first).
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
    /// Lowest version: `"1.3"` (default) or `"1.2"`.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// Cipher suites by IANA name (e.g. `TLS13_AES_256_GCM_SHA384`); empty keeps the provider's
    /// defaults (AEAD suites only).
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Seconds between checks of the files for changes (0 disables polling; SIGHUP still reloads).
    #[serde(default = "default_reload")]
    pub reload_check_secs: u64,
    /// Mutual TLS.
    #[serde(default)]
    pub client_auth: Option<ClientAuthConfig>,
}

fn default_reload() -> u64 {
    30
}

/// `[http.tls.client_auth]`: verify client certificates.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthConfig {
    /// PEM file with the CA certificates client certificates must chain to.
    pub ca_path: PathBuf,
    /// Refuse the handshake without a client certificate (default true).
    #[serde(default = "yes")]
    pub required: bool,
    /// PEM CRL files; a revoked client certificate is refused.
    #[serde(default)]
    pub crl_paths: Vec<PathBuf>,
    /// Longest accepted chain, leaf included (default 4).
    #[serde(default = "default_depth")]
    pub max_chain_depth: usize,
}

fn yes() -> bool {
    true
}

fn default_depth() -> usize {
    4
}

fn tls_err(key: &'static str, reason: impl Into<String>) -> TransportError {
    TransportError::Config { key, reason: reason.into() }
}

fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|e| tls_err(key, format!("cannot read {}: {e}", path.display())))
}

fn load_certs(path: &Path, key: &'static str) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let pem = read(path, key)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(key, format!("{}: not a PEM certificate file ({e})", path.display())))?;
    if certs.is_empty() {
        return Err(tls_err(key, format!("{}: contains no certificate", path.display())));
    }
    Ok(certs)
}

/// The crypto provider: ring, with the configured cipher suites.
pub(crate) fn provider(names: &[String], min: TlsVersion) -> Result<Arc<CryptoProvider>, TransportError> {
    let mut p = rustls::crypto::ring::default_provider();
    if !names.is_empty() {
        for n in names {
            if !p.cipher_suites.iter().any(|s| s.suite().as_str() == Some(n.as_str())) {
                let known: Vec<&str> = p.cipher_suites.iter().filter_map(|s| s.suite().as_str()).collect();
                return Err(tls_err("tls.cipher_suites", format!("unknown suite {n:?}; known: {}", known.join(", "))));
            }
        }
        p.cipher_suites.retain(|s| s.suite().as_str().is_some_and(|a| names.iter().any(|n| n == a)));
    }
    if min == TlsVersion::Tls13 && !p.cipher_suites.iter().any(|s| s.version() == &rustls::version::TLS13) {
        return Err(tls_err("tls.cipher_suites", "min_version is 1.3 but no TLS 1.3 suite is selected"));
    }
    Ok(Arc::new(p))
}

static ONLY_13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
static FROM_12: [&rustls::SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];

pub(crate) fn versions(min: TlsVersion) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match min {
        TlsVersion::Tls13 => &ONLY_13,
        TlsVersion::Tls12 => &FROM_12,
    }
}

/// Build a server config from the files named in `cfg`.
pub fn server_config(cfg: &TlsConfig) -> Result<Arc<ServerConfig>, TransportError> {
    let provider = provider(&cfg.cipher_suites, cfg.min_version)?;
    let certs = load_certs(&cfg.cert_path, "tls.cert_path")?;
    let key_pem = read(&cfg.key_path, "tls.key_path")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| tls_err("tls.key_path", format!("{}: no usable private key ({e})", cfg.key_path.display())))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(cfg.min_version))
        .map_err(|e| tls_err("tls.min_version", e.to_string()))?;
    let builder = match &cfg.client_auth {
        None => builder.with_no_client_auth(),
        Some(ca) => builder.with_client_cert_verifier(client_verifier(ca, provider)?),
    };
    let mut sc = builder
        .with_single_cert(certs, key)
        .map_err(|e| tls_err("tls.cert_path", format!("certificate and key do not fit together: {e}")))?;
    sc.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(sc))
}

fn client_verifier(
    ca: &ClientAuthConfig,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TransportError> {
    let mut roots = RootCertStore::empty();
    for c in load_certs(&ca.ca_path, "tls.client_auth.ca_path")? {
        roots.add(c).map_err(|e| tls_err("tls.client_auth.ca_path", format!("unusable CA certificate: {e}")))?;
    }
    let mut crls = Vec::new();
    for p in &ca.crl_paths {
        let pem = read(p, "tls.client_auth.crl_paths")?;
        for crl in CertificateRevocationListDer::pem_slice_iter(&pem) {
            crls.push(
                crl.map_err(|e| tls_err("tls.client_auth.crl_paths", format!("{}: not a PEM CRL ({e})", p.display())))?,
            );
        }
    }
    if ca.max_chain_depth == 0 {
        return Err(tls_err("tls.client_auth.max_chain_depth", "must be at least 1"));
    }
    let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .with_crls(crls)
        .only_check_end_entity_revocation()
        .allow_unknown_revocation_status();
    if !ca.required {
        b = b.allow_unauthenticated();
    }
    let inner = b.build().map_err(|e| tls_err("tls.client_auth", e.to_string()))?;
    Ok(Arc::new(DepthLimited { inner, max_depth: ca.max_chain_depth }))
}

/// Refuses client chains longer than `max_depth`, then defers to webpki.
#[derive(Debug)]
struct DepthLimited {
    inner: Arc<dyn ClientCertVerifier>,
    max_depth: usize,
}

impl ClientCertVerifier for DepthLimited {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if intermediates.len() + 1 > self.max_depth {
            return Err(rustls::Error::General("client certificate chain too long".into()));
        }
        self.inner.verify_client_cert(end_entity, intermediates, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The live server config; reloads swap it atomically. Open connections keep the config they
/// were accepted with, so a reload never drops a connection.
#[derive(Debug)]
pub struct TlsReloader {
    cfg: TlsConfig,
    current: ArcSwap<ServerConfig>,
    stamps: Mutex<Vec<Option<SystemTime>>>,
}

impl TlsReloader {
    /// Load the files once; fails when they are unusable.
    pub fn new(cfg: TlsConfig) -> Result<Arc<Self>, TransportError> {
        let sc = server_config(&cfg)?;
        let stamps = Mutex::new(stamps(&cfg));
        Ok(Arc::new(Self { cfg, current: ArcSwap::new(sc), stamps }))
    }

    /// The config for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Re-read the files now. On error the previous config stays in force.
    pub fn reload(&self) -> Result<(), TransportError> {
        let sc = server_config(&self.cfg)?;
        self.current.store(sc);
        if let Ok(mut s) = self.stamps.lock() {
            *s = stamps(&self.cfg);
        }
        tracing::info!("TLS certificates reloaded");
        Ok(())
    }

    /// Reload when any file's modification time changed. Returns whether it reloaded.
    pub fn reload_if_changed(&self) -> bool {
        let now = stamps(&self.cfg);
        let changed = self.stamps.lock().map(|s| *s != now).unwrap_or(false);
        if !changed {
            return false;
        }
        match self.reload() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "TLS reload failed; keeping the previous certificates");
                // Remember the stamps so a broken file is not retried in a loop.
                if let Ok(mut s) = self.stamps.lock() {
                    *s = now;
                }
                false
            }
        }
    }

    /// Seconds between file checks.
    pub fn check_interval(&self) -> u64 {
        self.cfg.reload_check_secs
    }
}

fn stamps(cfg: &TlsConfig) -> Vec<Option<SystemTime>> {
    let mut paths = vec![&cfg.cert_path, &cfg.key_path];
    if let Some(ca) = &cfg.client_auth {
        paths.push(&ca.ca_path);
        paths.extend(ca.crl_paths.iter());
    }
    paths.into_iter().map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()).collect()
}
