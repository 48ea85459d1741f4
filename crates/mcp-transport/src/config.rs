use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// Listener settings. Every field has a safe default; see `docs/configuration.md`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on. Default `127.0.0.1:8765`.
    pub listen: SocketAddr,
    /// Path of the MCP endpoint. Default `/mcp`.
    pub path: String,
    /// Accepted `Host` names (a name, or `name:port`). Default: loopback names only.
    pub allowed_hosts: Vec<String>,
    /// Accepted `Origin`s (exact, e.g. `https://app.example.com`) besides loopback ones.
    pub allowed_origins: Vec<String>,
    /// Accept any `http(s)://localhost|127.0.0.1|[::1]` origin. Default true.
    pub allow_loopback_origins: bool,
    /// Largest request body in bytes (413 above). Default 16 MiB.
    pub max_message_size: usize,
    /// Most open connections; more are answered 503 and closed. Default 1000.
    pub max_concurrent_connections: usize,
    /// Time to read a request's headers, in seconds. Default 30.
    pub header_read_timeout_secs: u64,
    /// Time a keep-alive connection may sit with no request, in seconds. Default 30.
    pub idle_timeout_secs: u64,
    /// Time to receive a request body and produce the response headers, in seconds. Default 30.
    pub request_timeout_secs: u64,
    /// Response security headers.
    pub security_headers: SecurityHeaders,
    /// Cross-origin resource sharing (off by default).
    pub cors: CorsConfig,
    /// HTTPS (and mutual TLS). Absent: plain HTTP, allowed only on loopback addresses.
    pub tls: Option<crate::tls::TlsConfig>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8765)),
            path: "/mcp".to_owned(),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()],
            allowed_origins: Vec::new(),
            allow_loopback_origins: true,
            max_message_size: 16 * 1024 * 1024,
            max_concurrent_connections: 1000,
            header_read_timeout_secs: 30,
            idle_timeout_secs: 30,
            request_timeout_secs: 30,
            security_headers: SecurityHeaders::default(),
            cors: CorsConfig::default(),
            tls: None,
        }
    }
}

impl HttpConfig {
    /// Header-read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }
    /// Idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }
    /// Request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// Check values that serde cannot: returns the key and reason of the first bad one.
    pub fn validate(&self) -> Result<(), crate::TransportError> {
        let bad = |key, reason: &str| Err(crate::TransportError::Config { key, reason: reason.to_owned() });
        if !self.path.starts_with('/') {
            return bad("path", "must start with '/'");
        }
        if self.max_message_size < 1024 {
            return bad("max_message_size", "must be at least 1024 bytes");
        }
        if self.max_concurrent_connections == 0 {
            return bad("max_concurrent_connections", "must be at least 1");
        }
        for (key, v) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
        ] {
            if v == 0 || v > 3600 {
                return bad(key, "must be between 1 and 3600 seconds");
            }
        }
        if self.tls.is_none() && !self.listen.ip().is_loopback() {
            return bad(
                "listen",
                "a non-loopback address needs TLS: configure [http.tls] (cert_path, key_path), or listen on 127.0.0.1 behind a TLS-terminating proxy",
            );
        }
        if self.allowed_hosts.is_empty() {
            return bad("allowed_hosts", "must name at least one host (the server would refuse every request)");
        }
        for o in self.allowed_origins.iter().chain(&self.cors.allowed_origins) {
            if o == "*" || !(o.starts_with("http://") || o.starts_with("https://")) {
                return bad("allowed_origins", "each origin must be an exact http:// or https:// origin (no '*')");
            }
        }
        for name in self.security_headers.extra.keys() {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return bad("security_headers.extra", "contains an invalid header name");
            }
        }
        Ok(())
    }
}

/// Security headers added to every response, including errors.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityHeaders {
    /// Master switch. Default true.
    pub enabled: bool,
    /// `Strict-Transport-Security` value, sent only on TLS listeners.
    pub hsts: String,
    /// `Content-Security-Policy`. Default `default-src 'none'; frame-ancestors 'none'`.
    pub content_security_policy: String,
    /// `X-Frame-Options`. Default `DENY`.
    pub frame_options: String,
    /// `Referrer-Policy`. Default `no-referrer`.
    pub referrer_policy: String,
    /// Extra headers to add (name → value).
    pub extra: BTreeMap<String, String>,
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        Self {
            enabled: true,
            hsts: "max-age=63072000; includeSubDomains".into(),
            content_security_policy: "default-src 'none'; frame-ancestors 'none'".into(),
            frame_options: "DENY".into(),
            referrer_policy: "no-referrer".into(),
            extra: BTreeMap::new(),
        }
    }
}

/// CORS settings. Off unless `allowed_origins` is non-empty.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    /// Origins allowed to make cross-origin requests (exact match). Empty: CORS off.
    pub allowed_origins: Vec<String>,
    /// Preflight cache time in seconds. Default 600.
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self { allowed_origins: Vec::new(), max_age_secs: 600 }
    }
}
