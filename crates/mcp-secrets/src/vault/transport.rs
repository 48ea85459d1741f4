//! The HTTP client of the Vault store when the caller supplies its own TLS policy, and the
//! rendering of transport errors (TLS failures become [`SecretsError::Tls`]).

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use vaultrs::error::ClientError;

use crate::error::SecretsError;

/// An HTTP client that verifies the server with `tls` (roots, SPKI pins, protocol versions are
/// whatever the caller put in it).
pub(super) fn http_client(tls: &Arc<rustls::ClientConfig>, timeout: Duration) -> Result<reqwest::Client, SecretsError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(rustls::ClientConfig::clone(tls))
        .timeout(timeout)
        .build()
        .map_err(|e| {
            SecretsError::Config(format!("vault HTTP client with the outbound TLS policy: {}", chain_text(&e)))
        })
}

/// The first TLS error in `e`'s source chain, looking inside `io::Error`s too (nested ones
/// included: they hide their payload from `source()`).
pub(super) fn tls_failure(e: &(dyn StdError + 'static)) -> Option<String> {
    let mut pending: Vec<&(dyn StdError + 'static)> = vec![e];
    let mut steps = 0;
    while let Some(err) = pending.pop()
        && steps < 64
    {
        steps += 1;
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            // A custom verifier's own message (such as a pin mismatch) without rustls' prefix.
            return Some(match t {
                rustls::Error::General(msg) => msg.clone(),
                other => other.to_string(),
            });
        }
        if let Some(inner) = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            pending.push(inner);
        }
        if let Some(next) = err.source() {
            pending.push(next);
        }
    }
    None
}

/// `e` and its sources, each once, joined with `: `.
pub(super) fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    let mut depth = 0;
    while let Some(err) = cur
        && depth < 32
    {
        let text = err.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = err.source();
        depth += 1;
    }
    out
}

/// A vaultrs error that never reached an HTTP answer, rendered.
pub(super) fn transport_error(e: &ClientError, address: &str) -> SecretsError {
    if let Some(detail) = tls_failure(e) {
        return SecretsError::Tls { backend: super::BACKEND, address: address.to_owned(), detail };
    }
    SecretsError::Unavailable {
        backend: super::BACKEND,
        detail: format!("{} (is {address} reachable?)", chain_text(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tls_errors_inside_io_errors() {
        let rustls_err = rustls::Error::General("certificate pin mismatch for vault.internal".into());
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_err);
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(io);
        assert_eq!(tls_failure(&e).unwrap(), "certificate pin mismatch for vault.internal");
        assert_eq!(
            chain_text(&e),
            "error sending request: unexpected error: certificate pin mismatch for vault.internal"
        );
        let nested = Outer(std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        )));
        assert_eq!(tls_failure(&nested).unwrap(), "invalid peer certificate: UnknownIssuer");
        let plain = Outer(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"));
        assert!(tls_failure(&plain).is_none());
    }
}
