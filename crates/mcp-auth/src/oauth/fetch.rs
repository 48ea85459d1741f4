//! Outbound HTTP for discovery, JWKS and introspection, behind a small trait so the server can
//! pass its own client (the one carrying the outbound TLS config and SPKI pins from
//! `mcp-transport`) and tests can count calls.

use std::time::Duration;

use mcp_core::BoxFuture;

/// A response: status and a size-bounded body.
#[derive(Debug)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Body, at most the configured maximum.
    pub body: Vec<u8>,
}

/// An outbound call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Connection, TLS (including a pin mismatch) or protocol failure.
    #[error("transport: {0}")]
    Transport(String),
    /// The call took longer than the timeout.
    #[error("timed out")]
    Timeout,
    /// The body exceeded the maximum size.
    #[error("response body too large")]
    TooLarge,
}

/// The outbound HTTP this crate needs. Implementations must not follow redirects to other
/// origins and must bound time and body size.
pub trait HttpFetch: std::fmt::Debug + Send + Sync + 'static {
    /// `GET url` with `Accept: application/json`.
    fn get<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<HttpResponse, FetchError>>;
    /// `POST url` with a form body and an `Authorization` header value.
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        authorization: &'a str,
        form: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<HttpResponse, FetchError>>;
}

/// [`HttpFetch`] over a `reqwest::Client`.
#[derive(Clone, Debug)]
pub struct ReqwestFetch {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
}

impl ReqwestFetch {
    /// Use `client` (build it with redirects off — `reqwest::redirect::Policy::none()` — and the
    /// server's outbound TLS config), with a per-call `timeout` and a body limit.
    pub fn new(client: reqwest::Client, timeout: Duration, max_bytes: usize) -> Self {
        Self { client, timeout, max_bytes }
    }

    /// A client with the platform's roots, no redirects, no proxy, HTTPS-only unless
    /// `allow_http` (set only for loopback issuers in tests). Needs a process-wide rustls
    /// crypto provider (`rustls::crypto::ring::default_provider().install_default()`).
    pub fn default_client(allow_http: bool) -> Result<reqwest::Client, FetchError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(FetchError::Transport(
                "no rustls crypto provider installed: call rustls::crypto::ring::default_provider().install_default()"
                    .into(),
            ));
        }
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!allow_http)
            .user_agent(concat!("mcp-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))
    }

    async fn finish(&self, req: reqwest::RequestBuilder) -> Result<HttpResponse, FetchError> {
        let work = async {
            let mut resp = req.send().await.map_err(|e| FetchError::Transport(error_chain(&e)))?;
            let status = resp.status().as_u16();
            if resp.content_length().is_some_and(|n| n > self.max_bytes as u64) {
                return Err(FetchError::TooLarge);
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| FetchError::Transport(error_chain(&e)))? {
                if body.len() + chunk.len() > self.max_bytes {
                    return Err(FetchError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse { status, body })
        };
        tokio::time::timeout(self.timeout, work).await.map_err(|_| FetchError::Timeout)?
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

impl HttpFetch for ReqwestFetch {
    fn get<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<HttpResponse, FetchError>> {
        Box::pin(self.finish(self.client.get(url).header(http::header::ACCEPT, "application/json")))
    }

    fn post_form<'a>(
        &'a self,
        url: &'a str,
        authorization: &'a str,
        form: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<HttpResponse, FetchError>> {
        let req = self
            .client
            .post(url)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::AUTHORIZATION, authorization)
            .form(form);
        Box::pin(self.finish(req))
    }
}
