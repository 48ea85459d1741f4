//! Outbound TLS: one client config for every call the server makes (JWKS, discovery,
//! introspection, secret backends), with optional SPKI pinning.
//!
//! The chain is verified against the roots first; then, when pins are configured, the SHA-256 of
//! the SubjectPublicKeyInfo of some certificate in the presented chain must equal a pin.

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Deserialize;

use crate::TransportError;
use crate::tls::{TlsVersion, provider, versions};

/// Where trusted roots come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Roots {
    /// The Mozilla root program, compiled in (default; same everywhere).
    #[default]
    Webpki,
    /// The operating system's store.
    System,
    /// Only `ca_path`.
    None,
}

/// `[outbound_tls]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundTlsConfig {
    /// Root set.
    pub roots: Roots,
    /// Extra PEM CA file (private PKI).
    pub ca_path: Option<PathBuf>,
    /// SPKI pins, `sha256/<base64>`.
    pub pins: Vec<String>,
    /// Lowest version (default 1.2, see [`OutboundMin`]).
    pub min_version: OutboundMin,
}

/// Lowest outbound version; defaults to 1.2 because many identity providers still offer it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum OutboundMin {
    /// TLS 1.2 and 1.3.
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

/// Called when a pin does not match (to emit a security event).
pub type PinMismatchHook = Arc<dyn Fn(&str) + Send + Sync>;

fn bad(key: &'static str, reason: impl Into<String>) -> TransportError {
    TransportError::Config { key, reason: reason.into() }
}

/// Parse `sha256/<base64 of 32 bytes>`.
///
/// ```
/// let pin = format!("sha256/{}", "A".repeat(43) + "=");
/// assert!(mcp_transport::outbound::parse_pin(&pin).is_ok());
/// assert!(mcp_transport::outbound::parse_pin("md5/abc").is_err());
/// ```
pub fn parse_pin(pin: &str) -> Result<[u8; 32], TransportError> {
    let b64 = pin
        .strip_prefix("sha256/")
        .ok_or_else(|| bad("outbound_tls.pins", format!("{pin:?} must start with sha256/")))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad("outbound_tls.pins", format!("{pin:?} is not base64")))?;
    raw.try_into().map_err(|_| bad("outbound_tls.pins", format!("{pin:?} is not a SHA-256 digest (32 bytes)")))
}

/// The pin of a DER certificate: `sha256/<base64(SHA-256(SPKI))>`.
pub fn spki_pin(cert_der: &[u8]) -> Option<String> {
    spki_digest(cert_der).map(|d| format!("sha256/{}", base64::engine::general_purpose::STANDARD.encode(d)))
}

fn spki_digest(cert_der: &[u8]) -> Option<[u8; 32]> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let d = ring::digest::digest(&ring::digest::SHA256, cert.tbs_certificate.subject_pki.raw);
    d.as_ref().try_into().ok()
}

/// Build the outbound client config.
pub fn client_config(
    cfg: &OutboundTlsConfig,
    on_mismatch: Option<PinMismatchHook>,
) -> Result<Arc<ClientConfig>, TransportError> {
    let mut roots = RootCertStore::empty();
    match cfg.roots {
        Roots::Webpki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = roots.add(c);
            }
        }
        Roots::None => {}
    }
    if let Some(p) = &cfg.ca_path {
        let pem =
            std::fs::read(p).map_err(|e| bad("outbound_tls.ca_path", format!("cannot read {}: {e}", p.display())))?;
        for c in CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| bad("outbound_tls.ca_path", format!("{}: not PEM ({e})", p.display())))?;
            roots.add(c).map_err(|e| bad("outbound_tls.ca_path", format!("unusable CA certificate: {e}")))?;
        }
    }
    if roots.is_empty() {
        return Err(bad("outbound_tls", "no trusted roots: set roots = \"webpki\" or \"system\", or a ca_path"));
    }
    let pins = cfg.pins.iter().map(|p| parse_pin(p)).collect::<Result<Vec<_>, _>>()?;
    let min = match cfg.min_version {
        OutboundMin::Tls12 => TlsVersion::Tls12,
        OutboundMin::Tls13 => TlsVersion::Tls13,
    };
    let provider = provider(&[], min)?;
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad("outbound_tls", e.to_string()))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions(min))
        .map_err(|e| bad("outbound_tls.min_version", e.to_string()))?;
    let config = if pins.is_empty() {
        builder.with_webpki_verifier(inner).with_no_client_auth()
    } else {
        let verifier = Arc::new(Pinned { inner, pins, on_mismatch });
        builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

struct Pinned {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
    on_mismatch: Option<PinMismatchHook>,
}

impl std::fmt::Debug for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned").field("pins", &self.pins.len()).finish_non_exhaustive()
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        let matched = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|c| spki_digest(c))
            // Pins are public values: a plain comparison leaks nothing.
            .any(|d| self.pins.contains(&d));
        if matched {
            return Ok(verified);
        }
        let host = server_name.to_str();
        tracing::warn!(target: "mcp_security", host = %host, "outbound TLS certificate pin mismatch");
        if let Some(hook) = &self.on_mismatch {
            hook(&host);
        }
        Err(rustls::Error::General(format!(
            "certificate pin mismatch for {host}: the server's key is not one of outbound_tls.pins"
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
