//! Property tests over randomly generated policies, principals and actions.

use std::collections::BTreeSet;

use mcp_authz::{AuthorizationConfig, CodeRules, Permissions, Policy, RoleConfig, TargetKind, ToolRule};
use mcp_core::{Action, AuthMethod, Decision, Principal};
use proptest::prelude::*;

use crate::model::{PERMS, PROMPTS, SCOPES, TOOLS, URIS, actions, closure, oracle, perm, role, setup};

proptest! {
    #[test]
    fn decisions_match_a_naive_oracle((m, p) in setup()) {
        let policy = m.policy();
        for a in actions() {
            prop_assert_eq!(policy.decide(&p, a.clone()).is_allowed(), oracle(&m, &p, &a), "{:?}", a);
        }
    }

    #[test]
    fn served_names_change_no_decision((m, p) in setup()) {
        let plain = m.policy();
        let mut code = CodeRules::new();
        for t in TOOLS.iter().chain(["zz"].iter()) {
            code.serves(TargetKind::Tool, *t);
        }
        for n in PROMPTS {
            code.serves(TargetKind::Prompt, *n);
        }
        let served = Policy::compile(&m.config(), &code).expect("compiles");
        for a in actions() {
            // Same verdict, same denial (required permission, rule id, scopes, reason, audit).
            prop_assert_eq!(format!("{:?}", served.decide(&p, a.clone())), format!("{:?}", plain.decide(&p, a.clone())));
        }
    }

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
        let gets_default = p.roles.is_empty() && !p.is_anonymous() && p.method != AuthMethod::OAuth;
        let assigned = match (gets_default, m.default_role) {
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
