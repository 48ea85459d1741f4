//! `[authorization.scopes]`: OAuth scope → permissions, and the step-up answer for a scope
//! denial (which configured scope would grant the missing permission).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mcp_core::Permission;

use crate::bits::{FastMap, MAX_INTERNED};
use crate::error::AuthzError;
use crate::grants::grants_segments;
use crate::roles::{check_name, parse_permission};

/// Every configured scope.
#[derive(Debug, Default)]
pub(crate) struct ScopeTable {
    /// Scope names by index.
    pub(crate) names: Vec<Arc<str>>,
    /// The permissions each scope maps to.
    pub(crate) grants: Vec<Vec<Permission>>,
    index: FastMap<Box<str>, usize>,
    /// The empty scope list of every RBAC denial, allocated once.
    pub(crate) none: Arc<[Arc<str>]>,
}

impl ScopeTable {
    /// Intern the configured scopes.
    pub(crate) fn compile(config: &BTreeMap<String, Vec<String>>) -> Result<Self, AuthzError> {
        if config.len() > MAX_INTERNED {
            return Err(AuthzError::TooMany { what: "scopes", max: MAX_INTERNED });
        }
        let mut table = Self::default();
        for (name, perms) in config {
            check_name("scope", name)?;
            let parsed = perms
                .iter()
                .map(|p| parse_permission(p, || format!("scope {name:?}")))
                .collect::<Result<Vec<_>, _>>()?;
            table.index.insert(name.as_str().into(), table.names.len());
            table.names.push(name.as_str().into());
            table.grants.push(parsed);
        }
        Ok(table)
    }

    /// The index of a scope, if configured.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The least powerful configured scope that grants `required`: the one whose granting
    /// permission is the most specific (more literal segments; a `*` beats a bare prefix), then
    /// the one mapping to fewer permissions, then the first by name.
    pub(crate) fn best_for(&self, required: &Permission) -> Option<&Arc<str>> {
        let mut best: Option<(usize, usize, usize)> = None; // (specificity, breadth, index)
        for (i, perms) in self.grants.iter().enumerate() {
            let specificity = perms
                .iter()
                .filter(|p| grants_segments(p, required.as_str().split(':')))
                .map(|p| {
                    let literal = p.as_str().split(':').take_while(|s| *s != "*").count();
                    2 * literal + usize::from(p.as_str().split(':').any(|s| s == "*"))
                })
                .max();
            let Some(specificity) = specificity else { continue };
            let better = match best {
                None => true,
                Some((s, breadth, _)) => specificity > s || (specificity == s && perms.len() < breadth),
            };
            if better {
                best = Some((specificity, perms.len(), i));
            }
        }
        best.map(|(_, _, i)| &self.names[i])
    }

    /// The scopes a step-up token needs: the caller's current scopes plus the best scope that
    /// grants `required`. Empty when no configured scope grants it (an RBAC denial).
    pub(crate) fn step_up(&self, current: &BTreeSet<Arc<str>>, required: &Permission) -> Arc<[Arc<str>]> {
        match self.best_for(required) {
            None => self.none.clone(),
            Some(extra) => {
                let mut all: BTreeSet<Arc<str>> = current.clone();
                all.insert(extra.clone());
                all.into_iter().collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(spec: &[(&str, &[&str])]) -> ScopeTable {
        let cfg = spec.iter().map(|(n, p)| (n.to_string(), p.iter().map(|s| s.to_string()).collect())).collect();
        ScopeTable::compile(&cfg).expect("valid scopes")
    }

    fn p(s: &str) -> Permission {
        s.parse().expect("valid")
    }

    #[test]
    fn picks_the_most_specific_scope() {
        let t = table(&[
            ("mcp:admin", &["tools:execute:admin", "admin"]),
            ("mcp:all", &["tools"]),
            ("mcp:tools", &["tools:list", "tools:execute:*"]),
        ]);
        assert_eq!(t.best_for(&p("tools:execute:admin")).map(|s| &**s), Some("mcp:admin"));
        assert_eq!(t.best_for(&p("tools:execute:calc")).map(|s| &**s), Some("mcp:tools"));
        assert_eq!(t.best_for(&p("tools:call")).map(|s| &**s), Some("mcp:all"));
        assert_eq!(t.best_for(&p("resources:read")), None);
    }

    #[test]
    fn step_up_adds_to_current_scopes() {
        let t = table(&[("mcp:tools", &["tools:execute:*"])]);
        let current: BTreeSet<Arc<str>> = ["openid".into()].into_iter().collect();
        let s = t.step_up(&current, &p("tools:execute:x"));
        assert_eq!(s.iter().map(|s| &**s).collect::<Vec<_>>(), vec!["mcp:tools", "openid"]);
        assert!(t.step_up(&current, &p("admin")).is_empty());
        assert!(ScopeTable::compile(&[("s".to_string(), vec!["a b".to_string()])].into_iter().collect()).is_err());
    }
}
