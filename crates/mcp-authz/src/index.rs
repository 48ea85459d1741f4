//! Compiled rules and their lookup tables: exact names in one hash map, prefix patterns in
//! another probed once per distinct prefix length (longest first).

use std::sync::Arc;

use mcp_core::Permission;

use crate::bits::{Bits, FastMap, Mask};
use crate::error::AuthzError;
use crate::grants::{GrantTrie, sanitized};
use crate::roles::{RoleTable, parse_permission};
use crate::rule::{Origin, RuleSpec, TargetKind};

/// One compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    /// `tool:restart_server`, `resource:mcp://admin/*`, ...
    pub(crate) id: Arc<str>,
    pub(crate) kind: TargetKind,
    /// The name, URI or pattern as written.
    pub(crate) pattern: Arc<str>,
    pub(crate) origin: Origin,
    /// The permission that admits a caller.
    pub(crate) permission: Option<Permission>,
    /// The roles that admit a caller.
    pub(crate) roles: Bits,
    /// The same roles, by name, as written.
    pub(crate) role_names: Vec<Arc<str>>,
    pub(crate) public: bool,
    pub(crate) audit: bool,
    /// The roles and scopes granting the permission this rule checks, when it is known at
    /// compile time (an explicit permission, or the default one of an exact tool / prompt name).
    pub(crate) grantors: Option<Mask>,
}

impl Rule {
    /// Neither permission nor roles: the action's default permission applies.
    pub(crate) fn uses_default_permission(&self) -> bool {
        !self.public && self.permission.is_none() && self.roles.is_empty()
    }
}

/// The rules of one kind and one origin.
#[derive(Debug, Default)]
pub(crate) struct RuleIndex {
    exact: FastMap<Box<str>, usize>,
    prefix: FastMap<Box<str>, usize>,
    /// Distinct prefix lengths, longest first.
    prefix_lens: Vec<usize>,
}

impl RuleIndex {
    /// Add a rule; false when the same pattern is already present.
    fn insert(&mut self, pattern: &str, rule: usize) -> bool {
        let (map, key) = match pattern.strip_suffix('*') {
            Some(prefix) => (&mut self.prefix, prefix),
            None => (&mut self.exact, pattern),
        };
        if map.contains_key(key) {
            return false;
        }
        map.insert(key.into(), rule);
        if pattern.ends_with('*') && !self.prefix_lens.contains(&key.len()) {
            self.prefix_lens.push(key.len());
            self.prefix_lens.sort_unstable_by(|a, b| b.cmp(a));
        }
        true
    }

    /// The most specific rule matching `target`.
    #[inline]
    pub(crate) fn find(&self, target: &str) -> Option<usize> {
        if let Some(&i) = self.exact.get(target) {
            return Some(i);
        }
        self.prefix_lens.iter().find_map(|&len| target.get(..len).and_then(|p| self.prefix.get(p)).copied())
    }
}

/// Rules plus their lookup tables, `[origin][kind]`.
#[derive(Debug, Default)]
pub(crate) struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    /// Index 0: config rules; index 1: code rules.
    pub(crate) index: [[RuleIndex; 3]; 2],
}

impl RuleSet {
    /// The deciding rule for a target: config rules first, then code rules.
    #[inline]
    pub(crate) fn find(&self, kind: TargetKind, target: &str) -> Option<usize> {
        let k = kind.index();
        self.index[0][k].find(target).or_else(|| self.index[1][k].find(target))
    }

    /// Compile and index rules. Config rules naming an undefined role are refused; code rules may
    /// name roles the config does not define (they are interned with no permissions).
    pub(crate) fn compile(
        specs: Vec<RuleSpec<'_>>,
        roles: &mut RoleTable,
        trie: &GrantTrie,
    ) -> Result<Self, AuthzError> {
        let mut set = Self::default();
        for spec in specs {
            let id = format!("{}:{}", spec.kind, spec.pattern);
            let invalid = |reason| AuthzError::InvalidRule { rule: crate::error::truncated(&id), reason };
            if spec.pattern.is_empty() {
                return Err(invalid("the name / uri is empty"));
            }
            let r = &spec.rule;
            if r.public && (r.permission.is_some() || r.roles.is_some()) {
                return Err(invalid("a public rule takes no permission or roles"));
            }
            if r.roles.as_ref().is_some_and(Vec::is_empty) {
                return Err(invalid("roles is empty (omit it, or list at least one role)"));
            }
            let permission = match &r.permission {
                Some(p) => Some(parse_permission(p, || format!("rule {id}"))?),
                None => None,
            };
            let mut role_bits = Bits::default();
            let mut role_names = Vec::new();
            for name in r.roles.iter().flatten() {
                let i = match spec.origin {
                    Origin::Code => roles.intern_implicit(name)?,
                    _ => roles.get(name).ok_or_else(|| AuthzError::UnknownRole {
                        role: crate::error::truncated(name),
                        context: format!("rule {id}"),
                    })?,
                };
                role_bits.set(i);
                role_names.push(roles.roles[i].name.clone());
            }
            let origin_slot = usize::from(spec.origin != Origin::Config);
            if !set.index[origin_slot][spec.kind.index()].insert(spec.pattern, set.rules.len()) {
                return Err(AuthzError::Duplicate { what: "rule", name: id });
            }
            let exact = !spec.pattern.ends_with('*');
            let grantors = match (&permission, spec.kind) {
                (Some(p), _) => Some(trie.grantors(p.as_str().split(':'))),
                (None, _) if r.public || r.roles.is_some() || !exact => None,
                (None, TargetKind::Tool) => {
                    Some(trie.grantors(["tools", "execute", &sanitized(spec.pattern)].into_iter()))
                }
                (None, TargetKind::Prompt) => {
                    Some(trie.grantors(["prompts", "get", &sanitized(spec.pattern)].into_iter()))
                }
                (None, TargetKind::Resource) => None,
            };
            set.rules.push(Rule {
                id: id.into(),
                kind: spec.kind,
                pattern: spec.pattern.into(),
                origin: spec.origin,
                permission,
                roles: role_bits,
                role_names,
                public: r.public,
                audit: r.audit_log,
                grantors,
            });
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_prefix_and_longer_prefix_wins() {
        let mut idx = RuleIndex::default();
        assert!(idx.insert("mcp://admin/*", 0));
        assert!(idx.insert("mcp://*", 1));
        assert!(idx.insert("mcp://admin/config", 2));
        assert!(idx.insert("*", 3));
        assert!(!idx.insert("mcp://*", 4));
        assert_eq!(idx.find("mcp://admin/config"), Some(2));
        assert_eq!(idx.find("mcp://admin/other"), Some(0));
        assert_eq!(idx.find("mcp://docs"), Some(1));
        assert_eq!(idx.find("file:///x"), Some(3));
        assert_eq!(idx.find("mcp://admin/é"), Some(0));
    }

    #[test]
    fn templates_and_inner_stars_are_literal() {
        let mut idx = RuleIndex::default();
        assert!(idx.insert("file:///{path*}", 0));
        assert_eq!(idx.find("file:///{path*}"), Some(0));
        assert_eq!(idx.find("file:///etc/passwd"), None);
    }
}
