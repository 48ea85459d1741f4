//! The compiled policy: built once from config and code rules, then shared (see
//! [`crate::PolicyAuthorizer`] for swapping it at runtime).

use std::fmt;

use mcp_core::traits::Authorizer;
use mcp_core::{Action, Decision, Denial, Principal};

use crate::bits::Mask;
use crate::config::AuthorizationConfig;
use crate::decide::FIXED;
use crate::defaults::Defaults;
use crate::error::AuthzError;
use crate::grants::{GrantTrie, Holder};
use crate::index::RuleSet;
use crate::roles::RoleTable;
use crate::rule::{CodeRules, TargetKind, specs};
use crate::scope::ScopeTable;

/// An RBAC policy compiled for fast, allocation-free decisions.
///
/// ```
/// use mcp_authz::{AccessRule, AuthorizationConfig, CodeRules, Policy};
/// use mcp_core::{Action, AuthMethod, Principal};
///
/// let config: AuthorizationConfig = toml_like();
/// # fn toml_like() -> AuthorizationConfig { serde_json::from_value(serde_json::json!({
/// #   "roles": { "user": { "permissions": ["tools:execute:calculate"] },
/// #              "admin": { "permissions": "all", "inherits": ["user"] } } })).unwrap() }
/// let mut code = CodeRules::new();
/// code.tool("restart_server", AccessRule::new().roles(["admin"]).audit_log(true));
/// let policy = Policy::compile(&config, &code)?;
///
/// let mut alice = Principal::new("alice", AuthMethod::ApiKey);
/// alice.roles.insert("user".into());
/// assert!(policy.decide(&alice, Action::call_tool("calculate")).is_allowed());
/// assert!(!policy.decide(&alice, Action::call_tool("restart_server")).is_allowed());
/// # Ok::<(), mcp_authz::AuthzError>(())
/// ```
pub struct Policy {
    pub(crate) enabled: bool,
    pub(crate) hide_forbidden: bool,
    pub(crate) default_role: Option<usize>,
    pub(crate) roles: RoleTable,
    pub(crate) scopes: ScopeTable,
    pub(crate) trie: GrantTrie,
    pub(crate) rules: RuleSet,
    /// Grantors of each permission in [`FIXED`].
    pub(crate) fixed: [Mask; FIXED.len()],
    /// Default permissions of the known tools and prompts and of the target-less actions.
    pub(crate) defaults: Defaults,
}

impl Policy {
    /// Compile `config` and the server's `code` rules. Refuses inheritance cycles, unknown
    /// roles (in `inherits`, `default_role` and config rules), malformed permissions,
    /// contradictory rules (`public` with `permission` / `roles`, empty `roles`), duplicate
    /// config rules, and more than 256 roles or 256 scopes.
    pub fn compile(config: &AuthorizationConfig, code: &CodeRules) -> Result<Self, AuthzError> {
        let mut roles = RoleTable::compile(&config.roles)?;
        let scopes = ScopeTable::compile(&config.scopes)?;
        let default_role = match &config.default_role {
            None => None,
            Some(name) => Some(roles.get(name).ok_or_else(|| AuthzError::UnknownRole {
                role: crate::error::truncated(name),
                context: "default_role".into(),
            })?),
        };
        // Implicit roles interned by code rules hold no permissions, so the trie is final here.
        let mut trie = GrantTrie::default();
        for (i, role) in roles.roles.iter().enumerate() {
            for p in &role.own {
                trie.insert(p, Holder::Role(i));
            }
        }
        for (i, perms) in scopes.grants.iter().enumerate() {
            for p in perms {
                trie.insert(p, Holder::Scope(i));
            }
        }
        let rules = RuleSet::compile(specs(config, code), &mut roles, &trie)?;
        let fixed = FIXED.map(|p| trie.grantors(p.split(':')));
        let defaults =
            Defaults::compile(&trie, code.named(TargetKind::Tool, config), code.named(TargetKind::Prompt, config));
        Ok(Self {
            enabled: config.enabled,
            hide_forbidden: config.hide_forbidden,
            default_role,
            roles,
            scopes,
            trie,
            rules,
            fixed,
            defaults,
        })
    }

    /// A policy that denies every action (enabled, no roles, no rules).
    pub fn deny_all() -> Self {
        Self {
            enabled: true,
            hide_forbidden: true,
            default_role: None,
            roles: RoleTable::default(),
            scopes: ScopeTable::default(),
            trie: GrantTrie::default(),
            rules: RuleSet::default(),
            fixed: [Mask::default(); FIXED.len()],
            defaults: Defaults::default(),
        }
    }

    /// False when `enabled = false`: every action is allowed to every caller.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// True when RBAC denials should be answered as "unknown tool / resource / prompt" and
    /// forbidden items left out of lists.
    pub fn hide_forbidden(&self) -> bool {
        self.hide_forbidden
    }

    /// True when this denial should be answered as if the target did not exist: hiding is on and
    /// the denial is not a scope denial (those always answer 403 `insufficient_scope`).
    pub fn should_hide(&self, denial: &Denial) -> bool {
        self.hide_forbidden && !denial.is_scope_denial()
    }

    /// The decision for `principal` doing `action` (the [`Authorizer`] entry point).
    pub fn decide(&self, principal: &Principal, action: Action) -> Decision {
        self.subject(principal).decide(action)
    }

    /// Names of the tools in `names` that `principal` may call, in order. Equal to calling
    /// [`Policy::decide`] with [`Action::CallTool`] for each (listing itself needs `tools:list`,
    /// checked separately with [`Action::ListTools`]).
    pub fn visible_tools<'a, T: AsRef<str> + 'a>(
        &'a self,
        principal: &'a Principal,
        names: impl IntoIterator<Item = T> + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        let subject = self.subject(principal);
        names.into_iter().filter(move |n| subject.allows_tool(n.as_ref()))
    }

    /// Resources (URIs, or template strings for `resources/templates/list`) that `principal` may
    /// read; equal to per-item [`Action::ReadResource`] decisions.
    pub fn visible_resources<'a, T: AsRef<str> + 'a>(
        &'a self,
        principal: &'a Principal,
        uris: impl IntoIterator<Item = T> + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        let subject = self.subject(principal);
        uris.into_iter().filter(move |u| subject.allows_resource(u.as_ref()))
    }

    /// Prompts that `principal` may get; equal to per-item [`Action::GetPrompt`] decisions.
    pub fn visible_prompts<'a, T: AsRef<str> + 'a>(
        &'a self,
        principal: &'a Principal,
        names: impl IntoIterator<Item = T> + 'a,
    ) -> impl Iterator<Item = T> + 'a {
        let subject = self.subject(principal);
        names.into_iter().filter(move |n| subject.allows_prompt(n.as_ref()))
    }
}

impl Authorizer for Policy {
    fn authorize(&self, principal: &Principal, action: Action) -> Decision {
        self.decide(principal, action)
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("enabled", &self.enabled)
            .field("hide_forbidden", &self.hide_forbidden)
            .field("roles", &self.roles.roles.len())
            .field("scopes", &self.scopes.names.len())
            .field("rules", &self.rules.rules.len())
            .finish_non_exhaustive()
    }
}
