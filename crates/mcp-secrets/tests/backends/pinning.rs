//! A test-side outbound TLS policy like the one mcp-server builds from `[outbound_tls]`: roots
//! from a PEM file, SPKI SHA-256 pins checked after the chain, optionally TLS 1.3 only.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// SHA-256 of the SubjectPublicKeyInfo of a DER certificate.
pub fn spki_sha256_der(der: &[u8]) -> [u8; 32] {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    ring::digest::digest(&ring::digest::SHA256, cert.tbs_certificate.subject_pki.raw).as_ref().try_into().unwrap()
}

/// SHA-256 of the SubjectPublicKeyInfo of the first certificate in a PEM file.
pub fn spki_sha256(pem: &Path) -> [u8; 32] {
    let cert = CertificateDer::pem_file_iter(pem).unwrap().next().unwrap().unwrap();
    spki_sha256_der(&cert)
}

/// Trust the CAs in `ca_pem`; when `pins` is not empty, also require one of them.
pub fn client_config(ca_pem: &Path, pins: Vec<[u8; 32]>, tls13_only: bool) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] =
        if tls13_only { &[&rustls::version::TLS13] } else { rustls::DEFAULT_VERSIONS };
    let builder = ClientConfig::builder_with_provider(provider).with_protocol_versions(versions).unwrap();
    let config = if pins.is_empty() {
        builder.with_webpki_verifier(inner).with_no_client_auth()
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(Pinned { inner, pins })).with_no_client_auth()
    };
    Arc::new(config)
}

#[derive(Debug)]
struct Pinned {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
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
        let ok = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        if std::iter::once(end_entity).chain(intermediates).any(|c| self.pins.contains(&spki_sha256_der(c))) {
            return Ok(ok);
        }
        Err(rustls::Error::General(format!(
            "certificate pin mismatch for {}: the server's key is not one of outbound_tls.pins",
            server_name.to_str()
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
