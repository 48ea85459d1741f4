//! End-to-end scenarios from TOML.

use mcp_authz::{
    AccessRule, AuthorizationConfig, AuthzError, CodeRules, LintFinding, Origin, Policy, TargetKind, parse_call,
};
use mcp_core::{Action, AuthMethod, Principal};

use crate::support::{allowed, denied, oauth, policy, policy_with, with_roles};

const CONFIG: &str = r#"
default_role = "user"

[roles.user]
permissions = ["tools:list", "tools:execute:calculate", "resources:read", "prompts:get:greet"]

[roles.operator]
permissions = ["tools:execute:admin"]
inherits = ["user"]

[roles.admin]
permissions = "all"
inherits = ["operator"]

[scopes]
"mcp:tools" = ["tools:list", "tools:execute:*"]
"mcp:admin" = ["tools:execute:admin", "admin"]

[[tools]]
name = "restart_server"
permission = "tools:execute:admin"
roles = ["admin"]
audit_log = true

[[tools]]
name = "echo"
public = true

[[resources]]
uri = "mcp://admin/*"
roles = ["admin"]

[[resources]]
uri = "mcp://docs/{id}"
public = true
"#;

#[test]
fn roles_inheritance_and_default_role() {
    let p = policy(CONFIG);
    let user = with_roles(AuthMethod::ApiKey, &["user"]);
    let op = with_roles(AuthMethod::ApiKey, &["operator"]);
    let nobody = with_roles(AuthMethod::Jwt, &[]);
    assert!(p.decide(&user, Action::call_tool("calculate")).is_allowed());
    assert!(p.decide(&op, Action::call_tool("calculate")).is_allowed(), "operator inherits user");
    assert!(p.decide(&nobody, Action::call_tool("calculate")).is_allowed(), "default_role applies");
    assert!(!p.decide(&Principal::anonymous(), Action::call_tool("calculate")).is_allowed(), "not for anonymous");
    let d = denied(p.decide(&user, Action::call_tool("restart_server")));
    assert_eq!(&*d.rule, "tool:restart_server");
    assert!(d.audit && !d.is_scope_denial() && p.should_hide(&d));
    assert_eq!(d.required.as_str(), "tools:execute:admin");
    // The permission OR a role admits: operator holds the permission, admin the role.
    let permit = allowed(p.decide(&op, Action::call_tool("restart_server")));
    assert!(permit.audit());
    assert!(p.decide(&with_roles(AuthMethod::ApiKey, &["admin"]), Action::SetLogLevel).is_allowed());
    assert!(!p.decide(&user, Action::SetLogLevel).is_allowed());
    let d = denied(p.decide(&user, Action::call_tool("other")));
    assert_eq!(&*d.rule, "default:tools:execute:other");
}

#[test]
fn public_rules_and_resource_patterns() {
    let p = policy(CONFIG);
    let user = with_roles(AuthMethod::ApiKey, &["user"]);
    let stranger = with_roles(AuthMethod::ApiKey, &["unknown-role"]);
    assert!(p.decide(&stranger, Action::call_tool("echo")).is_allowed());
    let d = denied(p.decide(&Principal::anonymous(), Action::call_tool("echo")));
    assert_eq!(&*d.rule, "tool:echo");
    assert!(!p.decide(&stranger, Action::call_tool("calculate")).is_allowed(), "unknown roles: no default_role");
    let d = denied(p.decide(&user, Action::ReadResource("mcp://admin/config".into())));
    assert_eq!(&*d.rule, "resource:mcp://admin/*");
    assert!(p.decide(&user, Action::ReadResource("mcp://public".into())).is_allowed());
    let admin = with_roles(AuthMethod::ApiKey, &["admin"]);
    assert!(p.decide(&admin, Action::SubscribeResource("mcp://admin/config".into())).is_allowed());
    assert!(p.decide(&stranger, Action::CompleteResource("mcp://docs/{id}".into())).is_allowed());
    assert!(!p.decide(&stranger, Action::ReadResource("mcp://docs/1".into())).is_allowed(), "templates are literal");
}

#[test]
fn scope_denials_name_the_step_up_scopes() {
    // default_role does not apply to OAuth principals: their scopes are the grant.
    let d = denied(policy(CONFIG).decide(&oauth(&[]), Action::call_tool("calculate")));
    assert!(d.is_scope_denial());
    let p = policy(&CONFIG.replace("default_role = \"user\"", ""));
    let d = denied(p.decide(&oauth(&["openid"]), Action::call_tool("calculate")));
    assert!(d.is_scope_denial() && !p.should_hide(&d));
    assert_eq!(d.scopes.iter().map(|s| &**s).collect::<Vec<_>>(), ["mcp:tools", "openid"]);
    // Both scopes grant tools:execute:admin; the more specific one is asked for.
    assert!(p.decide(&oauth(&["mcp:tools"]), Action::call_tool("restart_server")).is_allowed());
    let d = denied(p.decide(&oauth(&["openid"]), Action::call_tool("restart_server")));
    assert_eq!(d.scopes.iter().map(|s| &**s).collect::<Vec<_>>(), ["mcp:admin", "openid"]);
    assert_eq!(d.reason, "insufficient scope");
    assert!(p.decide(&oauth(&["mcp:admin"]), Action::call_tool("restart_server")).is_allowed());
    assert!(p.decide(&oauth(&["mcp:admin"]), Action::SetLogLevel).is_allowed());
    // No scope grants resources under the roles-only rule: an RBAC denial.
    let d = denied(p.decide(&oauth(&["mcp:admin"]), Action::ReadResource("mcp://admin/x".into())));
    assert!(!d.is_scope_denial());
    // Not OAuth: never a scope denial.
    let d = denied(p.decide(&with_roles(AuthMethod::Jwt, &["x"]), Action::call_tool("calculate")));
    assert!(!d.is_scope_denial());
}

#[test]
fn config_rules_override_code_rules() {
    let mut code = CodeRules::new();
    code.tool("echo", AccessRule::new().roles(["admin"]))
        .tool("deploy", AccessRule::new().permission("tools:execute:admin").roles(["release-manager"]))
        .tool("audited", AccessRule::new().audit_log(true));
    let p = policy_with(CONFIG, &code);
    let user = with_roles(AuthMethod::ApiKey, &["user"]);
    assert!(p.decide(&user, Action::call_tool("echo")).is_allowed(), "config makes echo public");
    let op = with_roles(AuthMethod::ApiKey, &["operator"]);
    assert!(p.decide(&op, Action::call_tool("deploy")).is_allowed());
    assert!(p.decide(&with_roles(AuthMethod::ApiKey, &["release-manager"]), Action::call_tool("deploy")).is_allowed());
    assert!(!p.decide(&user, Action::call_tool("deploy")).is_allowed());
    let d = denied(p.decide(&user, Action::call_tool("audited")));
    assert!(d.audit && d.required.as_str() == "tools:execute:audited");
    let lint = p.lint(&["echo", "deploy", "audited", "calculate"], &["mcp://docs/{id}"], &[]);
    assert!(lint.contains(&LintFinding::CodeRuleOverridden { rule: "tool:echo".into(), by: "tool:echo".into() }));
    assert!(lint.contains(&LintFinding::UndefinedRoleInCodeRule {
        rule: "tool:deploy".into(),
        role: "release-manager".into()
    }));
    assert!(lint.contains(&LintFinding::UnregisteredTarget { rule: "tool:restart_server".into() }));
    assert!(lint.contains(&LintFinding::UnregisteredTarget { rule: "resource:mcp://admin/*".into() }));
    assert!(!lint.contains(&LintFinding::UnregisteredTarget { rule: "resource:mcp://docs/{id}".into() }));
    assert!(lint.contains(&LintFinding::ToolWithoutRule { tool: "calculate".into() }));
    assert!(!lint.iter().any(|f| matches!(f, LintFinding::UnusedRole { .. })));
}

#[test]
fn compile_errors_are_clear() {
    let err = |text: &str| {
        let cfg: AuthorizationConfig = toml::from_str(text).expect("valid TOML");
        Policy::compile(&cfg, &CodeRules::new()).expect_err("must not compile")
    };
    let e = err("[roles.a]\ninherits = [\"b\"]\n[roles.b]\ninherits = [\"a\"]");
    assert_eq!(e, AuthzError::InheritanceCycle { cycle: "a -> b -> a".into() });
    assert!(err("default_role = \"x\"").to_string().contains("\"x\""));
    assert!(err("[[tools]]\nname = \"t\"\nroles = [\"ghost\"]").to_string().contains("rule tool:t"));
    assert!(err("[[tools]]\nname = \"t\"\npublic = true\nroles = [\"a\"]\n[roles.a]").to_string().contains("public"));
    assert!(err("[[tools]]\nname = \"t\"\nroles = []").to_string().contains("roles is empty"));
    assert!(err("[[tools]]\nname = \"t\"\n[[tools]]\nname = \"t\"").to_string().contains("defined twice"));
    assert!(err("[[prompts]]\nname = \"\"").to_string().contains("empty"));
    assert!(err("[scopes]\n\"s\" = [\"bad perm\"]").to_string().contains("scope \"s\""));
    assert!(toml::from_str::<AuthorizationConfig>("[[tools]]\nname = \"t\"\nallow = true").is_err());
}

#[test]
fn disabled_allows_everything_and_lints() {
    let p = policy("enabled = false\nhide_forbidden = false\n[[tools]]\nname = \"t\"\npublic = true\naudit_log = true");
    assert!(!p.enabled() && !p.hide_forbidden());
    assert!(p.decide(&Principal::anonymous(), Action::ReadMetrics).is_allowed());
    assert!(allowed(p.decide(&Principal::anonymous(), Action::call_tool("t"))).audit());
    assert_eq!(p.lint(&["t"], &[], &[]), vec![LintFinding::AuthorizationDisabled]);
}

#[test]
fn explain_names_rule_sources_and_result() {
    let p = policy(CONFIG);
    let mut user = with_roles(AuthMethod::ApiKey, &["operator"]);
    user.permissions.insert("admin:metrics".parse().expect("valid"));
    let e = p.explain(&user, &parse_call("tools/call:restart_server").expect("parses"));
    assert!(e.allowed && e.audit && e.origin == Origin::Config);
    let text = e.to_string();
    for needle in [
        "rule:      tool:restart_server (config): requires permission tools:execute:admin OR role admin; audit_log",
        "user (inherited by operator)",
        "tools:execute:admin (from role operator)  <- grants the required permission",
        "admin:metrics (from direct)",
        "result:    ALLOWED",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let e = p.explain(&oauth(&["openid"]), &Action::call_tool("calc"));
    assert!(!e.allowed && e.origin == Origin::Default);
    assert!(e.to_string().contains("a token with scopes \"mcp:tools openid\" would be allowed"), "{e}");
    let e = p.explain(&with_roles(AuthMethod::Jwt, &[]), &Action::ListTools);
    assert!(e.allowed && e.to_string().contains("user (default_role)"), "{e}");
}

#[test]
fn list_filtering_hides_forbidden_items() {
    let p = policy(CONFIG);
    let user = with_roles(AuthMethod::ApiKey, &["user"]);
    let tools = ["calculate", "restart_server", "echo", "other"];
    assert_eq!(p.visible_tools(&user, tools).collect::<Vec<_>>(), ["calculate", "echo"]);
    let res = vec!["mcp://admin/x".to_owned(), "mcp://docs/{id}".to_owned(), "file:///a".to_owned()];
    assert_eq!(p.visible_resources(&user, &res).collect::<Vec<_>>(), [&res[1], &res[2]]);
    assert_eq!(p.visible_prompts(&user, ["greet", "secret"]).collect::<Vec<_>>(), ["greet"]);
}

#[test]
fn unused_roles_are_reported() {
    let p = policy("[roles.empty]\n[roles.base]\n[roles.child]\ninherits = [\"base\"]\npermissions = [\"x\"]");
    assert_eq!(p.lint(&[], &[], &[]), vec![LintFinding::UnusedRole { role: "empty".into() }]);
}

#[test]
fn denials_of_served_targets_share_precompiled_text() {
    let mut code = CodeRules::new();
    code.serves(TargetKind::Tool, "secret").serves(TargetKind::Prompt, "greet");
    let policy = policy_with("[roles.user]\npermissions = [\"tools:list\"]\n", &code);
    let user = with_roles(AuthMethod::ApiKey, &["user"]);
    let deny = |a: Action| match policy.decide(&user, a) {
        mcp_core::Decision::Deny(d) => d,
        mcp_core::Decision::Allow(_) => panic!("allowed"),
    };
    for action in [Action::call_tool("secret"), Action::GetPrompt("greet".into()), Action::ReadResource("x:/".into())] {
        let (a, b) = (deny(action.clone()), deny(action.clone()));
        // Both denials point at the text compiled into the policy: nothing was built per decision.
        assert!(std::sync::Arc::ptr_eq(&a.rule, &b.rule), "{action:?}");
        assert_eq!(a.required.as_str().as_ptr(), b.required.as_str().as_ptr(), "{action:?}");
        assert_eq!(a.required, action.required_permission());
        assert_eq!(&*a.rule, format!("default:{}", a.required));
    }
    // A name the server does not serve is decided the same way, with text built on the spot.
    let (a, b) = (deny(Action::call_tool("other")), deny(Action::call_tool("other")));
    assert!(!std::sync::Arc::ptr_eq(&a.rule, &b.rule));
    assert_eq!(&*a.rule, "default:tools:execute:other");
}
