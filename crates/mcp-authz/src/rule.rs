//! Access rules: set in code by the server ([`AccessRule`], [`CodeRules`]) or in config
//! (`[[authorization.tools]]`, ...), and what they mean.
//!
//! A rule admits a caller when:
//! - it is **public**: the caller is authenticated (not [`mcp_core::AuthMethod::Anonymous`]);
//! - otherwise the caller holds the rule's **permission** OR has one of its **roles** (a role
//!   that inherits a listed role counts). Either suffices: roles admit role-carrying callers such
//!   as API keys, the permission admits OAuth tokens through `[authorization.scopes]`;
//! - a rule with neither requires the action's default permission (`tools:execute:<name>`,
//!   `resources:read`, `prompts:get:<name>`, ...); it exists to turn on `audit_log`.
//!
//! Config rules override code rules: when any config rule matches a target, the most specific
//! config rule decides; otherwise the most specific code rule; otherwise the default permission.
//! Within one origin an exact name beats a prefix pattern, and a longer prefix beats a shorter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::config::{AuthorizationConfig, PromptRule, ResourceRule, ToolRule};

/// What a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetKind {
    /// Tools, by name.
    Tool,
    /// Resources and resource templates, by URI.
    Resource,
    /// Prompts, by name.
    Prompt,
}

impl TargetKind {
    /// `tool`, `resource` or `prompt` (the prefix of rule ids).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Resource => "resource",
            Self::Prompt => "prompt",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the deciding rule came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// `[authorization]` in the config file.
    Config,
    /// Registered by the server in code.
    Code,
    /// No rule matched: the action's default permission.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "config",
            Self::Code => "code",
            Self::Default => "default",
        })
    }
}

/// A rule set in code, e.g. when the server registers a tool.
///
/// ```
/// use mcp_authz::AccessRule;
/// let admin_only = AccessRule::new().permission("tools:execute:admin").roles(["admin"]).audit_log(true);
/// let open = AccessRule::public();
/// # let _ = (admin_only, open);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessRule {
    pub(crate) permission: Option<String>,
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) public: bool,
    pub(crate) audit_log: bool,
}

impl AccessRule {
    /// A rule requiring the action's default permission until `permission` / `roles` are set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A rule admitting every authenticated caller.
    pub fn public() -> Self {
        Self { public: true, ..Self::default() }
    }

    /// The permission that admits a caller (checked when the policy is compiled).
    #[must_use]
    pub fn permission(mut self, permission: impl Into<String>) -> Self {
        self.permission = Some(permission.into());
        self
    }

    /// Roles that admit a caller.
    #[must_use]
    pub fn roles<S: Into<String>>(mut self, roles: impl IntoIterator<Item = S>) -> Self {
        self.roles = Some(roles.into_iter().map(Into::into).collect());
        self
    }

    /// Audit every use of the target, allowed or denied.
    #[must_use]
    pub fn audit_log(mut self, on: bool) -> Self {
        self.audit_log = on;
        self
    }
}

/// The rules the server registers in code, by target. Registering the same name twice keeps the
/// last rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeRules {
    rules: [BTreeMap<String, AccessRule>; 3],
    served: [BTreeSet<String>; 3],
}

impl CodeRules {
    /// No rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// The rule for a tool name (or prefix pattern ending in `*`).
    pub fn tool(&mut self, name: impl Into<String>, rule: AccessRule) -> &mut Self {
        self.add(TargetKind::Tool, name.into(), rule)
    }

    /// The rule for a resource URI, template, or prefix pattern ending in `*`.
    pub fn resource(&mut self, uri: impl Into<String>, rule: AccessRule) -> &mut Self {
        self.add(TargetKind::Resource, uri.into(), rule)
    }

    /// The rule for a prompt name (or prefix pattern ending in `*`).
    pub fn prompt(&mut self, name: impl Into<String>, rule: AccessRule) -> &mut Self {
        self.add(TargetKind::Prompt, name.into(), rule)
    }

    /// Declare a tool or prompt name the server serves, with or without a rule. Its default
    /// permission is compiled into the policy, so that deciding about it allocates nothing, not
    /// even for a denial. Decisions are the same with or without it.
    pub fn serves(&mut self, kind: TargetKind, name: impl Into<String>) -> &mut Self {
        self.served[kind.index()].insert(name.into());
        self
    }

    /// The names of `kind` whose default permission is precompiled: the served names and the
    /// exact (not prefix) rule names of both origins.
    pub(crate) fn named<'a>(&'a self, kind: TargetKind, config: &'a AuthorizationConfig) -> Vec<&'a str> {
        let from_config: Vec<&str> = match kind {
            TargetKind::Tool => config.tools.iter().map(|t| t.name.as_str()).collect(),
            TargetKind::Prompt => config.prompts.iter().map(|p| p.name.as_str()).collect(),
            TargetKind::Resource => Vec::new(),
        };
        let k = kind.index();
        let code = self.rules[k].keys().chain(&self.served[k]).map(String::as_str);
        from_config.into_iter().chain(code).filter(|n| !n.ends_with('*')).collect()
    }

    /// The rule registered for `kind` and exactly `pattern`.
    pub fn get(&self, kind: TargetKind, pattern: &str) -> Option<&AccessRule> {
        self.rules[kind.index()].get(pattern)
    }

    /// True when no rule is registered.
    pub fn is_empty(&self) -> bool {
        self.rules.iter().all(BTreeMap::is_empty)
    }

    fn add(&mut self, kind: TargetKind, pattern: String, rule: AccessRule) -> &mut Self {
        self.rules[kind.index()].insert(pattern, rule);
        self
    }
}

/// One rule from either origin, before compilation.
#[derive(Debug)]
pub(crate) struct RuleSpec<'a> {
    pub(crate) kind: TargetKind,
    pub(crate) pattern: &'a str,
    pub(crate) origin: Origin,
    pub(crate) rule: AccessRule,
}

/// Every rule of both origins, config first.
pub(crate) fn specs<'a>(config: &'a AuthorizationConfig, code: &'a CodeRules) -> Vec<RuleSpec<'a>> {
    let mut out = Vec::new();
    let cfg = |kind, pattern, permission: &Option<String>, roles: &Option<Vec<String>>, public, audit_log| RuleSpec {
        kind,
        pattern,
        origin: Origin::Config,
        rule: AccessRule { permission: permission.clone(), roles: roles.clone(), public, audit_log },
    };
    for ToolRule { name, permission, roles, public, audit_log } in &config.tools {
        out.push(cfg(TargetKind::Tool, name, permission, roles, *public, *audit_log));
    }
    for ResourceRule { uri, permission, roles, public, audit_log } in &config.resources {
        out.push(cfg(TargetKind::Resource, uri, permission, roles, *public, *audit_log));
    }
    for PromptRule { name, permission, roles, public, audit_log } in &config.prompts {
        out.push(cfg(TargetKind::Prompt, name, permission, roles, *public, *audit_log));
    }
    for (i, map) in code.rules.iter().enumerate() {
        let kind = [TargetKind::Tool, TargetKind::Resource, TargetKind::Prompt][i];
        for (pattern, rule) in map {
            out.push(RuleSpec { kind, pattern, origin: Origin::Code, rule: rule.clone() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_registry() {
        let r = AccessRule::new().permission("tools:execute:admin").roles(["admin"]).audit_log(true);
        assert_eq!(r.permission.as_deref(), Some("tools:execute:admin"));
        assert_eq!(r.roles, Some(vec!["admin".to_owned()]));
        assert!(r.audit_log && !r.public);
        let mut code = CodeRules::new();
        assert!(code.is_empty());
        code.tool("x", AccessRule::new()).tool("x", AccessRule::public()).prompt("p", AccessRule::new());
        assert_eq!(code.get(TargetKind::Tool, "x"), Some(&AccessRule::public()));
        assert!(code.get(TargetKind::Resource, "x").is_none());
        let cfg = AuthorizationConfig::default();
        let s = specs(&cfg, &code);
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|s| s.origin == Origin::Code));
        code.serves(TargetKind::Tool, "served").tool("pre*", AccessRule::new());
        assert_eq!(code.named(TargetKind::Tool, &cfg), ["x", "served"]);
        assert_eq!(code.named(TargetKind::Prompt, &cfg), ["p"]);
    }
}
