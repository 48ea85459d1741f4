//! RFC 9728 OAuth 2.0 Protected Resource Metadata.

use serde::Serialize;

use crate::error::AuthError;
use crate::url::check_resource_uri;

/// The well-known suffix of RFC 9728 §3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The metadata document this server publishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProtectedResourceMetadata {
    /// This server's resource identifier.
    pub resource: String,
    /// Issuers whose tokens this resource accepts.
    pub authorization_servers: Vec<String>,
    /// Scopes a client may request for this resource.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How tokens may be sent: only the `Authorization` header.
    pub bearer_methods_supported: Vec<String>,
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Documentation URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for `resource` (an https URL, or http on loopback) accepting tokens from
    /// `authorization_servers`. `bearer_methods_supported` is always `["header"]`: query and
    /// form-body tokens are refused.
    pub fn new(
        resource: &str,
        authorization_servers: Vec<String>,
        scopes_supported: Vec<String>,
    ) -> Result<Self, AuthError> {
        check_resource_uri(resource).map_err(|e| AuthError::config(format!("resource: {e}")))?;
        Ok(Self {
            resource: resource.to_owned(),
            authorization_servers,
            scopes_supported,
            bearer_methods_supported: vec!["header".to_owned()],
            resource_name: None,
            resource_documentation: None,
        })
    }

    /// The JSON document (serve with `content-type: application/json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The metadata URL for this resource, in the path-inserted form of RFC 9728 §3.1 (what goes
    /// into `resource_metadata="…"`).
    pub fn metadata_url(&self) -> String {
        metadata_url(&self.resource).unwrap_or_default()
    }

    /// The paths to serve the document at: the path-inserted form (e.g.
    /// `/.well-known/oauth-protected-resource/mcp`) and, for clients that only try the root,
    /// `/.well-known/oauth-protected-resource`.
    pub fn well_known_paths(&self) -> Vec<String> {
        let path = resource_path(&self.resource);
        if path.is_empty() {
            vec![WELL_KNOWN.to_owned()]
        } else {
            vec![format!("{WELL_KNOWN}{path}"), WELL_KNOWN.to_owned()]
        }
    }
}

/// The resource's path, without a lone terminating `/`.
fn resource_path(resource: &str) -> String {
    match check_resource_uri(resource) {
        Ok(u) if u.path() != "/" => u.path().to_owned(),
        _ => String::new(),
    }
}

/// The RFC 9728 metadata URL for `resource`.
pub fn metadata_url(resource: &str) -> Result<String, AuthError> {
    let url = check_resource_uri(resource).map_err(|e| AuthError::config(format!("resource: {e}")))?;
    let origin = url.origin().ascii_serialization();
    Ok(format!("{origin}{WELL_KNOWN}{}", resource_path(resource)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_and_paths() {
        let m = ProtectedResourceMetadata::new(
            "https://mcp.example.com/mcp",
            vec!["https://as.example.com".into()],
            vec!["mcp:tools".into()],
        )
        .unwrap();
        assert_eq!(
            m.to_json(),
            r#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://as.example.com"],"scopes_supported":["mcp:tools"],"bearer_methods_supported":["header"]}"#
        );
        assert_eq!(m.metadata_url(), "https://mcp.example.com/.well-known/oauth-protected-resource/mcp");
        assert_eq!(
            m.well_known_paths(),
            vec!["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
        );
        let root = ProtectedResourceMetadata::new("https://mcp.example.com/", vec![], vec![]).unwrap();
        assert_eq!(root.metadata_url(), "https://mcp.example.com/.well-known/oauth-protected-resource");
        assert_eq!(root.well_known_paths(), vec!["/.well-known/oauth-protected-resource"]);
        assert_eq!(
            metadata_url("http://127.0.0.1:8765/mcp").unwrap(),
            "http://127.0.0.1:8765/.well-known/oauth-protected-resource/mcp"
        );
        assert!(ProtectedResourceMetadata::new("http://mcp.example.com/mcp", vec![], vec![]).is_err());
    }
}
