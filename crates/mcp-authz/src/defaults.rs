//! Default permissions compiled ahead of time, so that a decision about a known target neither
//! walks the grant trie nor builds text: the permission a tool or prompt needs when no rule
//! covers it (`tools:execute:<name>`, `prompts:get:<name>`) and the target-less permissions
//! (`tools:list`, `resources:read`, ...), each with its rule id (`default:<permission>`) and the
//! roles and scopes that grant it. A denial then clones two `Arc`s instead of allocating.

use std::sync::Arc;

use mcp_core::Permission;

use crate::bits::{FastMap, Mask};
use crate::decide::{FIXED, Target};
use crate::grants::{GrantTrie, sanitized};

/// One precompiled default permission.
#[derive(Debug)]
pub(crate) struct DefaultPermission {
    /// The permission the target needs.
    pub(crate) permission: Permission,
    /// `default:<permission>`, the rule id of a denial.
    pub(crate) rule: Arc<str>,
    /// Every role and scope granting it.
    pub(crate) grantors: Mask,
}

/// The default permissions of the tools and prompts the policy knows by name, and of the
/// target-less actions.
#[derive(Debug)]
pub(crate) struct Defaults {
    tools: FastMap<Box<str>, DefaultPermission>,
    prompts: FastMap<Box<str>, DefaultPermission>,
    /// Same order as [`FIXED`]; the grantors are [`crate::Policy`]'s `fixed` masks.
    fixed: [Option<(Permission, Arc<str>)>; FIXED.len()],
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            tools: FastMap::default(),
            prompts: FastMap::default(),
            fixed: FIXED.map(|p| p.parse::<Permission>().ok().map(|perm| (perm, format!("default:{p}").into()))),
        }
    }
}

impl Defaults {
    /// Precompile the default permissions of `tools` and `prompts` against `trie`.
    pub(crate) fn compile<'a>(
        trie: &GrantTrie,
        tools: impl IntoIterator<Item = &'a str>,
        prompts: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut out = Self::default();
        for (map, prefix, names) in [
            (&mut out.tools, "tools:execute", tools.into_iter().collect::<Vec<_>>()),
            (&mut out.prompts, "prompts:get", prompts.into_iter().collect()),
        ] {
            for name in names {
                let text = format!("{prefix}:{}", sanitized(name));
                // Always valid: the prefix is fixed and `sanitized` yields one clean segment.
                let Ok(permission) = text.parse::<Permission>() else { continue };
                let grantors = trie.grantors(text.split(':'));
                let rule = format!("default:{text}").into();
                map.insert(name.into(), DefaultPermission { permission, rule, grantors });
            }
        }
        out
    }

    /// The precompiled default permission of a named target, when the policy knows the name.
    #[inline]
    pub(crate) fn named(&self, target: Target<'_>) -> Option<&DefaultPermission> {
        match target {
            Target::Tool(n) => self.tools.get(n),
            Target::Prompt(n) => self.prompts.get(n),
            _ => None,
        }
    }

    /// The default permission of `target` and its rule id, without allocating when it is known.
    pub(crate) fn required(&self, target: Target<'_>) -> Option<(Permission, Arc<str>)> {
        match target {
            Target::Fixed(i) | Target::Resource(i, _) => self.fixed.get(i).cloned().flatten(),
            _ => self.named(target).map(|d| (d.permission.clone(), d.rule.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grants::Holder;

    #[test]
    fn known_names_and_fixed_permissions_are_precompiled() {
        let mut trie = GrantTrie::default();
        trie.insert(&"tools:execute".parse().expect("valid"), Holder::Role(2));
        let d = Defaults::compile(&trie, ["calc", "a b"], ["greet"]);
        let calc = d.named(Target::Tool("calc")).expect("known tool");
        assert_eq!(calc.permission.as_str(), "tools:execute:calc");
        assert_eq!(&*calc.rule, "default:tools:execute:calc");
        assert!(calc.grantors.roles.has(2));
        let odd = d.named(Target::Tool("a b")).expect("known tool");
        assert_eq!(odd.permission, mcp_core::Action::call_tool("a b").required_permission());
        assert_eq!(d.named(Target::Prompt("greet")).expect("known prompt").permission.as_str(), "prompts:get:greet");
        assert!(d.named(Target::Tool("other")).is_none() && d.named(Target::Prompt("calc")).is_none());
        let (p, rule) = d.required(Target::Resource(2, "x://y")).expect("fixed");
        assert_eq!((p.as_str(), &*rule), ("resources:read", "default:resources:read"));
        assert!(d.required(Target::Unknown).is_none());
    }
}
