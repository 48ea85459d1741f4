//! `[authorization]` configuration: typed, `deny_unknown_fields`, compiled by
//! [`crate::Policy::compile`].
//!
//! ```
//! let cfg: mcp_authz::AuthorizationConfig = serde_json::from_value(serde_json::json!({
//!     "default_role": "user",
//!     "roles": {
//!         "user": { "permissions": ["tools:list", "tools:execute:calculate"] },
//!         "admin": { "permissions": "all", "inherits": ["user"] }
//!     },
//!     "scopes": { "mcp:tools": ["tools:list", "tools:execute:*"] },
//!     "tools": [{ "name": "restart_server", "roles": ["admin"], "audit_log": true }]
//! })).unwrap();
//! assert!(cfg.enabled && cfg.hide_forbidden);
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The `[authorization]` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// Authorization on (default). **`false` allows every action to every caller**, authenticated
    /// or not; only for development.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Role given to an authenticated (non-anonymous) caller that carries no role at all, except
    /// OAuth access tokens (their scopes are their grant).
    #[serde(default)]
    pub default_role: Option<String>,
    /// Answer RBAC denials as if the tool / resource / prompt did not exist, and hide forbidden
    /// items from lists (default). Scope denials are always answered with 403 `insufficient_scope`.
    #[serde(default = "yes")]
    pub hide_forbidden: bool,
    /// Roles by name.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
    /// OAuth scope → the permissions a token with that scope holds.
    #[serde(default)]
    pub scopes: BTreeMap<String, Vec<String>>,
    /// `[[authorization.tools]]` rules.
    #[serde(default)]
    pub tools: Vec<ToolRule>,
    /// `[[authorization.resources]]` rules.
    #[serde(default)]
    pub resources: Vec<ResourceRule>,
    /// `[[authorization.prompts]]` rules.
    #[serde(default)]
    pub prompts: Vec<PromptRule>,
}

fn yes() -> bool {
    true
}

impl AuthorizationConfig {
    /// SHA-256 of the canonical JSON of this configuration (keys sorted, defaults filled in):
    /// equal for equal policies however the file was written, so an audit record can name the
    /// policy before and after a reload without carrying its content.
    ///
    /// ```
    /// let a: mcp_authz::AuthorizationConfig = serde_json::from_str(r#"{"default_role": null}"#).unwrap();
    /// assert_eq!(a.digest(), mcp_authz::AuthorizationConfig::default().digest());
    /// let b = mcp_authz::AuthorizationConfig { enabled: false, ..a };
    /// assert_ne!(b.digest(), mcp_authz::AuthorizationConfig::default().digest());
    /// ```
    pub fn digest(&self) -> [u8; 32] {
        let value = serde_json::to_value(self).unwrap_or_default();
        let mut bytes = Vec::new();
        mcp_core::canonical_json(&value, &mut bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref());
        out
    }
}

impl Default for AuthorizationConfig {
    /// Enabled, hiding forbidden items, no roles, no scopes, no rules: everything is denied.
    fn default() -> Self {
        Self {
            enabled: true,
            default_role: None,
            hide_forbidden: true,
            roles: BTreeMap::new(),
            scopes: BTreeMap::new(),
            tools: Vec::new(),
            resources: Vec::new(),
            prompts: Vec::new(),
        }
    }
}

/// One `[authorization.roles.<name>]` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// `["tools:list", ...]`, or `"all"` for every permission.
    #[serde(default)]
    pub permissions: Permissions,
    /// Roles whose permissions (transitively) this role also holds.
    #[serde(default)]
    pub inherits: Vec<String>,
}

/// The `permissions` of a role: a list, or the keyword `"all"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Permissions {
    /// Every permission (compiled as the `*` wildcard, which grants everything).
    All,
    /// These permissions (`segment:segment`, `*` as a segment grants the subtree).
    List(Vec<String>),
}

impl Default for Permissions {
    fn default() -> Self {
        Self::List(Vec::new())
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => serializer.serialize_str("all"),
            Self::List(list) => list.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Permissions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of permissions or the string \"all\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Permissions, E> {
                if v == "all" { Ok(Permissions::All) } else { Err(E::invalid_value(de::Unexpected::Str(v), &self)) }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Permissions, A::Error> {
                let mut out = Vec::new();
                while let Some(p) = seq.next_element::<String>()? {
                    out.push(p);
                }
                Ok(Permissions::List(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Fields shared by every rule; see [`crate::AccessRule`] for the semantics.
macro_rules! rule_struct {
    ($(#[$doc:meta])* $name:ident, $key:ident, $key_doc:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[doc = $key_doc]
            pub $key: String,
            /// Permission that admits a caller.
            #[serde(default)]
            pub permission: Option<String>,
            /// Roles that admit a caller (a role that inherits a listed role counts).
            #[serde(default)]
            pub roles: Option<Vec<String>>,
            /// Any authenticated caller; excludes `permission` and `roles`.
            #[serde(default)]
            pub public: bool,
            /// Audit every use, allowed or denied.
            #[serde(default)]
            pub audit_log: bool,
        }
    };
}

rule_struct!(
    /// One `[[authorization.tools]]` rule.
    ToolRule,
    name,
    "Tool name, or a prefix pattern ending in `*`."
);
rule_struct!(
    /// One `[[authorization.resources]]` rule.
    ResourceRule,
    uri,
    "Exact URI, a URI template (matched literally), or a prefix pattern ending in `*`."
);
rule_struct!(
    /// One `[[authorization.prompts]]` rule.
    PromptRule,
    name,
    "Prompt name, or a prefix pattern ending in `*`."
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_all_keyword() {
        let c: AuthorizationConfig = serde_json::from_value(json!({})).expect("empty config");
        assert_eq!(c, AuthorizationConfig::default());
        let r: RoleConfig = serde_json::from_value(json!({"permissions": "all"})).expect("all");
        assert_eq!(r.permissions, Permissions::All);
        assert!(serde_json::from_value::<RoleConfig>(json!({"permissions": "everything"})).is_err());
    }

    #[test]
    fn serializes_back_to_the_same_config() {
        let text = json!({
            "default_role": "user",
            "roles": { "user": { "permissions": ["tools:list"] }, "admin": { "permissions": "all" } },
            "tools": [{ "name": "x", "roles": ["admin"], "audit_log": true }]
        });
        let c: AuthorizationConfig = serde_json::from_value(text).expect("config");
        let back: AuthorizationConfig =
            serde_json::from_value(serde_json::to_value(&c).expect("serializes")).expect("reads back");
        assert_eq!(back, c);
        assert_eq!(back.digest(), c.digest());
        let mut other = c.clone();
        other.tools[0].audit_log = false;
        assert_ne!(other.digest(), c.digest());
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_value::<AuthorizationConfig>(json!({"enable": true})).is_err());
        assert!(serde_json::from_value::<ToolRule>(json!({"name": "x", "role": ["a"]})).is_err());
        assert!(serde_json::from_value::<RoleConfig>(json!({"inherit": ["a"]})).is_err());
    }
}
