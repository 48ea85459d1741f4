//! `explain`: why a principal is allowed or denied an action, with the deciding rule and where
//! each of the principal's permissions comes from. The result is computed by the same code path
//! as [`Policy::decide`], so an explanation cannot disagree with a decision.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use mcp_core::{Action, AuthMethod, Decision, Permission, Principal};

use crate::decide::Target;
use crate::policy::Policy;
use crate::rule::Origin;

/// How the principal holds a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleSource {
    /// Listed in the principal's roles.
    Assigned,
    /// The policy's `default_role` (the authenticated principal has no role).
    DefaultRole,
    /// Inherited by the named role.
    InheritedBy(Arc<str>),
}

/// Where one effective permission comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantSource {
    /// The principal's own permissions (API-key config, token claims).
    Direct,
    /// The named role lists it (see [`Explanation::roles`] for how the role is held).
    Role(Arc<str>),
    /// The named OAuth scope maps to it.
    Scope(Arc<str>),
}

/// One effective permission of the principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The permission (`"all"` roles show as `*`).
    pub permission: Permission,
    /// Where it comes from.
    pub source: GrantSource,
    /// True when it grants the required permission.
    pub grants_required: bool,
}

/// An explained decision; `Display` renders it for the CLI.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Explanation {
    /// The action checked.
    pub action: Action,
    /// The principal id.
    pub principal: Arc<str>,
    /// How the principal authenticated.
    pub method: AuthMethod,
    /// False when authorization is disabled (everything allowed).
    pub enabled: bool,
    /// Where the deciding rule comes from.
    pub origin: Origin,
    /// The deciding rule id (`tool:restart_server`, `default:tools:execute:calc`).
    pub rule: Arc<str>,
    /// The rule admits any authenticated caller.
    pub public: bool,
    /// The permission that admits a caller, if any path does.
    pub required_permission: Option<Permission>,
    /// The roles that admit a caller (either suffices, as does the permission).
    pub required_roles: Vec<Arc<str>>,
    /// The principal's effective roles and how each is held; `(name, source, defined)` where
    /// `defined` is false for a role the policy does not know (it grants nothing).
    pub roles: Vec<(Arc<str>, RoleSource, bool)>,
    /// The principal's effective permissions.
    pub grants: Vec<Grant>,
    /// The result.
    pub allowed: bool,
    /// Why it was denied (empty when allowed).
    pub reason: &'static str,
    /// For a scope denial: every scope a step-up token needs.
    pub step_up_scopes: Vec<Arc<str>>,
    /// The deciding rule audits every use.
    pub audit: bool,
}

impl Policy {
    /// Explain the decision for `principal` doing `action`.
    pub fn explain(&self, principal: &Principal, action: &Action) -> Explanation {
        let subject = self.subject(principal);
        let (allowed, reason, step_up_scopes, audit) = match subject.decide(action.clone()) {
            Decision::Allow(permit) => (true, "", Vec::new(), permit.audit()),
            Decision::Deny(d) => (false, d.reason, d.scopes.to_vec(), d.audit),
        };
        let rule =
            Target::of(action).rule_key().and_then(|(k, key)| self.rules.find(k, key)).map(|i| &self.rules.rules[i]);
        let (origin, rule_id, public, required_permission, required_roles) = match rule {
            Some(r) => {
                let perm =
                    if r.uses_default_permission() { Some(action.required_permission()) } else { r.permission.clone() };
                (r.origin, r.id.clone(), r.public, perm, r.role_names.clone())
            }
            None => {
                let perm = action.required_permission();
                (Origin::Default, format!("default:{perm}").into(), false, Some(perm), Vec::new())
            }
        };
        let roles = self.role_sources(principal);
        let mut grants = Vec::new();
        let mut push = |permission: &Permission, source: GrantSource| {
            let grants_required = required_permission.as_ref().is_some_and(|r| permission.grants(r));
            grants.push(Grant { permission: permission.clone(), source, grants_required });
        };
        for p in &principal.permissions {
            push(p, GrantSource::Direct);
        }
        for (name, _, _) in &roles {
            if let Some(i) = self.roles.get(name) {
                for p in &self.roles.roles[i].own {
                    push(p, GrantSource::Role(name.clone()));
                }
            }
        }
        for scope in &principal.scopes {
            if let Some(i) = self.scopes.get(scope) {
                for p in &self.scopes.grants[i] {
                    push(p, GrantSource::Scope(self.scopes.names[i].clone()));
                }
            }
        }
        Explanation {
            action: action.clone(),
            principal: principal.id.clone(),
            method: principal.method,
            enabled: self.enabled,
            origin,
            rule: rule_id,
            public,
            required_permission,
            required_roles,
            roles,
            grants,
            allowed,
            reason,
            step_up_scopes,
            audit,
        }
    }

    /// Effective roles, breadth-first from the assigned (or default) roles through `inherits`.
    fn role_sources(&self, principal: &Principal) -> Vec<(Arc<str>, RoleSource, bool)> {
        let mut out: Vec<(Arc<str>, RoleSource, bool)> = Vec::new();
        let mut queue = VecDeque::new();
        for r in &principal.roles {
            match self.roles.get(r) {
                Some(i) => queue.push_back((i, RoleSource::Assigned)),
                None => out.push((r.clone(), RoleSource::Assigned, false)),
            }
        }
        if let Some(d) = self.default_role_for(principal) {
            queue.push_back((d, RoleSource::DefaultRole));
        }
        let mut seen = crate::bits::Bits::default();
        while let Some((i, source)) = queue.pop_front() {
            if seen.has(i) {
                continue;
            }
            seen.set(i);
            let role = &self.roles.roles[i];
            out.push((role.name.clone(), source, role.defined));
            for &parent in &role.inherits {
                queue.push_back((parent, RoleSource::InheritedBy(role.name.clone())));
            }
        }
        out
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = self.action.target().map(|t| format!(" {t}")).unwrap_or_default();
        writeln!(f, "principal: {} ({})", self.principal, self.method.as_str())?;
        writeln!(f, "action:    {}{target}", self.action.kind())?;
        if !self.enabled {
            writeln!(f, "WARNING:   authorization is disabled (enabled = false): every action is allowed")?;
        }
        write!(f, "rule:      {} ({})", self.rule, self.origin)?;
        let mut needs = Vec::new();
        if self.public {
            needs.push("any authenticated caller".to_owned());
        }
        if let Some(p) = &self.required_permission {
            needs.push(format!("permission {p}"));
        }
        if !self.required_roles.is_empty() {
            let names: Vec<&str> = self.required_roles.iter().map(|r| &**r).collect();
            needs.push(format!("role {}", names.join(" | ")));
        }
        write!(f, ": requires {}", needs.join(" OR "))?;
        writeln!(f, "{}", if self.audit { "; audit_log" } else { "" })?;
        writeln!(f, "roles:{}", if self.roles.is_empty() { " (none)" } else { "" })?;
        for (name, source, defined) in &self.roles {
            let how = match source {
                RoleSource::Assigned => "assigned".to_owned(),
                RoleSource::DefaultRole => "default_role".to_owned(),
                RoleSource::InheritedBy(by) => format!("inherited by {by}"),
            };
            let hit = if self.required_roles.contains(name) { "  <- admitted by the rule" } else { "" };
            let undefined = if *defined { "" } else { ", not defined in the policy: grants nothing" };
            writeln!(f, "  {name} ({how}{undefined}){hit}")?;
        }
        writeln!(f, "permissions:{}", if self.grants.is_empty() { " (none)" } else { "" })?;
        for g in &self.grants {
            let from = match &g.source {
                GrantSource::Direct => "direct".to_owned(),
                GrantSource::Role(r) => format!("role {r}"),
                GrantSource::Scope(s) => format!("scope {s}"),
            };
            let hit = if g.grants_required { "  <- grants the required permission" } else { "" };
            writeln!(f, "  {} (from {from}){hit}", g.permission)?;
        }
        if self.allowed {
            write!(f, "result:    ALLOWED")
        } else {
            write!(f, "result:    DENIED ({})", self.reason)?;
            if !self.step_up_scopes.is_empty() {
                let s: Vec<&str> = self.step_up_scopes.iter().map(|s| &**s).collect();
                write!(f, "; insufficient_scope, a token with scopes \"{}\" would be allowed", s.join(" "))?;
            }
            Ok(())
        }
    }
}
