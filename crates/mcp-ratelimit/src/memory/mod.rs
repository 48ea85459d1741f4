//! The in-memory store: per-replica state in `SHARDS` independently locked shards, so checks on
//! different keys rarely contend and no lock is global.
//!
//! Bounded: at most `max_keys` keys (rounded up to a multiple of the shard count). When a shard
//! is full, keys whose state has become the same as a fresh one (a full bucket, an empty window)
//! are evicted. When it is still full, a key not yet tracked is charged to one **overflow**
//! state per limit shared by all such keys: memory stays bounded, no tracked key loses its
//! count (evicting live keys would let a flood of new keys reset an attacker's own limit), and
//! new callers are still served, together, up to one key's allowance.

mod hash;
mod shard;

use std::sync::{Mutex, MutexGuard, PoisonError};

use hash::KeyHasher;
use shard::{Full, ShardMap};
pub(crate) use shard::{Key, Op};

use crate::algo::{Params, State, Verdict};

/// Number of shards (a power of two).
const SHARDS: usize = 64;

/// A shard on its own cache lines, so neighbouring locks do not share one.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(Mutex<ShardMap>);

/// The sharded, bounded store.
#[derive(Debug)]
pub(crate) struct MemoryStore {
    shards: Box<[Padded]>,
    /// Keyed per process, so a client cannot choose keys that collide.
    hasher: KeyHasher,
    per_shard: usize,
    /// One shared state per limit for keys that did not fit.
    overflow: Box<[Mutex<Option<State>>]>,
}

/// What a run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// The verdict.
    pub(crate) verdict: Verdict,
    /// The key did not fit and was charged to the limit's overflow state.
    pub(crate) overflowed: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state under these locks stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// A store for `limits` limits and at most `max_keys` keys (at least one per shard).
    pub(crate) fn new(limits: usize, max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Padded::default()).collect(),
            hasher: KeyHasher::new(),
            per_shard: max_keys.div_ceil(SHARDS).max(1),
            overflow: (0..limits.max(1)).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Apply `op` to the key's state at `now` (nanoseconds on the engine's clock).
    pub(crate) fn run(&self, key: &Key<'_>, params: Params, op: Op, now: u64) -> Outcome {
        let hash = self.hasher.hash(key);
        // Shard by bits the map itself does not use (it takes the low bits for the bucket and
        // the top seven as tag).
        let shard = &self.shards[(hash >> 32) as usize & (SHARDS - 1)];
        let result = lock(&shard.0).run(hash, key, params, op, now, self.per_shard);
        match result {
            Ok(verdict) => Outcome { verdict, overflowed: false },
            Err(Full) => {
                // `limit` is always below the number of limits; the modulo only avoids a panic path.
                let mut slot = lock(&self.overflow[usize::from(key.limit) % self.overflow.len()]);
                let state = slot.get_or_insert_with(|| params.fresh());
                Outcome { verdict: op.apply(state, params, now), overflowed: true }
            }
        }
    }

    /// Evict every idle key; returns how many went.
    pub(crate) fn sweep(&self, now: u64) -> usize {
        self.shards.iter().map(|s| lock(&s.0).sweep(now)).sum()
    }

    /// Keys tracked now.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(&s.0).len()).sum()
    }

    /// The largest number of keys this store holds.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }
}

#[cfg(test)]
mod tests;
