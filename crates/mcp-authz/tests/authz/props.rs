//! Property tests over randomly generated policies, principals and actions.

use std::collections::{BTreeMap, BTreeSet};

use mcp_authz::{AuthorizationConfig, CodeRules, Permissions, Policy, PromptRule, ResourceRule, RoleConfig, ToolRule};
use mcp_core::{Action, AuthMethod, Decision, Permission, Principal};
use proptest::prelude::*;

const PERMS: &[&str] = &[
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
const TOOLS: &[&str] = &["a", "b", "c", "a:x"];
const URIS: &[&str] = &["mcp://a/x", "mcp://a/y", "mcp://b"];
const PROMPTS: &[&str] = &["p", "q"];
const SCOPES: usize = 3;

/// `None`: public; otherwise (permission, roles), either possibly absent.
type RuleModel = Option<(Option<usize>, Vec<usize>)>;

#[derive(Clone, Debug)]
struct Model {
    /// Per role: permission indices, inherited roles (lower indices only: acyclic).
    roles: Vec<(Vec<usize>, Vec<usize>)>,
    scopes: Vec<Vec<usize>>,
    default_role: Option<usize>,
    tools: BTreeMap<usize, RuleModel>,
    resources: BTreeMap<usize, RuleModel>,
    prompts: BTreeMap<usize, RuleModel>,
}

fn rule_model(roles: usize) -> impl Strategy<Value = RuleModel> {
    let perm = proptest::option::of(0..PERMS.len());
    proptest::option::weighted(0.85, (perm, proptest::collection::vec(0..roles, 0..3)))
}

fn model() -> impl Strategy<Value = Model> {
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

fn role(i: usize) -> String {
    format!("r{i}")
}

fn fields(m: &RuleModel) -> (Option<String>, Option<Vec<String>>, bool) {
    match m {
        None => (None, None, true),
        Some((perm, roles)) => {
            let roles: Vec<String> = roles.iter().map(|r| role(*r)).collect::<BTreeSet<_>>().into_iter().collect();
            (perm.map(|p| PERMS[p].to_owned()), (!roles.is_empty()).then_some(roles), false)
        }
    }
}

impl Model {
    fn config(&self) -> AuthorizationConfig {
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

    fn policy(&self) -> Policy {
        Policy::compile(&self.config(), &CodeRules::new()).expect("generated policies compile")
    }
}

fn principal(roles: usize) -> impl Strategy<Value = Principal> {
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

fn perm(s: &str) -> Permission {
    s.parse().expect("valid permission")
}

fn actions() -> Vec<Action> {
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

fn setup() -> impl Strategy<Value = (Model, Principal)> {
    model().prop_flat_map(|m| {
        let n = m.roles.len();
        (Just(m), principal(n))
    })
}

/// Every role `names` holds, transitively, computed independently of the crate.
fn closure(m: &Model, names: &BTreeSet<std::sync::Arc<str>>) -> BTreeSet<std::sync::Arc<str>> {
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

proptest! {
    #[test]
    fn empty_policy_denies_everything((_, mut p) in setup()) {
        p.permissions.clear();
        let empty = Policy::compile(&AuthorizationConfig::default(), &CodeRules::new()).expect("compiles");
        for a in actions() {
            prop_assert!(!empty.decide(&p, a.clone()).is_allowed());
            prop_assert!(!Policy::deny_all().decide(&p, a).is_allowed());
        }
    }

    #[test]
    fn adding_a_permission_never_removes_access((m, p) in setup(), r in 0usize..6, extra in 0..PERMS.len()) {
        let before = m.policy();
        let mut m2 = m.clone();
        let r = r % m2.roles.len();
        m2.roles[r].0.push(extra);
        let after = m2.policy();
        for a in actions() {
            if before.decide(&p, a.clone()).is_allowed() {
                prop_assert!(after.decide(&p, a.clone()).is_allowed(), "{:?} lost by adding {} to r{}", a, PERMS[extra], r);
            }
        }
    }

    #[test]
    fn removing_a_role_never_grants_access((m, p) in setup()) {
        let policy = m.policy();
        for r in &p.roles {
            let mut fewer = p.clone();
            fewer.roles.remove(r);
            // Exception by design: removing the last role lets `default_role` apply.
            if fewer.roles.is_empty() && m.default_role.is_some() {
                continue;
            }
            for a in actions() {
                if policy.decide(&fewer, a.clone()).is_allowed() {
                    prop_assert!(policy.decide(&p, a.clone()).is_allowed(), "{:?} granted by removing {}", a, r);
                }
            }
        }
    }

    #[test]
    fn wildcard_grants_exactly_its_subtree(
        held in proptest::collection::vec("[abc]", 1..4),
        star in any::<bool>(),
        wanted in proptest::collection::vec("[abc]", 1..5),
    ) {
        let held_text = if star { format!("{}:*", held.join(":")) } else { held.join(":") };
        let cfg = AuthorizationConfig {
            roles: [("w".to_owned(), RoleConfig { permissions: Permissions::List(vec![held_text.clone()]), inherits: vec![] })].into(),
            tools: vec![ToolRule { name: "t".into(), permission: Some(wanted.join(":")), roles: None, public: false, audit_log: false }],
            ..AuthorizationConfig::default()
        };
        let policy = Policy::compile(&cfg, &CodeRules::new()).expect("compiles");
        let mut p = Principal::new("w", AuthMethod::ApiKey);
        p.roles.insert("w".into());
        let below = wanted.len() >= held.len() && wanted[..held.len()] == held[..];
        let expected = if star { below && wanted.len() > held.len() } else { below };
        prop_assert_eq!(policy.decide(&p, Action::call_tool("t")).is_allowed(), expected);
        prop_assert_eq!(perm(&held_text).grants(&perm(&wanted.join(":"))), expected);
        prop_assert_eq!(mcp_authz::grants_segments(&perm(&held_text), wanted.iter().map(String::as_str)), expected);
    }

    #[test]
    fn list_filtering_equals_per_item_authorization((m, p) in setup()) {
        let policy = m.policy();
        let tools: Vec<&str> = TOOLS.iter().copied().chain(["zz"]).collect();
        let visible: Vec<&str> = policy.visible_tools(&p, tools.iter().copied()).collect();
        let each: Vec<&str> = tools.iter().copied().filter(|t| policy.decide(&p, Action::call_tool(t)).is_allowed()).collect();
        prop_assert_eq!(visible, each);
        let visible: Vec<&str> = policy.visible_resources(&p, URIS.iter().copied()).collect();
        let each: Vec<&str> = URIS.iter().copied().filter(|u| policy.decide(&p, Action::ReadResource((*u).into())).is_allowed()).collect();
        prop_assert_eq!(visible, each);
        let visible: Vec<&str> = policy.visible_prompts(&p, PROMPTS.iter().copied()).collect();
        let each: Vec<&str> = PROMPTS.iter().copied().filter(|n| policy.decide(&p, Action::GetPrompt((*n).into())).is_allowed()).collect();
        prop_assert_eq!(visible, each);
    }

    #[test]
    fn inheritance_equals_union((m, p) in setup()) {
        let policy = m.policy();
        let mut flat = m.clone();
        for r in &mut flat.roles {
            r.1.clear();
        }
        flat.default_role = None;
        let flat_policy = flat.policy();
        let mut expanded = p.clone();
        let assigned = match (p.roles.is_empty() && !p.is_anonymous(), m.default_role) {
            (true, Some(d)) => [role(d).into()].into(),
            _ => p.roles.clone(),
        };
        expanded.roles = closure(&m, &assigned);
        for a in actions() {
            let (x, y) = (policy.decide(&p, a.clone()), flat_policy.decide(&expanded, a.clone()));
            prop_assert_eq!(x.is_allowed(), y.is_allowed(), "{:?}", a);
        }
    }

    #[test]
    fn scope_denials_name_exactly_the_scopes_that_help((m, mut p) in setup()) {
        p.method = AuthMethod::OAuth;
        let policy = m.policy();
        for a in actions() {
            let Decision::Deny(d) = policy.decide(&p, a.clone()) else { continue };
            let scopes: BTreeSet<std::sync::Arc<str>> = d.scopes.iter().cloned().collect();
            if d.is_scope_denial() {
                prop_assert!(scopes.is_superset(&p.scopes));
                let mut stepped = p.clone();
                stepped.scopes = scopes;
                prop_assert!(policy.decide(&stepped, a.clone()).is_allowed(), "{:?} still denied with {:?}", a, d.scopes);
            } else {
                for s in 0..SCOPES {
                    let mut more = p.clone();
                    more.scopes.insert(format!("s{s}").into());
                    prop_assert!(!policy.decide(&more, a.clone()).is_allowed(), "{:?}: s{} helps but no step-up", a, s);
                }
            }
        }
    }

    #[test]
    fn explain_agrees_with_decide((m, p) in setup()) {
        let policy = m.policy();
        for a in actions() {
            let e = policy.explain(&p, &a);
            prop_assert_eq!(e.allowed, policy.decide(&p, a.clone()).is_allowed());
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn default_tool_permission_matches_core(name in "\\PC{0,12}|[a-z:/ ]{1,8}") {
        let required = Action::call_tool(&name).required_permission();
        let cfg = AuthorizationConfig {
            roles: [("r".to_owned(), RoleConfig { permissions: Permissions::List(vec![required.to_string()]), inherits: vec![] })].into(),
            ..AuthorizationConfig::default()
        };
        let policy = Policy::compile(&cfg, &CodeRules::new()).expect("compiles");
        let mut by_role = Principal::new("x", AuthMethod::ApiKey);
        by_role.roles.insert("r".into());
        prop_assert!(policy.decide(&by_role, Action::call_tool(&name)).is_allowed());
        let mut direct = Principal::new("y", AuthMethod::ApiKey);
        direct.permissions.insert(required.clone());
        prop_assert!(policy.decide(&direct, Action::call_tool(&name)).is_allowed());
        let other = Action::call_tool(&format!("{name}x"));
        prop_assert_eq!(policy.decide(&by_role, other.clone()).is_allowed(), required.grants(&other.required_permission()));
    }
}
