//! The in-memory block table read on every request.
//!
//! Two sharded maps (addresses, client ids) of `RwLock<HashMap>`: a lookup takes one shard's
//! read lock, which readers share, and while no block exists at all it is a single atomic load.
//! Expired entries answer "not blocked" at once and are removed by `purge`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::target::{BlockEntry, BlockInfo, BlockOrigin, BlockTarget, unix_ms};

const SHARDS: usize = 32;

struct Shards<K> {
    shards: Box<[RwLock<HashMap<K, BlockEntry>>]>,
    hasher: RandomState,
    len: AtomicUsize,
}

impl<K: Hash + Eq + Clone> Shards<K> {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            len: AtomicUsize::new(0),
        }
    }

    fn slot<Q: Hash + ?Sized>(&self, key: &Q) -> &RwLock<HashMap<K, BlockEntry>> {
        // Indexing cannot fail: the index is reduced modulo the shard count.
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    fn get<Q>(&self, key: &Q, now_ms: u64) -> Option<BlockInfo>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let map = self.slot(key).read().unwrap_or_else(PoisonError::into_inner);
        map.get(key).filter(|e| unix_ms(e.until) > now_ms).map(BlockEntry::info)
    }

    fn entry<Q>(&self, key: &Q) -> Option<BlockEntry>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.slot(key).read().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    fn insert(&self, key: K, entry: BlockEntry) {
        let mut map = self.slot(&key).write().unwrap_or_else(PoisonError::into_inner);
        if map.insert(key, entry).is_none() {
            self.len.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn remove<Q>(&self, key: &Q) -> Option<BlockEntry>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.slot(key).write().unwrap_or_else(PoisonError::into_inner);
        let old = map.remove(key);
        if old.is_some() {
            self.len.fetch_sub(1, Ordering::AcqRel);
        }
        old
    }

    /// Keep entries for which `keep` holds; returns how many were removed.
    fn retain(&self, mut keep: impl FnMut(&BlockEntry) -> bool) -> usize {
        let mut removed = 0;
        for s in &self.shards {
            let mut map = s.write().unwrap_or_else(PoisonError::into_inner);
            let before = map.len();
            map.retain(|_, e| keep(e));
            removed += before - map.len();
        }
        self.len.fetch_sub(removed, Ordering::AcqRel);
        removed
    }

    fn for_each(&self, mut f: impl FnMut(&BlockEntry)) {
        for s in &self.shards {
            s.read().unwrap_or_else(PoisonError::into_inner).values().for_each(&mut f);
        }
    }

    /// Make room for one more entry when `max` are held: drop expired entries, then the
    /// automatic block that ends first. Returns false when only manual blocks are left.
    fn make_room(&self, max: usize, now_ms: u64) -> bool {
        if self.len.load(Ordering::Acquire) < max {
            return true;
        }
        self.retain(|e| unix_ms(e.until) > now_ms);
        if self.len.load(Ordering::Acquire) < max {
            return true;
        }
        let mut victim: Option<BlockEntry> = None;
        self.for_each(|e| {
            if e.origin == BlockOrigin::Automatic && victim.as_ref().is_none_or(|v| e.until < v.until) {
                victim = Some(e.clone());
            }
        });
        let Some(v) = victim else { return false };
        self.retain(|e| e.target != v.target);
        true
    }
}

/// Active blocks, by address and by client id.
pub(crate) struct BlockTable {
    ips: Shards<IpAddr>,
    clients: Shards<Arc<str>>,
    max: usize,
}

impl BlockTable {
    /// A table holding at most `max` blocks per key type.
    pub(crate) fn new(max: usize) -> Self {
        Self { ips: Shards::new(), clients: Shards::new(), max }
    }

    /// The block on `ip` (already normalized), if active at `now_ms`.
    pub(crate) fn ip(&self, ip: &IpAddr, now_ms: u64) -> Option<BlockInfo> {
        self.ips.get(ip, now_ms)
    }

    /// The block on client `id`, if active at `now_ms`.
    pub(crate) fn client(&self, id: &str, now_ms: u64) -> Option<BlockInfo> {
        self.clients.get(id, now_ms)
    }

    /// Insert or replace a block. Returns false (and stores nothing) when the table is full of
    /// active manual blocks.
    pub(crate) fn insert(&self, entry: BlockEntry, now_ms: u64) -> bool {
        match entry.target.clone() {
            BlockTarget::Ip(ip) => {
                let fits = self.ips.entry(&ip).is_some() || self.ips.make_room(self.max, now_ms);
                if fits {
                    self.ips.insert(ip, entry);
                }
                fits
            }
            BlockTarget::Client(id) => {
                let fits = self.clients.entry(&*id).is_some() || self.clients.make_room(self.max, now_ms);
                if fits {
                    self.clients.insert(id, entry);
                }
                fits
            }
        }
    }

    /// Remove the block on `target`.
    pub(crate) fn remove(&self, target: &BlockTarget) -> Option<BlockEntry> {
        match target {
            BlockTarget::Ip(ip) => self.ips.remove(ip),
            BlockTarget::Client(id) => self.clients.remove(&**id),
        }
    }

    /// Every block active at `now_ms`, ordered by end time.
    pub(crate) fn list(&self, now_ms: u64) -> Vec<BlockEntry> {
        let mut out = Vec::new();
        let mut push = |e: &BlockEntry| {
            if unix_ms(e.until) > now_ms {
                out.push(e.clone());
            }
        };
        self.ips.for_each(&mut push);
        self.clients.for_each(&mut push);
        out.sort_by(|a, b| a.until.cmp(&b.until).then_with(|| a.target.cmp(&b.target)));
        out
    }

    /// Drop expired blocks; returns how many.
    pub(crate) fn purge(&self, now_ms: u64) -> usize {
        self.ips.retain(|e| unix_ms(e.until) > now_ms) + self.clients.retain(|e| unix_ms(e.until) > now_ms)
    }

    /// Number of stored blocks (expired ones included until purged).
    pub(crate) fn len(&self) -> usize {
        self.ips.len.load(Ordering::Acquire) + self.clients.len.load(Ordering::Acquire)
    }

    /// Replace the whole content with `entries` (the ones active at `now_ms`). New and changed
    /// blocks are written before stale ones are removed, so a block that stays never lapses.
    pub(crate) fn replace_all(&self, entries: impl IntoIterator<Item = BlockEntry>, now_ms: u64) {
        let mut keep: HashMap<BlockTarget, BlockEntry> = HashMap::new();
        for e in entries.into_iter().filter(|e| unix_ms(e.until) > now_ms) {
            keep.insert(e.target.clone(), e);
        }
        for e in keep.values() {
            if self.entry(&e.target).as_ref() != Some(e) {
                self.insert(e.clone(), now_ms);
            }
        }
        self.ips.retain(|e| keep.contains_key(&e.target));
        self.clients.retain(|e| keep.contains_key(&e.target));
    }

    /// The stored entry for `target`, expired or not.
    pub(crate) fn entry(&self, target: &BlockTarget) -> Option<BlockEntry> {
        match target {
            BlockTarget::Ip(ip) => self.ips.entry(ip),
            BlockTarget::Client(id) => self.clients.entry(&**id),
        }
    }
}
