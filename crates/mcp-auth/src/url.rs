//! URL rules shared by config checks and outbound calls.

use reqwest::Url;

/// True for `localhost`, `127.0.0.0/8` and `[::1]`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An absolute `https` URL (or `http` to a loopback host), without fragment or credentials.
pub(crate) fn check_endpoint(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("{s:?} is not an absolute URL ({e})"))?;
    let secure = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url));
    if !secure {
        return Err(format!("{s:?} must use https (http is allowed only on a loopback host)"));
    }
    if url.host().is_none() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{s:?} must have a host and no fragment or user info"));
    }
    Ok(url)
}

/// A resource URI (RFC 8707 §2): an endpoint URL without query or fragment.
pub(crate) fn check_resource_uri(s: &str) -> Result<Url, String> {
    let url = check_endpoint(s)?;
    if url.query().is_some() {
        return Err(format!("{s:?} must not have a query"));
    }
    Ok(url)
}
