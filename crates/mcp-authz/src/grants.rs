//! Permission matching without allocation.
//!
//! Every grant of every role and scope is compiled into one segment trie whose nodes carry the
//! bitsets of the holders that grant "this node and everything below" (`all`) or "anything with
//! at least one more segment" (`star`, from a `*` segment). Checking a wanted permission is one
//! walk down the trie, whatever the number of roles. The semantics are exactly those of
//! [`Permission::grants`].

use std::borrow::Cow;

use mcp_core::Permission;

use crate::bits::{FastMap, Mask};

/// True when holding `held` grants the permission whose segments are `wanted` — the same answer
/// as [`Permission::grants`], without building the wanted permission.
///
/// ```
/// use mcp_authz::grants_segments;
/// let held: mcp_core::Permission = "tools:execute:*".parse().unwrap();
/// assert!(grants_segments(&held, ["tools", "execute", "calc"]));
/// assert!(!grants_segments(&held, ["tools", "execute"]));
/// assert!(!grants_segments(&held, ["tools", "list"]));
/// ```
pub fn grants_segments<'a>(held: &Permission, wanted: impl IntoIterator<Item = &'a str>) -> bool {
    let mut want = wanted.into_iter();
    for h in held.as_str().split(':') {
        match want.next() {
            Some(_) if h == "*" => return true,
            Some(w) if w == h => {}
            _ => return false,
        }
    }
    true
}

/// The permission segment `mcp_core` derives from a tool or prompt name: characters outside
/// `[A-Za-z0-9_.-]` become `_`, at most 200 characters, `_` when empty. Borrowed (no allocation)
/// for every name that is already clean.
pub(crate) fn sanitized(name: &str) -> Cow<'_, str> {
    let clean = |b: u8| b.is_ascii_alphanumeric() || b"_.-".contains(&b);
    if !name.is_empty() && name.len() <= 200 && name.bytes().all(clean) {
        return Cow::Borrowed(name);
    }
    let s: String = name.chars().map(|c| if c.is_ascii() && clean(c as u8) { c } else { '_' }).take(200).collect();
    if s.is_empty() { Cow::Borrowed("_") } else { Cow::Owned(s) }
}

/// Who holds a grant.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Holder {
    /// The role with this index.
    Role(usize),
    /// The scope with this index.
    Scope(usize),
}

#[derive(Debug, Default)]
struct Node {
    all: Mask,
    star: Mask,
    children: FastMap<Box<str>, Node>,
}

/// Every role and scope grant, compiled.
#[derive(Debug, Default)]
pub(crate) struct GrantTrie {
    root: Node,
}

impl GrantTrie {
    /// Record that `holder` holds `permission`.
    pub(crate) fn insert(&mut self, permission: &Permission, holder: Holder) {
        let mut node = &mut self.root;
        for seg in permission.as_str().split(':') {
            if seg == "*" {
                mark(&mut node.star, holder);
                return;
            }
            node = node.children.entry(seg.into()).or_default();
        }
        mark(&mut node.all, holder);
    }

    /// True when some role or scope in `held` grants the permission with segments `wanted`.
    #[inline]
    pub(crate) fn grants<'a>(&self, wanted: impl Iterator<Item = &'a str>, held: &Mask) -> bool {
        let mut node = &self.root;
        for seg in wanted {
            if node.all.intersects(held) || node.star.intersects(held) {
                return true;
            }
            match node.children.get(seg) {
                Some(next) => node = next,
                None => return false,
            }
        }
        node.all.intersects(held)
    }

    /// Every role and scope that grants the permission with segments `wanted`, for permissions
    /// known at compile time: checking them is then one mask intersection.
    pub(crate) fn grantors<'a>(&self, wanted: impl Iterator<Item = &'a str>) -> Mask {
        let mut out = Mask::default();
        let mut node = Some(&self.root);
        for seg in wanted {
            let Some(n) = node else { break };
            out.union_with(&n.all);
            out.union_with(&n.star);
            node = n.children.get(seg);
        }
        if let Some(n) = node {
            out.union_with(&n.all);
        }
        out
    }
}

fn mark(mask: &mut Mask, holder: Holder) {
    match holder {
        Holder::Role(i) => mask.roles.set(i),
        Holder::Scope(i) => mask.scopes.set(i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Permission {
        s.parse().expect("valid permission")
    }

    fn role0() -> Mask {
        let mut m = Mask::default();
        m.roles.set(0);
        m
    }

    #[test]
    fn trie_matches_permission_grants() {
        let held = ["tools", "tools:*", "tools:execute:calc", "*", "admin:logging", "a:*:b"];
        let wanted =
            ["tools", "tools:list", "tools:execute:calc", "tools:execute:other", "admin", "admin:logging:x", "a:z"];
        for h in held {
            let mut trie = GrantTrie::default();
            trie.insert(&p(h), Holder::Role(0));
            for w in wanted {
                let expected = p(h).grants(&p(w));
                assert_eq!(trie.grants(w.split(':'), &role0()), expected, "{h} vs {w}");
                assert_eq!(trie.grantors(w.split(':')).intersects(&role0()), expected, "{h} vs {w}");
                assert_eq!(grants_segments(&p(h), w.split(':')), expected, "{h} vs {w}");
                assert!(!trie.grants(w.split(':'), &Mask::default()), "nobody holds {h}");
            }
        }
    }

    #[test]
    fn scope_holders_are_separate_from_roles() {
        let mut trie = GrantTrie::default();
        trie.insert(&p("tools:list"), Holder::Scope(0));
        assert!(!trie.grants(["tools", "list"].into_iter(), &role0()));
        let mut m = Mask::default();
        m.scopes.set(0);
        assert!(trie.grants(["tools", "list"].into_iter(), &m));
    }

    #[test]
    fn sanitize_matches_core() {
        for name in ["calc", "a:b", "", "ünï", "x y", &"l".repeat(300), "ok.-_9"] {
            let core = mcp_core::Action::call_tool(name).required_permission();
            assert_eq!(format!("tools:execute:{}", sanitized(name)), core.as_str(), "{name:?}");
        }
        assert!(matches!(sanitized("clean"), Cow::Borrowed(_)));
    }
}
