//! One shard of the in-memory store: a map from the key's 64-bit hash to a chain of entries
//! (a chain only when two keys share a hash), bounded in size, with idle-key eviction.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::algo::{Params, State, Verdict};

/// The map is keyed by a hash already computed with a keyed (SipHash) hasher: pass it through.
#[derive(Debug, Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A key: limit index and up to two parts (principal and tool, principal and class, or an IP).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Key<'a> {
    /// Limit index.
    pub(crate) limit: u16,
    /// First part.
    pub(crate) a: &'a [u8],
    /// Second part (may be empty).
    pub(crate) b: &'a [u8],
}

/// What to do to a key's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Charge `cost`; only evaluate when `commit` is false.
    Charge {
        /// Units.
        cost: u32,
        /// Apply, or only tell.
        commit: bool,
    },
    /// Give back `cost` units charged at the same `now`.
    Refund {
        /// Units.
        cost: u32,
    },
}

impl Op {
    /// Apply to a state; refunds report `Allowed`.
    pub(crate) fn apply(self, state: &mut State, params: Params, now: u64) -> Verdict {
        match self {
            Self::Charge { cost, commit } => state.charge(params, cost, now, commit),
            Self::Refund { cost } => {
                state.refund(params, cost, now);
                Verdict::Allowed { remaining: 0 }
            }
        }
    }
}

#[derive(Debug)]
struct Entry {
    limit: u16,
    split: u32,
    key: Box<[u8]>,
    state: State,
    idle_at: u64,
    next: Option<Box<Entry>>,
}

impl Entry {
    fn is(&self, k: &Key<'_>) -> bool {
        self.limit == k.limit
            && self.split as usize == k.a.len()
            && self.key.len() == k.a.len() + k.b.len()
            && same(&self.key[..k.a.len()], k.a)
            && same(&self.key[k.a.len()..], k.b)
    }
}

/// Byte equality of short keys, eight bytes at a time, without a call into libc (measured here:
/// the libc `bcmp` call cost more than the rest of a check).
fn same(x: &[u8], y: &[u8]) -> bool {
    if x.len() != y.len() {
        return false;
    }
    let (mut xs, mut ys) = (x.chunks_exact(8), y.chunks_exact(8));
    for (a, b) in (&mut xs).zip(&mut ys) {
        let word = |c: &[u8]| <[u8; 8]>::try_from(c).map(u64::from_ne_bytes).ok();
        if word(a) != word(b) {
            return false;
        }
    }
    let (ra, rb) = (xs.remainder(), ys.remainder());
    let mut i = 0;
    while i < ra.len() {
        if ra[i] != rb[i] {
            return false;
        }
        i += 1;
    }
    true
}

fn find<'e>(mut e: &'e mut Entry, k: &Key<'_>) -> Option<&'e mut Entry> {
    loop {
        if e.is(k) {
            return Some(e);
        }
        match e.next {
            Some(ref mut n) => e = n,
            None => return None,
        }
    }
}

/// The table is full of keys that are still in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// One shard.
#[derive(Debug, Default)]
pub(crate) struct ShardMap {
    map: HashMap<u64, Entry, BuildHasherDefault<PassThrough>>,
    len: usize,
    /// No entry becomes idle before this: a sweep earlier would free nothing.
    next_sweep: u64,
}

impl ShardMap {
    /// Keys tracked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Apply `op` to the key's state, creating it (for a committed charge) when there is room.
    pub(crate) fn run(
        &mut self,
        hash: u64,
        key: &Key<'_>,
        params: Params,
        op: Op,
        now: u64,
        cap: usize,
    ) -> Result<Verdict, Full> {
        if let Some(entry) = self.map.get_mut(&hash).and_then(|head| find(head, key)) {
            let verdict = op.apply(&mut entry.state, params, now);
            entry.idle_at = entry.state.idle_at(params);
            self.next_sweep = self.next_sweep.min(entry.idle_at);
            return Ok(verdict);
        }
        let mut state = params.fresh();
        match op {
            Op::Charge { commit: true, .. } => {}
            // Not tracked: a fresh state answers (a refund of an untracked key is the overflow's).
            Op::Charge { commit: false, .. } => return Ok(op.apply(&mut state, params, now)),
            Op::Refund { .. } => return Err(Full),
        }
        if self.len >= cap {
            if now >= self.next_sweep {
                self.sweep(now);
            }
            if self.len >= cap {
                return Err(Full);
            }
        }
        let verdict = op.apply(&mut state, params, now);
        let idle_at = state.idle_at(params);
        let mut key_buf = Vec::with_capacity(key.a.len() + key.b.len());
        key_buf.extend_from_slice(key.a);
        key_buf.extend_from_slice(key.b);
        let split = u32::try_from(key.a.len()).unwrap_or(u32::MAX);
        let entry = Entry { limit: key.limit, split, key: key_buf.into(), state, idle_at, next: None };
        match self.map.get_mut(&hash) {
            Some(head) => head.next = Some(Box::new(Entry { next: head.next.take(), ..entry })),
            None => {
                self.map.insert(hash, entry);
            }
        }
        self.len += 1;
        self.next_sweep = self.next_sweep.min(idle_at);
        Ok(verdict)
    }

    /// Forget every key whose state is the same as a fresh one at `now`; returns how many.
    pub(crate) fn sweep(&mut self, now: u64) -> usize {
        let (mut removed, mut min_idle) = (0, u64::MAX);
        self.map.retain(|_, head| prune(head, now, &mut removed, &mut min_idle));
        self.len -= removed;
        self.next_sweep = min_idle;
        if self.map.capacity() > 4 * self.map.len().max(64) {
            self.map.shrink_to_fit();
        }
        removed
    }
}

/// Drop the idle entries of one chain; false when the whole chain went.
fn prune(head: &mut Entry, now: u64, removed: &mut usize, min_idle: &mut u64) -> bool {
    let mut rest = head.next.take();
    while let Some(mut e) = rest {
        rest = e.next.take();
        if e.idle_at > now {
            *min_idle = (*min_idle).min(e.idle_at);
            e.next = head.next.take();
            head.next = Some(e);
        } else {
            *removed += 1;
        }
    }
    if head.idle_at > now {
        *min_idle = (*min_idle).min(head.idle_at);
        return true;
    }
    *removed += 1;
    match head.next.take() {
        Some(next) => {
            *head = *next;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests;
