//! A bounded, sharded map for per-key state that every request may touch. Each shard is a
//! `Mutex<HashMap>` (SipHash with a random key, so callers cannot aim collisions at one bucket);
//! with 64 shards two requests rarely meet on the same lock. When a shard is full, the stalest
//! eighth of it is evicted in one pass, so eviction costs O(1) amortized per insert.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};

const SHARDS: usize = 64;

/// Values report when they were last touched (milliseconds on the monitor's clock).
pub(crate) trait LastSeen {
    fn last_seen(&self) -> u64;
}

pub(crate) struct ShardedMap<K, V> {
    shards: Box<[Mutex<HashMap<K, V>>]>,
    hasher: RandomState,
    per_shard: usize,
}

impl<K: Hash + Eq + Clone, V: LastSeen> ShardedMap<K, V> {
    /// A map holding at most about `max` entries (rounded up to a multiple of the shard count).
    pub(crate) fn new(max: usize) -> Self {
        let per_shard = max.div_ceil(SHARDS).max(1);
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            per_shard,
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, HashMap<K, V>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        // Indexing cannot fail: i < SHARDS == shards.len().
        self.shards[i].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` on the value of `key`, creating it with `make_key` / `init` when absent.
    pub(crate) fn with<Q, R>(
        &self,
        key: &Q,
        make_key: impl FnOnce() -> K,
        init: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> R
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.shard(key);
        if let Some(v) = map.get_mut(key) {
            return f(v);
        }
        if map.len() >= self.per_shard {
            evict_stalest(&mut map, self.per_shard);
        }
        f(map.entry(make_key()).or_insert_with(init))
    }

    /// Run `f` on the value of `key` if present.
    pub(crate) fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(&mut V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key).get_mut(key).map(f)
    }

    /// Remove `key`.
    pub(crate) fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key).remove(key)
    }

    /// Keep the entries for which `keep` holds.
    pub(crate) fn retain_mut(&self, mut keep: impl FnMut(&mut V) -> bool) {
        for s in &self.shards {
            s.lock().unwrap_or_else(PoisonError::into_inner).retain(|_, v| keep(v));
        }
    }

    /// Number of entries (locks each shard in turn).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len()).sum()
    }
}

fn evict_stalest<K: Hash + Eq + Clone, V: LastSeen>(map: &mut HashMap<K, V>, cap: usize) {
    let drop_n = (cap / 8).max(1).min(map.len());
    let mut ages: Vec<(u64, K)> = map.iter().map(|(k, v)| (v.last_seen(), k.clone())).collect();
    if drop_n < ages.len() {
        ages.select_nth_unstable_by_key(drop_n - 1, |(t, _)| *t);
    }
    for (_, k) in ages.into_iter().take(drop_n) {
        map.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    struct Seen(u64);
    impl LastSeen for Seen {
        fn last_seen(&self) -> u64 {
            self.0
        }
    }

    #[test]
    fn bounded_and_evicts_stalest() {
        let m: ShardedMap<Arc<str>, Seen> = ShardedMap::new(64 * 8);
        for i in 0..10_000u64 {
            let k: Arc<str> = format!("k{i}").into();
            m.with(&*k, || Arc::clone(&k), || Seen(i), |_| ());
        }
        assert!(m.len() <= 64 * 8, "len {}", m.len());
        // The newest key survives, the oldest was evicted.
        assert!(m.get_with("k9999", |v| v.0).is_some());
        assert!(m.get_with("k0", |v| v.0).is_none());
    }

    #[test]
    fn with_get_remove_retain() {
        let m: ShardedMap<u32, Seen> = ShardedMap::new(100);
        assert_eq!(m.with(&1, || 1, || Seen(5), |v| v.0), 5);
        m.with(&1, || 1, || Seen(0), |v| v.0 = 7);
        assert_eq!(m.get_with(&1, |v| v.0), Some(7));
        m.with(&2, || 2, || Seen(1), |_| ());
        m.retain_mut(|v| v.0 >= 5);
        assert_eq!(m.len(), 1);
        assert!(m.remove(&1).is_some());
        assert_eq!(m.len(), 0);
    }
}
