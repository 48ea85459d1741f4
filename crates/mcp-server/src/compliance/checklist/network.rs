//! Transport items: TLS, cipher suites, certificate validation, security headers, CORS.

use mcp_transport::outbound::{OutboundMin, Roots};
use mcp_transport::tls::TlsVersion;

use super::{CheckItem, Judge, Status};
use crate::Config;
use crate::compliance::hipaa::{is_aead_suite, is_loopback_host};

pub(super) fn tls(cfg: &Config) -> CheckItem {
    let listen = cfg.http.listen;
    let mut j = Judge::new("http.tls");
    let ok = match &cfg.http.tls {
        Some(t) => {
            let mtls = if t.client_auth.is_some() { ", client certificates verified" } else { "" };
            format!("HTTPS on {listen}{mtls}; stdio is a local pipe (no network)")
        }
        None if listen.ip().is_loopback() => {
            j.flag(
                Status::Warn,
                "http.tls",
                format!(
                    "plain HTTP on {listen} (loopback only): fine behind a TLS-terminating proxy on this host, \
                     otherwise set [http.tls] cert_path and key_path"
                ),
            );
            String::new()
        }
        None => {
            j.flag(Status::Fail, "http.tls", format!("plain HTTP on the non-loopback address {listen}"));
            String::new()
        }
    };
    j.finish("tls_all_transports", "TLS on all transports", ok)
}

pub(super) fn ciphers(cfg: &Config) -> CheckItem {
    let mut j = Judge::new("http.tls.min_version");
    let Some(t) = &cfg.http.tls else {
        j.flag(Status::Warn, "http.tls", "no TLS listener: the suites of a proxy in front are not checked here");
        return j.finish("strong_ciphers", "Strong cipher suites", String::new());
    };
    for s in t.cipher_suites.iter().filter(|s| !is_aead_suite(s)) {
        j.flag(Status::Fail, "http.tls.cipher_suites", format!("{s} is not an AEAD suite"));
    }
    if t.min_version == TlsVersion::Tls12 {
        j.flag(
            Status::Warn,
            "http.tls.min_version",
            "TLS 1.2 is accepted: set \"1.3\" unless some clients cannot speak it",
        );
    }
    let suites = if t.cipher_suites.is_empty() {
        "the provider's AEAD defaults".to_owned()
    } else {
        format!("{} AEAD suites", t.cipher_suites.len())
    };
    j.finish("strong_ciphers", "Strong cipher suites", format!("TLS 1.3 only, {suites}"))
}

pub(super) fn certificates(cfg: &Config) -> CheckItem {
    let o = &cfg.outbound_tls;
    let roots = match (o.roots, &o.ca_path) {
        (Roots::Webpki, None) => "the Mozilla roots".to_owned(),
        (Roots::System, None) => "the system roots".to_owned(),
        (Roots::None, _) => "the private CA of outbound_tls.ca_path".to_owned(),
        (r, Some(_)) => {
            format!("the {} roots and outbound_tls.ca_path", if r == Roots::System { "system" } else { "Mozilla" })
        }
    };
    let pins = if o.pins.is_empty() { String::new() } else { format!(", {} SPKI pins", o.pins.len()) };
    let min = if o.min_version == OutboundMin::Tls13 { "1.3" } else { "1.2" };
    let inbound = match cfg.http.tls.as_ref().and_then(|t| t.client_auth.as_ref()) {
        Some(c) if c.required => "client certificates required (mTLS)",
        Some(_) => "client certificates verified when presented",
        None => "client certificates not requested",
    };
    let ok = format!(
        "outbound certificates always verified (no switch turns it off) against {roots}{pins}, TLS {min} minimum; \
         {inbound}"
    );
    Judge::new("outbound_tls").finish("certificate_validation", "Certificate validation", ok)
}

pub(super) fn headers(cfg: &Config) -> CheckItem {
    let h = &cfg.http.security_headers;
    let mut j = Judge::new("http.security_headers.enabled");
    if !h.enabled {
        j.flag(Status::Fail, "http.security_headers.enabled", "security headers are off");
        return j.finish("security_headers", "Security headers configured", String::new());
    }
    for (value, key, name) in [
        (&h.content_security_policy, "http.security_headers.content_security_policy", "Content-Security-Policy"),
        (&h.frame_options, "http.security_headers.frame_options", "X-Frame-Options"),
        (&h.referrer_policy, "http.security_headers.referrer_policy", "Referrer-Policy"),
    ] {
        if value.trim().is_empty() {
            j.flag(Status::Warn, key, format!("{name} is empty"));
        }
    }
    if cfg.http.tls.is_some() && h.hsts.trim().is_empty() {
        j.flag(Status::Warn, "http.security_headers.hsts", "Strict-Transport-Security is empty on a TLS listener");
    }
    let hsts = if cfg.http.tls.is_some() { ", Strict-Transport-Security" } else { "" };
    let ok = format!("Content-Security-Policy, X-Frame-Options, Referrer-Policy{hsts} on every response");
    j.finish("security_headers", "Security headers configured", ok)
}

pub(super) fn cors(cfg: &Config) -> CheckItem {
    let http = &cfg.http;
    let mut j = Judge::new("http.cors.allowed_origins");
    for (list, key) in
        [(&http.cors.allowed_origins, "http.cors.allowed_origins"), (&http.allowed_origins, "http.allowed_origins")]
    {
        for o in list {
            if o.trim() == "*" || o.contains('*') {
                j.flag(Status::Fail, key, format!("{key} contains a wildcard"));
            } else if o.starts_with("http://") {
                let url = reqwest::Url::parse(o).ok();
                if !url.as_ref().and_then(reqwest::Url::host_str).is_some_and(is_loopback_host) {
                    j.flag(Status::Warn, key, format!("{key} allows the plain-http origin {o}"));
                }
            }
        }
    }
    let ok = match http.cors.allowed_origins.len() {
        0 => "CORS off: no cross-origin access".to_owned(),
        n => format!("CORS limited to {n} exact origin(s)"),
    };
    j.finish("cors_restricted", "CORS restricted", ok)
}
