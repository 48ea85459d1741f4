//! Helpers shared by the scenario and property tests.

use mcp_authz::{AuthorizationConfig, CodeRules, Policy};
use mcp_core::{AuthMethod, Decision, Denial, Permit, Principal};

/// Compile a TOML `[authorization]` section (the text below the header).
pub fn policy(toml_text: &str) -> Policy {
    policy_with(toml_text, &CodeRules::new())
}

/// Compile a TOML section with code rules.
pub fn policy_with(toml_text: &str, code: &CodeRules) -> Policy {
    let cfg: AuthorizationConfig = toml::from_str(toml_text).expect("valid TOML config");
    Policy::compile(&cfg, code).expect("policy compiles")
}

/// A principal with these roles.
pub fn with_roles(method: AuthMethod, roles: &[&str]) -> Principal {
    let mut p = Principal::new("p", method);
    p.roles = roles.iter().map(|r| (*r).into()).collect();
    p
}

/// An OAuth principal with these scopes.
pub fn oauth(scopes: &[&str]) -> Principal {
    let mut p = Principal::new("client", AuthMethod::OAuth);
    p.scopes = scopes.iter().map(|s| (*s).into()).collect();
    p
}

/// The denial, or a panic naming the unexpected permit.
pub fn denied(d: Decision) -> Denial {
    match d {
        Decision::Deny(d) => d,
        Decision::Allow(p) => panic!("expected a denial, got {p:?}"),
    }
}

/// The permit, or a panic naming the unexpected denial.
pub fn allowed(d: Decision) -> Permit {
    match d {
        Decision::Allow(p) => p,
        Decision::Deny(d) => panic!("expected a permit, got {d:?}"),
    }
}
