//! Inbound TLS and mutual TLS against a test PKI made with rcgen, and outbound pinning against
//! our own TLS listener.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::Response;
use mcp_transport::outbound::{OutboundTlsConfig, Roots, client_config, spki_pin};
use mcp_transport::tls::{ClientAuthConfig, TlsConfig, TlsVersion};
use mcp_transport::{Body, HttpConfig, HttpHandler, IncomingRequest};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers with the client certificate's DER length (0 without one).
struct Echo;

impl HttpHandler for Echo {
    fn handle(&self, req: IncomingRequest) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'static>> {
        let n = req.tls.as_ref().and_then(|t| t.client_cert_der.as_ref()).map_or(0, Vec::len);
        Box::pin(async move { Response::new(Body::full(format!("cert={n}"))) })
    }
}

struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    client_ca: CertifiedIssuer<'static, KeyPair>,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    cn: &str,
    sans: Vec<SanType>,
    serial: u64,
    expired: bool,
) -> (String, KeyPair) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.subject_alt_names = sans;
    p.serial_number = Some(serial.into());
    if expired {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.pem(), key)
}

impl Pki {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap(), ca: ca("test server CA"), client_ca: ca("test client CA") }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn server_files(&self) -> (PathBuf, PathBuf) {
        let sans = vec![SanType::DnsName("localhost".try_into().unwrap()), SanType::IpAddress([127, 0, 0, 1].into())];
        let (cert, key) = leaf(&self.ca, "localhost", sans, 1, false);
        (self.write("server.pem", &cert), self.write("server.key", &key.serialize_pem()))
    }

    fn crl(&self, revoked_serial: u64) -> PathBuf {
        let params = rcgen::CertificateRevocationListParams {
            this_update: rcgen::date_time_ymd(2025, 1, 1),
            next_update: rcgen::date_time_ymd(2099, 1, 1),
            crl_number: 1u64.into(),
            issuing_distribution_point: None,
            revoked_certs: vec![rcgen::RevokedCertParams {
                serial_number: revoked_serial.into(),
                revocation_time: rcgen::date_time_ymd(2025, 6, 1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.client_ca).unwrap();
        self.write("client.crl", &crl.pem().unwrap())
    }
}

fn tls_config(pki: &Pki, min: TlsVersion, client_auth: Option<ClientAuthConfig>) -> TlsConfig {
    let (cert_path, key_path) = pki.server_files();
    TlsConfig { cert_path, key_path, min_version: min, cipher_suites: vec![], reload_check_secs: 0, client_auth }
}

async fn serve(tls: TlsConfig) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    common::start(HttpConfig { tls: Some(tls), ..Default::default() }, Echo).await
}

fn client(
    pki: &Pki,
    cert: Option<(String, KeyPair)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    match cert {
        None => b.with_no_client_auth(),
        Some((pem, key)) => {
            let chain = vec![CertificateDer::from_pem_slice_compat(&pem)];
            let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
    }
}

trait FromPem {
    fn from_pem_slice_compat(pem: &str) -> CertificateDer<'static>;
}

impl FromPem for CertificateDer<'static> {
    fn from_pem_slice_compat(pem: &str) -> CertificateDer<'static> {
        use rustls_pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    }
}

/// GET / over TLS; `Err` when the handshake or the exchange fails.
async fn get(addr: SocketAddr, cfg: rustls::ClientConfig) -> Result<String, String> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .map_err(|_| "handshake timeout".to_owned())?
        .map_err(|e| e.to_string())?;
    tls.write_all(b"GET /mcp HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), tls.read_to_string(&mut out))
        .await
        .map_err(|_| "read timeout".to_owned())?
        .map_err(|e| e.to_string())?;
    if out.is_empty() { Err("connection closed without a response".into()) } else { Ok(out) }
}

fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

const V13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
const V12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

#[tokio::test]
async fn tls13_minimum_and_hsts() {
    install_provider();
    let pki = Pki::new();
    let (addr, _stop) = serve(tls_config(&pki, TlsVersion::Tls13, None)).await;
    let ok = get(addr, client(&pki, None, V13)).await.unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.to_ascii_lowercase().contains("strict-transport-security"), "HSTS on TLS: {ok}");
    let err = get(addr, client(&pki, None, V12)).await.unwrap_err();
    assert!(!err.is_empty(), "a TLS 1.2-only client is refused");
}

#[tokio::test]
async fn mutual_tls_accepts_only_trusted_unexpired_unrevoked_clients() {
    install_provider();
    let pki = Pki::new();
    let crl = pki.crl(66);
    let auth = ClientAuthConfig {
        ca_path: pki.write("client-ca.pem", &pki.client_ca.pem()),
        required: true,
        crl_paths: vec![crl],
        max_chain_depth: 4,
    };
    let (addr, _stop) = serve(tls_config(&pki, TlsVersion::Tls13, Some(auth))).await;
    let spiffe = SanType::URI("spiffe://example.org/agent".try_into().unwrap());
    let good = leaf(&pki.client_ca, "client-1", vec![spiffe], 10, false);
    let ok = get(addr, client(&pki, Some(good), V13)).await.unwrap();
    assert!(ok.contains("cert="), "{ok}");
    assert!(!ok.contains("cert=0"), "the handler sees the client certificate: {ok}");
    // No certificate, a certificate from another CA, an expired one, a revoked one: refused.
    assert!(get(addr, client(&pki, None, V13)).await.is_err());
    let stranger = ca("stranger CA");
    assert!(get(addr, client(&pki, Some(leaf(&stranger, "mallory", vec![], 11, false)), V13)).await.is_err());
    assert!(get(addr, client(&pki, Some(leaf(&pki.client_ca, "old", vec![], 12, true)), V13)).await.is_err());
    assert!(get(addr, client(&pki, Some(leaf(&pki.client_ca, "revoked", vec![], 66, false)), V13)).await.is_err());
}

#[tokio::test]
async fn reload_swaps_certificates_without_dropping_connections() {
    install_provider();
    let pki = Pki::new();
    let tls = tls_config(&pki, TlsVersion::Tls13, None);
    let reloader = mcp_transport::tls::TlsReloader::new(tls.clone()).unwrap();
    let before = reloader.current();
    assert!(!reloader.reload_if_changed(), "nothing changed yet");
    // Replace the certificate with one from a new CA and reload.
    let other = ca("rotated CA");
    let (cert, key) = leaf(&other, "localhost", vec![SanType::DnsName("localhost".try_into().unwrap())], 2, false);
    std::fs::write(&tls.cert_path, cert).unwrap();
    std::fs::write(&tls.key_path, key.serialize_pem()).unwrap();
    reloader.reload().unwrap();
    assert!(!Arc::ptr_eq(&before, &reloader.current()));
    // A broken file keeps the previous config.
    std::fs::write(&tls.key_path, "not a key").unwrap();
    let current = reloader.current();
    assert!(reloader.reload().is_err());
    assert!(Arc::ptr_eq(&current, &reloader.current()));
}

#[tokio::test]
async fn outbound_pinning_checks_chain_then_pin() {
    install_provider();
    let pki = Pki::new();
    let tls = tls_config(&pki, TlsVersion::Tls13, None);
    let server_pem = std::fs::read_to_string(&tls.cert_path).unwrap();
    let server_der = CertificateDer::from_pem_slice_compat(&server_pem);
    let (addr, _stop) = serve(tls).await;
    let ca_path = pki.write("ca.pem", &pki.ca.pem());
    let pinned = |pins: Vec<String>| OutboundTlsConfig {
        roots: Roots::None,
        ca_path: Some(ca_path.clone()),
        pins,
        ..Default::default()
    };
    let right = spki_pin(server_der.as_ref()).unwrap();
    let ok = get(addr, (*client_config(&pinned(vec![right]), None).unwrap()).clone()).await.unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"));
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let h = hits.clone();
    let hook: mcp_transport::outbound::PinMismatchHook = Arc::new(move |_| {
        h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let wrong = format!("sha256/{}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]));
    let err = get(addr, (*client_config(&pinned(vec![wrong]), Some(hook)).unwrap()).clone()).await.unwrap_err();
    assert!(err.contains("pin mismatch"), "{err}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "a mismatch is reported");
    // Chain first: a pin does not rescue an untrusted chain.
    let untrusted = OutboundTlsConfig {
        roots: Roots::Webpki,
        pins: vec![spki_pin(server_der.as_ref()).unwrap()],
        ..Default::default()
    };
    assert!(get(addr, (*client_config(&untrusted, None).unwrap()).clone()).await.is_err());
}

#[test]
fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = TlsConfig {
        cert_path: dir.path().join("nope.pem"),
        key_path: dir.path().join("nope.key"),
        min_version: TlsVersion::Tls13,
        cipher_suites: vec![],
        reload_check_secs: 0,
        client_auth: None,
    };
    let e = mcp_transport::tls::server_config(&missing).unwrap_err().to_string();
    assert!(e.contains("tls.cert_path") && e.contains("nope.pem"), "{e}");
    let pki = Pki::new();
    let mut bad_suite = tls_config(&pki, TlsVersion::Tls13, None);
    bad_suite.cipher_suites = vec!["TLS_RSA_WITH_RC4_128_MD5".into()];
    let e = mcp_transport::tls::server_config(&bad_suite).unwrap_err().to_string();
    assert!(e.contains("unknown suite"), "{e}");
    let mut only12 = tls_config(&pki, TlsVersion::Tls13, None);
    only12.cipher_suites = vec!["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into()];
    let e = mcp_transport::tls::server_config(&only12).unwrap_err().to_string();
    assert!(e.contains("no TLS 1.3 suite"), "{e}");
    let plain_public = HttpConfig { listen: "0.0.0.0:8443".parse().unwrap(), ..Default::default() };
    assert!(plain_public.validate().unwrap_err().to_string().contains("needs TLS"));
}
