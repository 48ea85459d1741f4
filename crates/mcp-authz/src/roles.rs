//! Role interning and inheritance: each role gets an index, and a closure bitset holding itself
//! and every role it inherits, transitively. Cycles and unknown inherited roles refuse to
//! compile.

use std::collections::BTreeMap;
use std::sync::Arc;

use mcp_core::Permission;

use crate::bits::{Bits, FastMap, MAX_INTERNED};
use crate::config::{Permissions, RoleConfig};
use crate::error::{AuthzError, truncated};

/// One interned role.
#[derive(Debug)]
pub(crate) struct Role {
    /// The name.
    pub(crate) name: Arc<str>,
    /// Its own permissions (`"all"` compiles to `*`).
    pub(crate) own: Vec<Permission>,
    /// Directly inherited roles.
    pub(crate) inherits: Vec<usize>,
    /// Itself plus every role inherited, transitively.
    pub(crate) closure: Bits,
    /// Defined under `[authorization.roles]` (false: only named by a code rule).
    pub(crate) defined: bool,
}

/// Every role of a policy.
#[derive(Debug, Default)]
pub(crate) struct RoleTable {
    pub(crate) roles: Vec<Role>,
    index: FastMap<Box<str>, usize>,
}

impl RoleTable {
    /// Intern the configured roles and resolve inheritance.
    pub(crate) fn compile(config: &BTreeMap<String, RoleConfig>) -> Result<Self, AuthzError> {
        if config.len() > MAX_INTERNED {
            return Err(AuthzError::TooMany { what: "roles", max: MAX_INTERNED });
        }
        let mut table = Self::default();
        for (name, role) in config {
            check_name("role", name)?;
            let own = match &role.permissions {
                Permissions::All => vec![parse_permission("*", || format!("role {name:?}"))?],
                Permissions::List(list) => {
                    list.iter().map(|p| parse_permission(p, || format!("role {name:?}"))).collect::<Result<_, _>>()?
                }
            };
            table.push(name, own, true);
        }
        for (i, role) in config.values().enumerate() {
            for parent in &role.inherits {
                let Some(&j) = table.index.get(parent.as_str()) else {
                    let context = format!("inherits of role {:?}", &*table.roles[i].name);
                    return Err(AuthzError::UnknownRole { role: truncated(parent), context });
                };
                table.roles[i].inherits.push(j);
            }
        }
        table.resolve_closures()?;
        Ok(table)
    }

    /// The index of `name`, if interned.
    #[inline]
    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The index of `name`, interning it as an implicit role (no permissions) when a code rule
    /// names a role the configuration does not define.
    pub(crate) fn intern_implicit(&mut self, name: &str) -> Result<usize, AuthzError> {
        if let Some(i) = self.get(name) {
            return Ok(i);
        }
        check_name("role", name)?;
        if self.roles.len() >= MAX_INTERNED {
            return Err(AuthzError::TooMany { what: "roles", max: MAX_INTERNED });
        }
        let i = self.push(name, Vec::new(), false);
        self.roles[i].closure.set(i);
        Ok(i)
    }

    fn push(&mut self, name: &str, own: Vec<Permission>, defined: bool) -> usize {
        let i = self.roles.len();
        self.roles.push(Role { name: name.into(), own, inherits: Vec::new(), closure: Bits::default(), defined });
        self.index.insert(name.into(), i);
        i
    }

    /// Depth-first: grey on the stack, black when its closure is known.
    fn resolve_closures(&mut self) -> Result<(), AuthzError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            White,
            Grey,
            Black,
        }
        let n = self.roles.len();
        let mut marks = vec![Mark::White; n];
        for start in 0..n {
            if marks[start] != Mark::White {
                continue;
            }
            // (role, next inherited position to visit)
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            marks[start] = Mark::Grey;
            while let Some(&mut (role, ref mut pos)) = stack.last_mut() {
                if let Some(&parent) = self.roles[role].inherits.get(*pos) {
                    *pos += 1;
                    match marks[parent] {
                        Mark::White => {
                            marks[parent] = Mark::Grey;
                            stack.push((parent, 0));
                        }
                        Mark::Grey => return Err(self.cycle_error(&stack, parent)),
                        Mark::Black => {}
                    }
                } else {
                    let mut closure = Bits::default();
                    closure.set(role);
                    for &parent in &self.roles[role].inherits {
                        closure.union_with(&self.roles[parent].closure);
                    }
                    self.roles[role].closure = closure;
                    marks[role] = Mark::Black;
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    fn cycle_error(&self, stack: &[(usize, usize)], back_to: usize) -> AuthzError {
        let from = stack.iter().position(|(r, _)| *r == back_to).unwrap_or(0);
        let mut names: Vec<&str> = stack[from..].iter().map(|(r, _)| &*self.roles[*r].name).collect();
        names.push(&self.roles[back_to].name);
        AuthzError::InheritanceCycle { cycle: names.join(" -> ") }
    }
}

/// Parse a permission, naming where it was written on failure.
pub(crate) fn parse_permission(text: &str, context: impl FnOnce() -> String) -> Result<Permission, AuthzError> {
    text.parse().map_err(|source| AuthzError::InvalidPermission { context: context(), source })
}

/// Role and scope names: 1..=256 bytes, no control characters.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), AuthzError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > 256 {
        "longer than 256 bytes"
    } else if name.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(());
    };
    Err(AuthzError::InvalidName { what, name: truncated(name), reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(spec: &[(&str, &[&str], &[&str])]) -> BTreeMap<String, RoleConfig> {
        spec.iter()
            .map(|(n, perms, inh)| {
                let permissions = Permissions::List(perms.iter().map(|s| s.to_string()).collect());
                (n.to_string(), RoleConfig { permissions, inherits: inh.iter().map(|s| s.to_string()).collect() })
            })
            .collect()
    }

    #[test]
    fn closure_is_transitive() {
        let t = RoleTable::compile(&roles(&[("a", &["x"], &["b"]), ("b", &[], &["c"]), ("c", &["y"], &[])]))
            .expect("acyclic");
        let a = t.get("a").expect("a");
        let closure: Vec<&str> = t.roles[a].closure.iter().map(|i| &*t.roles[i].name).collect();
        assert_eq!(closure, vec!["a", "b", "c"]);
    }

    #[test]
    fn cycles_and_unknown_parents_are_refused() {
        let e = RoleTable::compile(&roles(&[("a", &[], &["b"]), ("b", &[], &["c"]), ("c", &[], &["a"])]))
            .expect_err("cycle");
        assert_eq!(e, AuthzError::InheritanceCycle { cycle: "a -> b -> c -> a".into() });
        let e = RoleTable::compile(&roles(&[("a", &[], &["a"])])).expect_err("self cycle");
        assert_eq!(e.to_string(), "role inheritance cycle: a -> a");
        let e = RoleTable::compile(&roles(&[("a", &[], &["ghost"])])).expect_err("unknown");
        assert!(matches!(e, AuthzError::UnknownRole { ref role, .. } if role == "ghost"));
        assert!(RoleTable::compile(&roles(&[("", &[], &[])])).is_err());
        assert!(RoleTable::compile(&roles(&[("a", &["bad perm"], &[])])).is_err());
    }

    #[test]
    fn implicit_roles_hold_nothing_but_themselves() {
        let mut t = RoleTable::compile(&roles(&[("a", &["x"], &[])])).expect("ok");
        let i = t.intern_implicit("ops").expect("interned");
        assert_eq!(t.intern_implicit("ops").expect("again"), i);
        assert_eq!(t.intern_implicit("a").expect("defined"), 0);
        assert!(!t.roles[i].defined && t.roles[i].own.is_empty() && t.roles[i].closure.has(i));
    }
}
