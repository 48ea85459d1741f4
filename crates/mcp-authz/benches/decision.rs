//! Decision cost with 1,000 rules and 50 roles, and filtering 500 tools for one principal.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_authz::{AccessRule, AuthorizationConfig, CodeRules, Permissions, Policy, RoleConfig, TargetKind, ToolRule};
use mcp_core::{Action, AuthMethod, Principal};

fn policy() -> Policy {
    let mut roles = BTreeMap::new();
    for r in 0..50 {
        // Ten tool permissions each; the last role holds list permissions instead.
        let permissions = if r == 49 {
            vec!["tools:list".to_owned(), "prompts".to_owned()]
        } else {
            (0..10).map(|p| format!("tools:execute:tool_{}", r * 10 + p)).collect()
        };
        // Chains of five: role_4 inherits role_3 ... inherits role_0.
        let inherits = if r % 5 == 0 { Vec::new() } else { vec![format!("role_{}", r - 1)] };
        roles.insert(format!("role_{r}"), RoleConfig { permissions: Permissions::List(permissions), inherits });
    }
    let tools = (0..500)
        .map(|t| ToolRule {
            name: format!("tool_{t}"),
            permission: (t % 3 == 0).then(|| format!("tools:execute:tool_{t}")),
            roles: (t % 3 != 0).then(|| vec![format!("role_{}", t % 50)]),
            public: false,
            audit_log: t % 7 == 0,
        })
        .collect();
    let scopes = [("mcp:tools".to_owned(), vec!["tools:list".to_owned(), "tools:execute:*".to_owned()])].into();
    let config = AuthorizationConfig { roles, scopes, tools, ..AuthorizationConfig::default() };
    let mut code = CodeRules::new();
    for t in 500..1000 {
        code.tool(format!("tool_{t}"), AccessRule::new().permission(format!("tools:execute:tool_{t}")));
    }
    // The server declares every tool it serves, with or without a rule.
    for t in 0..1000 {
        code.serves(TargetKind::Tool, format!("tool_{t}"));
    }
    code.serves(TargetKind::Tool, "tool_without_rule");
    Policy::compile(&config, &code).expect("bench policy compiles")
}

fn bench(c: &mut Criterion) {
    let policy = policy();
    let mut user = Principal::new("bench", AuthMethod::ApiKey);
    user.roles.insert("role_13".into());
    user.roles.insert("role_49".into());
    let ruled = Action::call_tool("tool_123");
    let denied = Action::call_tool("tool_999");
    let unruled = Action::call_tool("tool_without_rule");
    assert!(policy.decide(&user, ruled.clone()).is_allowed());
    assert!(!policy.decide(&user, denied.clone()).is_allowed());

    c.bench_function("decide/allow_rule", |b| b.iter(|| black_box(policy.decide(&user, black_box(ruled.clone())))));
    c.bench_function("decide/deny_rule", |b| b.iter(|| black_box(policy.decide(&user, black_box(denied.clone())))));
    c.bench_function("decide/no_rule_default", |b| {
        b.iter(|| black_box(policy.decide(&user, black_box(unruled.clone()))))
    });
    // A name the server does not serve (answered "unknown tool" anyway): the denial builds its
    // permission text.
    let unserved = Action::call_tool("tool_not_served");
    c.bench_function("decide/no_rule_unserved", |b| {
        b.iter(|| black_box(policy.decide(&user, black_box(unserved.clone()))))
    });
    let mut direct = user.clone();
    direct.permissions.insert("tools:execute:tool_without_rule".parse().expect("valid permission"));
    assert!(policy.decide(&direct, unruled.clone()).is_allowed());
    c.bench_function("decide/no_rule_allow_direct", |b| {
        b.iter(|| black_box(policy.decide(&direct, black_box(unruled.clone()))))
    });
    c.bench_function("decide/list_tools", |b| b.iter(|| black_box(policy.decide(&user, Action::ListTools))));

    let mut oauth = Principal::new("client", AuthMethod::OAuth);
    oauth.scopes.insert("mcp:tools".into());
    c.bench_function("decide/oauth_scope", |b| b.iter(|| black_box(policy.decide(&oauth, black_box(ruled.clone())))));

    let names: Vec<String> = (0..500).map(|t| format!("tool_{}", t * 2)).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    c.bench_function("filter/500_tools", |b| {
        b.iter(|| black_box(policy.visible_tools(&user, black_box(refs.iter().copied())).count()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
