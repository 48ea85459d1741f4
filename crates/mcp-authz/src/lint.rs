//! `lint`: findings about a compiled policy against what the server actually registered.
//!
//! A config rule naming a role that is not defined is not a finding but a compile error
//! ([`crate::AuthzError::UnknownRole`]): a typo there would silently deny. Code rules may name
//! roles the config does not define (the role can still arrive on an API key or a token); lint
//! reports those.

use std::fmt;
use std::sync::Arc;

use crate::bits::Bits;
use crate::index::Rule;
use crate::policy::Policy;
use crate::rule::{Origin, TargetKind};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Probably a mistake.
    Warning,
}

/// One lint finding.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LintFinding {
    /// `enabled = false`: every action is allowed.
    AuthorizationDisabled,
    /// A configured role grants nothing and no rule, `default_role` or `inherits` names it.
    UnusedRole {
        /// The role.
        role: Arc<str>,
    },
    /// A code rule admits a role that `[authorization.roles]` does not define.
    UndefinedRoleInCodeRule {
        /// The rule id.
        rule: Arc<str>,
        /// The role.
        role: Arc<str>,
    },
    /// A config rule matches no registered tool, resource (or template) or prompt.
    UnregisteredTarget {
        /// The rule id.
        rule: Arc<str>,
    },
    /// A code rule never decides: a config rule matches everything it matches.
    CodeRuleOverridden {
        /// The code rule id.
        rule: Arc<str>,
        /// The config rule that decides instead.
        by: Arc<str>,
    },
    /// A registered tool has no rule: callers need `tools:execute:<name>`.
    ToolWithoutRule {
        /// The tool.
        tool: Arc<str>,
    },
}

impl LintFinding {
    /// How much it matters.
    pub fn severity(&self) -> Severity {
        match self {
            Self::AuthorizationDisabled | Self::UnregisteredTarget { .. } | Self::UndefinedRoleInCodeRule { .. } => {
                Severity::Warning
            }
            Self::UnusedRole { .. } | Self::CodeRuleOverridden { .. } | Self::ToolWithoutRule { .. } => Severity::Info,
        }
    }
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity() {
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        write!(f, "{level}: ")?;
        match self {
            Self::AuthorizationDisabled => f.write_str("authorization is disabled: every caller may do everything"),
            Self::UnusedRole { role } => write!(f, "role {role} grants nothing and is not referenced"),
            Self::UndefinedRoleInCodeRule { rule, role } => {
                write!(f, "rule {rule} admits role {role}, which [authorization.roles] does not define")
            }
            Self::UnregisteredTarget { rule } => write!(f, "rule {rule} matches nothing the server registered"),
            Self::CodeRuleOverridden { rule, by } => {
                write!(f, "rule {rule} set in code is overridden by config rule {by}")
            }
            Self::ToolWithoutRule { tool } => write!(f, "tool {tool} has no rule: it requires tools:execute:{tool}"),
        }
    }
}

impl Policy {
    /// Lint the policy against the registered tools, resources (URIs and template strings) and
    /// prompts. Findings are ordered: disabled, roles, rules, tools.
    pub fn lint(&self, tools: &[&str], resources: &[&str], prompts: &[&str]) -> Vec<LintFinding> {
        let mut out = Vec::new();
        if !self.enabled {
            out.push(LintFinding::AuthorizationDisabled);
        }
        self.lint_roles(&mut out);
        for rule in &self.rules.rules {
            match rule.origin {
                Origin::Code => self.lint_code_rule(rule, &mut out),
                _ => {
                    let registered = match rule.kind {
                        TargetKind::Tool => tools,
                        TargetKind::Resource => resources,
                        TargetKind::Prompt => prompts,
                    };
                    let matches = |item: &&str| match rule.pattern.strip_suffix('*') {
                        Some(prefix) => item.starts_with(prefix),
                        None => *item == &*rule.pattern,
                    };
                    if !registered.iter().any(matches) {
                        out.push(LintFinding::UnregisteredTarget { rule: rule.id.clone() });
                    }
                }
            }
        }
        for tool in tools {
            if self.rules.find(TargetKind::Tool, tool).is_none() {
                out.push(LintFinding::ToolWithoutRule { tool: (*tool).into() });
            }
        }
        out
    }

    fn lint_roles(&self, out: &mut Vec<LintFinding>) {
        let mut referenced = Bits::default();
        if let Some(d) = self.default_role {
            referenced.set(d);
        }
        for (i, role) in self.roles.roles.iter().enumerate() {
            for &p in &role.inherits {
                referenced.set(p);
            }
            if !role.defined {
                referenced.set(i);
            }
        }
        for rule in &self.rules.rules {
            referenced.union_with(&rule.roles);
        }
        for (i, role) in self.roles.roles.iter().enumerate() {
            let grants_nothing = role.closure.iter().all(|j| self.roles.roles[j].own.is_empty());
            if grants_nothing && !referenced.has(i) {
                out.push(LintFinding::UnusedRole { role: role.name.clone() });
            }
        }
    }

    fn lint_code_rule(&self, rule: &Rule, out: &mut Vec<LintFinding>) {
        for name in &rule.role_names {
            if self.roles.get(name).is_some_and(|i| !self.roles.roles[i].defined) {
                out.push(LintFinding::UndefinedRoleInCodeRule { rule: rule.id.clone(), role: name.clone() });
            }
        }
        // A config rule matching the code rule's own pattern decides everything it would.
        if let Some(by) = self.rules.index[0][rule.kind.index()].find(&rule.pattern) {
            out.push(LintFinding::CodeRuleOverridden { rule: rule.id.clone(), by: self.rules.rules[by].id.clone() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AuthorizationConfig, ToolRule};
    use crate::rule::{AccessRule, CodeRules};

    #[test]
    fn prefix_config_rules_override_code_rules() {
        let rule =
            |name: &str| ToolRule { name: name.into(), permission: None, roles: None, public: true, audit_log: false };
        let cfg = AuthorizationConfig { tools: vec![rule("debug_*")], ..AuthorizationConfig::default() };
        let mut code = CodeRules::new();
        code.tool("debug_dump", AccessRule::new()).tool("other", AccessRule::new()).tool("debug_*x", AccessRule::new());
        let policy = Policy::compile(&cfg, &code).expect("compiles");
        let found = policy.lint(&["debug_dump", "other"], &[], &[]);
        assert_eq!(
            found,
            vec![
                LintFinding::CodeRuleOverridden { rule: "tool:debug_*x".into(), by: "tool:debug_*".into() },
                LintFinding::CodeRuleOverridden { rule: "tool:debug_dump".into(), by: "tool:debug_*".into() },
            ]
        );
        assert!(found.iter().all(|f| f.severity() == Severity::Info));
        assert_eq!(
            found[1].to_string(),
            "info: rule tool:debug_dump set in code is overridden by config rule tool:debug_*"
        );
    }
}
