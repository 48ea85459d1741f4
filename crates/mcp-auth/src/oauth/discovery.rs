//! Authorization-server metadata: RFC 8414 and OpenID Connect Discovery.

use serde::Deserialize;

use super::fetch::HttpFetch;
use crate::config::DiscoveryMode;
use crate::url::check_endpoint;

/// What this resource server needs from the issuer's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IssuerMetadata {
    pub(crate) issuer: String,
    pub(crate) jwks_uri: String,
    pub(crate) introspection_endpoint: Option<String>,
}

#[derive(Deserialize)]
struct MetadataDoc {
    issuer: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    introspection_endpoint: Option<String>,
}

/// RFC 8414 §3.1: the well-known suffix goes between host and path.
pub(crate) fn rfc8414_url(issuer: &str) -> Result<String, String> {
    let url = check_endpoint(issuer)?;
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    Ok(format!("{origin}/.well-known/oauth-authorization-server{path}"))
}

/// OIDC Discovery §4: the suffix is appended to the issuer.
pub(crate) fn oidc_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// Fetch and check the metadata. The document's `issuer` must equal the configured one exactly
/// (RFC 8414 §3.3, mix-up defence); endpoints must be https (http only on loopback).
pub(crate) async fn discover(
    fetch: &dyn HttpFetch,
    issuer: &str,
    mode: DiscoveryMode,
    jwks_override: Option<&str>,
    introspection_override: Option<&str>,
) -> Result<IssuerMetadata, String> {
    let urls: Vec<String> = match mode {
        DiscoveryMode::None => {
            let jwks_uri = jwks_override.ok_or("discovery = \"none\" needs jwks_uri")?.to_owned();
            return Ok(IssuerMetadata {
                issuer: issuer.to_owned(),
                jwks_uri,
                introspection_endpoint: introspection_override.map(str::to_owned),
            });
        }
        DiscoveryMode::Oauth => vec![rfc8414_url(issuer)?],
        DiscoveryMode::Oidc => vec![oidc_url(issuer)],
        DiscoveryMode::Auto => vec![rfc8414_url(issuer)?, oidc_url(issuer)],
    };
    let mut last_err = String::new();
    for url in &urls {
        match fetch_one(fetch, url, issuer).await {
            Ok(mut m) => {
                if let Some(j) = jwks_override {
                    m.jwks_uri = j.to_owned();
                }
                if let Some(i) = introspection_override {
                    m.introspection_endpoint = Some(i.to_owned());
                }
                return Ok(m);
            }
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

async fn fetch_one(fetch: &dyn HttpFetch, url: &str, issuer: &str) -> Result<IssuerMetadata, String> {
    let resp = fetch.get(url).await.map_err(|e| format!("{url}: {e}"))?;
    if resp.status != 200 {
        return Err(format!("{url}: HTTP {}", resp.status));
    }
    if !crate::jose::is_json_object(&resp.body) {
        return Err(format!("{url}: metadata is not a JSON object"));
    }
    let doc: MetadataDoc = serde_json::from_slice(&resp.body).map_err(|e| format!("{url}: invalid metadata: {e}"))?;
    if doc.issuer != issuer {
        return Err(format!("{url}: metadata names issuer {:?}, expected {issuer:?}", doc.issuer));
    }
    let jwks_uri = doc.jwks_uri.ok_or_else(|| format!("{url}: metadata has no jwks_uri"))?;
    check_endpoint(&jwks_uri).map_err(|e| format!("jwks_uri: {e}"))?;
    if let Some(i) = &doc.introspection_endpoint {
        check_endpoint(i).map_err(|e| format!("introspection_endpoint: {e}"))?;
    }
    Ok(IssuerMetadata { issuer: doc.issuer, jwks_uri, introspection_endpoint: doc.introspection_endpoint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls() {
        assert_eq!(
            rfc8414_url("https://as.example.com").unwrap(),
            "https://as.example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            rfc8414_url("https://as.example.com/tenant1/").unwrap(),
            "https://as.example.com/.well-known/oauth-authorization-server/tenant1"
        );
        assert_eq!(oidc_url("https://as.example.com/t/"), "https://as.example.com/t/.well-known/openid-configuration");
        assert!(rfc8414_url("http://as.example.com").is_err());
        assert!(rfc8414_url("http://127.0.0.1:9000").is_ok());
    }
}
