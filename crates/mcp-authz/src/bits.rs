//! Fixed-size bitsets for interned roles and scopes, and a small FNV-1a hasher for the static
//! lookup tables.
//!
//! The tables are built once from configuration and never grow with requests, so a fast
//! non-keyed hash is safe here: a caller can choose what it looks up, never what is stored.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// How many roles (and, separately, how many scopes) a policy may define.
pub const MAX_INTERNED: usize = 256;

const WORDS: usize = MAX_INTERNED / 64;

/// A set of interned indices below [`MAX_INTERNED`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bits([u64; WORDS]);

impl Bits {
    /// Add `i` (ignored when out of range; indices are checked at intern time).
    pub(crate) fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    /// True when `i` is in the set.
    pub(crate) fn has(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Add every member of `other`.
    pub(crate) fn union_with(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }

    /// True when the sets share a member.
    #[inline]
    pub(crate) fn intersects(&self, other: &Bits) -> bool {
        self.0.iter().zip(other.0.iter()).any(|(a, b)| a & b != 0)
    }

    /// True when nothing is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The members, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..MAX_INTERNED).filter(|i| self.has(*i))
    }
}

/// Roles and scopes together: what a principal holds, or which holders a grant belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mask {
    /// Role indices.
    pub(crate) roles: Bits,
    /// Scope indices.
    pub(crate) scopes: Bits,
}

impl Mask {
    /// Add every role and scope of `other`.
    pub(crate) fn union_with(&mut self, other: &Mask) {
        self.roles.union_with(&other.roles);
        self.scopes.union_with(&other.scopes);
    }

    /// True when the masks share a role or a scope.
    #[inline]
    pub(crate) fn intersects(&self, other: &Mask) -> bool {
        self.roles.intersects(&other.roles) || self.scopes.intersects(&other.scopes)
    }
}

/// FNV-1a, 64 bit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A hash map over the static, config-built tables.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_has_union_intersect() {
        let mut a = Bits::default();
        assert!(a.is_empty());
        a.set(3);
        a.set(200);
        a.set(MAX_INTERNED); // out of range: ignored
        assert!(a.has(3) && a.has(200) && !a.has(4));
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![3, 200]);
        let mut b = Bits::default();
        b.set(4);
        assert!(!a.intersects(&b));
        b.union_with(&a);
        assert!(a.intersects(&b) && b.has(4));
    }

    #[test]
    fn fast_map_looks_up_by_str() {
        let mut m: FastMap<Box<str>, u8> = FastMap::default();
        m.insert("admin".into(), 1);
        assert_eq!(m.get("admin"), Some(&1));
        assert_eq!(m.get("admi"), None);
    }
}
