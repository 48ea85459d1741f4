//! Bounded caches keyed by SHA-256 of a token: a repeated token costs a hash and a lookup, not a
//! signature check or a network call.
//!
//! Sharded (16 shards, short critical sections, no lock held across an await). Entries expire
//! at their token's `exp`; when a shard is full, expired entries are purged (at most once a
//! second per shard) and, if it is still full, an arbitrary entry is evicted — keys are hashes,
//! so an attacker cannot aim evictions. Only tokens that verified are inserted, so filling the
//! cache requires valid tokens.

use std::collections::HashMap;
use std::sync::Mutex;

use ring::digest;

const SHARDS: usize = 16;

/// SHA-256 of a token.
pub(crate) type TokenHash = [u8; 32];

pub(crate) fn token_hash(token: &str) -> TokenHash {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

struct Shard<V> {
    map: HashMap<TokenHash, (u64, V)>,
    next_purge: u64,
}

/// A bounded map from token hash to a value valid until a Unix time.
pub(crate) struct TokenCache<V> {
    shards: Vec<Mutex<Shard<V>>>,
    per_shard: usize,
}

impl<V> std::fmt::Debug for TokenCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").field("capacity", &(self.per_shard * SHARDS)).finish_non_exhaustive()
    }
}

impl<V: Clone> TokenCache<V> {
    /// A cache of about `capacity` entries; 0 disables it.
    pub(crate) fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard { map: HashMap::new(), next_purge: 0 })).collect();
        Self { shards, per_shard }
    }

    fn shard(&self, key: &TokenHash) -> &Mutex<Shard<V>> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// False when built with capacity 0.
    pub(crate) fn enabled(&self) -> bool {
        self.per_shard > 0
    }

    /// The value for `key` if it has not expired at `now`.
    pub(crate) fn get(&self, key: &TokenHash, now: u64) -> Option<V> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        match shard.map.get(key) {
            Some((until, v)) if *until > now => Some(v.clone()),
            Some(_) => {
                shard.map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remember `value` for `key` until `until` (exclusive).
    pub(crate) fn insert(&self, key: TokenHash, until: u64, value: V, now: u64) {
        if self.per_shard == 0 || until <= now {
            return;
        }
        let mut shard = self.shard(&key).lock().unwrap_or_else(|p| p.into_inner());
        if shard.map.len() >= self.per_shard && !shard.map.contains_key(&key) {
            if now >= shard.next_purge {
                shard.map.retain(|_, (u, _)| *u > now);
                shard.next_purge = now + 1;
            }
            if shard.map.len() >= self.per_shard
                && let Some(victim) = shard.map.keys().next().copied()
            {
                shard.map.remove(&victim);
            }
        }
        shard.map.insert(key, (until, value));
    }

    /// Drop every entry for which `keep` is false.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        for s in &self.shards {
            s.lock().unwrap_or_else(|p| p.into_inner()).map.retain(|_, (_, v)| keep(v));
        }
    }

    /// Entries held (for tests and metrics).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_bound() {
        let c = TokenCache::new(32);
        let k = token_hash("a");
        c.insert(k, 100, 1u32, 50);
        assert_eq!(c.get(&k, 99), Some(1));
        assert_eq!(c.get(&k, 100), None, "valid until exp, exclusive");
        c.insert(k, 40, 1u32, 50);
        assert_eq!(c.len(), 0, "already expired entries are not stored");
        for i in 0..10_000 {
            c.insert(token_hash(&i.to_string()), 1000, i, 50);
        }
        assert!(c.len() <= 32, "bounded: {}", c.len());
    }

    #[test]
    fn zero_capacity_disables() {
        let c = TokenCache::new(0);
        c.insert(token_hash("a"), 100, 1u8, 0);
        assert_eq!(c.get(&token_hash("a"), 1), None);
    }
}
