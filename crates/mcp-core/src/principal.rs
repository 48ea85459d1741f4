use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::error::InvalidPermission;

/// How a principal proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// No credentials (only possible when authentication is off).
    Anonymous,
    /// The local process on the other end of stdio.
    Stdio,
    /// An API key.
    ApiKey,
    /// A JWT signed with a configured key.
    Jwt,
    /// An OAuth 2.1 access token from an authorization server.
    OAuth,
    /// A client certificate (mutual TLS).
    Mtls,
}

impl AuthMethod {
    /// Stable lowercase name for logs and audit.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Stdio => "stdio",
            Self::ApiKey => "api_key",
            Self::Jwt => "jwt",
            Self::OAuth => "oauth",
            Self::Mtls => "mtls",
        }
    }
}

/// A hierarchical permission such as `tools:execute:admin`.
///
/// Segments are non-empty and made of `[A-Za-z0-9_.-]`, or a single `*` wildcard.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission(Arc<str>);

impl Permission {
    /// Built from text this crate produced from valid segments.
    pub(crate) fn from_trusted(text: String) -> Self {
        Self(text.into())
    }

    /// The permission as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when holding `self` grants `wanted`: equal, a prefix of whole segments
    /// (`tools` grants `tools:execute:x`), or a `*` segment matching the rest.
    ///
    /// ```
    /// use mcp_core::Permission;
    /// let p = |s: &str| s.parse::<Permission>().unwrap();
    /// assert!(p("tools").grants(&p("tools:execute:calc")));
    /// assert!(p("tools:*").grants(&p("tools:execute:calc")));
    /// assert!(!p("tools:read").grants(&p("tools:execute:calc")));
    /// ```
    pub fn grants(&self, wanted: &Permission) -> bool {
        let mut held = self.0.split(':');
        let mut want = wanted.0.split(':');
        loop {
            match (held.next(), want.next()) {
                (None, _) => return true,
                (Some("*"), Some(_)) => return true,
                (Some(h), Some(w)) if h == w => continue,
                _ => return false,
            }
        }
    }
}

impl FromStr for Permission {
    type Err = InvalidPermission;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok_segment = |seg: &str| {
            seg == "*" || (!seg.is_empty() && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)))
        };
        if s.len() > 256 || !s.split(':').all(ok_segment) {
            return Err(InvalidPermission(s.chars().take(64).collect()));
        }
        Ok(Self(s.into()))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who is making a request. Travels in request extensions, never in globals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Stable id for logs and audit (a key id, a subject, a certificate name — never a secret).
    pub id: Arc<str>,
    /// How the principal authenticated.
    pub method: AuthMethod,
    /// Roles granted.
    pub roles: BTreeSet<Arc<str>>,
    /// Permissions granted directly (roles add more through the authorizer).
    pub permissions: BTreeSet<Permission>,
    /// OAuth scopes of the token, if any.
    pub scopes: BTreeSet<Arc<str>>,
    /// Rate-limit class (from API-key config or claims), if any.
    pub rate_class: Option<Arc<str>>,
}

impl Principal {
    /// The caller when authentication is disabled.
    pub fn anonymous() -> Self {
        Self::new("anonymous", AuthMethod::Anonymous)
    }

    /// A principal with no roles or permissions.
    pub fn new(id: impl Into<Arc<str>>, method: AuthMethod) -> Self {
        Self {
            id: id.into(),
            method,
            roles: BTreeSet::new(),
            permissions: BTreeSet::new(),
            scopes: BTreeSet::new(),
            rate_class: None,
        }
    }

    /// True for the unauthenticated caller.
    pub fn is_anonymous(&self) -> bool {
        self.method == AuthMethod::Anonymous
    }
}
