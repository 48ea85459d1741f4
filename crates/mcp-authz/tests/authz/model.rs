//! Generators for the property tests: small random policies, principals and the action universe.

use std::collections::{BTreeMap, BTreeSet};

use mcp_authz::{AuthorizationConfig, CodeRules, Permissions, Policy, PromptRule, ResourceRule, RoleConfig, ToolRule};
use mcp_core::{Action, AuthMethod, Permission, Principal};
use proptest::prelude::*;

pub const PERMS: &[&str] = &[
    "tools",
    "tools:*",
    "tools:list",
    "tools:execute:a",
    "tools:execute:*",
    "tools:execute:b",
    "tools:execute:a_x",
    "resources:read",
    "resources:*",
    "prompts:get:p",
    "prompts:list",
    "admin",
    "admin:logging",
    "*",
];
pub const TOOLS: &[&str] = &["a", "b", "c", "a:x"];
pub const URIS: &[&str] = &["mcp://a/x", "mcp://a/y", "mcp://b"];
pub const PROMPTS: &[&str] = &["p", "q"];
pub const SCOPES: usize = 3;

/// `None`: public; otherwise (permission, roles), either possibly absent.
pub type RuleModel = Option<(Option<usize>, Vec<usize>)>;

#[derive(Clone, Debug)]
pub struct Model {
    /// Per role: permission indices, inherited roles (lower indices only: acyclic).
    pub roles: Vec<(Vec<usize>, Vec<usize>)>,
    pub scopes: Vec<Vec<usize>>,
    pub default_role: Option<usize>,
    pub tools: BTreeMap<usize, RuleModel>,
    pub resources: BTreeMap<usize, RuleModel>,
    pub prompts: BTreeMap<usize, RuleModel>,
}

pub fn rule_model(roles: usize) -> impl Strategy<Value = RuleModel> {
    let perm = proptest::option::of(0..PERMS.len());
    proptest::option::weighted(0.85, (perm, proptest::collection::vec(0..roles, 0..3)))
}

pub fn model() -> impl Strategy<Value = Model> {
    (1usize..6)
        .prop_flat_map(|n| {
            let roles = (0..n)
                .map(|i| {
                    let inherits =
                        if i == 0 { Just(Vec::new()).boxed() } else { proptest::collection::vec(0..i, 0..3).boxed() };
                    (proptest::collection::vec(0..PERMS.len(), 0..4), inherits)
                })
                .collect::<Vec<_>>();
            (
                roles,
                proptest::collection::vec(proptest::collection::vec(0..PERMS.len(), 0..3), SCOPES),
                proptest::option::of(0..n),
                proptest::collection::btree_map(0..TOOLS.len() + 1, rule_model(n), 0..4),
                proptest::collection::btree_map(0..URIS.len() + 1, rule_model(n), 0..3),
                proptest::collection::btree_map(0..PROMPTS.len(), rule_model(n), 0..2),
            )
        })
        .prop_map(|(roles, scopes, default_role, tools, resources, prompts)| Model {
            roles,
            scopes,
            default_role,
            tools,
            resources,
            prompts,
        })
}

pub fn role(i: usize) -> String {
    format!("r{i}")
}

pub fn fields(m: &RuleModel) -> (Option<String>, Option<Vec<String>>, bool) {
    match m {
        None => (None, None, true),
        Some((perm, roles)) => {
            let roles: Vec<String> = roles.iter().map(|r| role(*r)).collect::<BTreeSet<_>>().into_iter().collect();
            (perm.map(|p| PERMS[p].to_owned()), (!roles.is_empty()).then_some(roles), false)
        }
    }
}

impl Model {
    pub fn config(&self) -> AuthorizationConfig {
        let roles = self
            .roles
            .iter()
            .enumerate()
            .map(|(i, (perms, inh))| {
                let permissions = Permissions::List(perms.iter().map(|p| PERMS[*p].to_owned()).collect());
                (role(i), RoleConfig { permissions, inherits: inh.iter().map(|r| role(*r)).collect() })
            })
            .collect();
        let scopes = self
            .scopes
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("s{i}"), p.iter().map(|p| PERMS[*p].to_owned()).collect()))
            .collect();
        // Index == len means a catch-all prefix pattern.
        let pat = |list: &[&str], i: usize| list.get(i).map_or("*".to_owned(), |s| (*s).to_owned());
        let tools = self.tools.iter().map(|(t, m)| {
            let (permission, roles, public) = fields(m);
            ToolRule { name: pat(TOOLS, *t), permission, roles, public, audit_log: t % 2 == 0 }
        });
        let resources = self.resources.iter().map(|(u, m)| {
            let (permission, roles, public) = fields(m);
            let uri = if *u == URIS.len() { "mcp://a/*".to_owned() } else { URIS[*u].to_owned() };
            ResourceRule { uri, permission, roles, public, audit_log: false }
        });
        let prompts = self.prompts.iter().map(|(p, m)| {
            let (permission, roles, public) = fields(m);
            PromptRule { name: PROMPTS[*p].to_owned(), permission, roles, public, audit_log: true }
        });
        AuthorizationConfig {
            default_role: self.default_role.map(role),
            roles,
            scopes,
            tools: tools.collect(),
            resources: resources.collect(),
            prompts: prompts.collect(),
            ..AuthorizationConfig::default()
        }
    }

    pub fn policy(&self) -> Policy {
        Policy::compile(&self.config(), &CodeRules::new()).expect("generated policies compile")
    }
}

pub fn principal(roles: usize) -> impl Strategy<Value = Principal> {
    let method = prop_oneof![
        Just(AuthMethod::ApiKey),
        Just(AuthMethod::OAuth),
        Just(AuthMethod::Anonymous),
        Just(AuthMethod::Jwt)
    ];
    let role_names = proptest::collection::btree_set(0..roles + 1, 0..3);
    let scopes = proptest::collection::btree_set(0..SCOPES + 1, 0..3);
    let perms = proptest::collection::btree_set(0..PERMS.len(), 0..2);
    (method, role_names, scopes, perms).prop_map(move |(method, r, s, p)| {
        let mut out = Principal::new("prop", method);
        out.roles = r.into_iter().map(|i| if i == roles { "ghost".into() } else { role(i).into() }).collect();
        out.scopes = s.into_iter().map(|i| format!("s{i}").into()).collect();
        out.permissions = p.into_iter().map(|i| perm(PERMS[i])).collect();
        out
    })
}

pub fn perm(s: &str) -> Permission {
    s.parse().expect("valid permission")
}

pub fn actions() -> Vec<Action> {
    let mut out =
        vec![Action::ListTools, Action::ListResources, Action::ListPrompts, Action::SetLogLevel, Action::ReadMetrics];
    out.extend(TOOLS.iter().chain(["zz"].iter()).map(|t| Action::call_tool(t)));
    for u in URIS {
        out.extend([
            Action::ReadResource((*u).into()),
            Action::SubscribeResource((*u).into()),
            Action::CompleteResource((*u).into()),
        ]);
    }
    for p in PROMPTS {
        out.extend([Action::GetPrompt((*p).into()), Action::CompletePrompt((*p).into())]);
    }
    out
}

pub fn setup() -> impl Strategy<Value = (Model, Principal)> {
    model().prop_flat_map(|m| {
        let n = m.roles.len();
        (Just(m), principal(n))
    })
}

/// Every role `names` holds, transitively, computed independently of the crate.
pub fn closure(m: &Model, names: &BTreeSet<std::sync::Arc<str>>) -> BTreeSet<std::sync::Arc<str>> {
    let mut out = names.clone();
    let mut stack: Vec<usize> = names.iter().filter_map(|n| n.strip_prefix('r')?.parse().ok()).collect();
    while let Some(i) = stack.pop() {
        for &p in &m.roles[i].1 {
            if out.insert(role(p).into()) {
                stack.push(p);
            }
        }
    }
    out
}

/// The decision by a naive, independent reading of the documented semantics: effective
/// permissions as a list checked with `Permission::grants`, rules found by linear search.
pub fn oracle(m: &Model, p: &Principal, a: &Action) -> bool {
    let gets_default = p.roles.is_empty() && !p.is_anonymous() && p.method != AuthMethod::OAuth;
    let assigned = match (gets_default, m.default_role) {
        (true, Some(d)) => [role(d).into()].into(),
        _ => p.roles.clone(),
    };
    let roles = closure(m, &assigned);
    let mut held: Vec<Permission> = p.permissions.iter().cloned().collect();
    for r in &roles {
        if let Some(i) = r.strip_prefix('r').and_then(|i| i.parse::<usize>().ok()).filter(|i| *i < m.roles.len()) {
            held.extend(m.roles[i].0.iter().map(|j| perm(PERMS[*j])));
        }
    }
    for s in &p.scopes {
        if let Some(i) = s.strip_prefix('s').and_then(|i| i.parse::<usize>().ok()).filter(|i| *i < SCOPES) {
            held.extend(m.scopes[i].iter().map(|j| perm(PERMS[*j])));
        }
    }
    let has = |want: &Permission| held.iter().any(|h| h.grants(want));
    let rule = match a {
        Action::CallTool(t) => {
            let exact = TOOLS.iter().position(|x| *x == &**t).and_then(|i| m.tools.get(&i));
            exact.or_else(|| m.tools.get(&TOOLS.len()))
        }
        Action::ReadResource(u) | Action::SubscribeResource(u) | Action::CompleteResource(u) => {
            let exact = URIS.iter().position(|x| *x == &**u).and_then(|i| m.resources.get(&i));
            exact.or_else(|| m.resources.get(&URIS.len()).filter(|_| u.starts_with("mcp://a/")))
        }
        Action::GetPrompt(n) | Action::CompletePrompt(n) => {
            PROMPTS.iter().position(|x| *x == &**n).and_then(|i| m.prompts.get(&i))
        }
        _ => None,
    };
    match rule {
        None => has(&a.required_permission()),
        Some(None) => !p.is_anonymous(),
        Some(Some((permission, rule_roles))) => {
            rule_roles.iter().any(|r| roles.contains(role(*r).as_str()))
                || permission.is_some_and(|i| has(&perm(PERMS[i])))
                || (permission.is_none() && rule_roles.is_empty() && has(&a.required_permission()))
        }
    }
}
