//! Where blocks persist: the [`BlockStore`] trait and its in-memory implementation. The file
//! implementation is in [`crate::file_store`].
//!
//! The monitor answers `is_blocked_*` from its own in-memory table; a store is only the durable
//! (and possibly shared) copy, touched by admin calls and by `housekeeping`, never by a request.
//! A store shared between replicas (Redis, a database) implements the same two methods: a
//! change check and an atomic read-modify-write.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use crate::error::MonitorError;
use crate::target::BlockEntry;

/// An edit applied by [`BlockStore::update`].
pub type BlockEdit<'a> = &'a mut dyn FnMut(&mut Vec<BlockEntry>);

/// Durable storage of the block list.
pub trait BlockStore: fmt::Debug + Send + Sync + 'static {
    /// Every stored entry if the stored list changed since this store last loaded or wrote it
    /// (the first call always returns it); `None` when unchanged.
    fn load_if_changed(&self) -> Result<Option<Vec<BlockEntry>>, MonitorError>;

    /// Read the stored list, apply `edit`, write it back, atomically with respect to other
    /// writers of the same store. Returns the list as written.
    fn update(&self, edit: BlockEdit<'_>) -> Result<Vec<BlockEntry>, MonitorError>;
}

#[derive(Debug, Default)]
struct MemState {
    entries: Vec<BlockEntry>,
    generation: u64,
    seen: Option<u64>,
}

/// A store in process memory: blocks do not survive a restart. The default when no block file
/// is configured.
#[derive(Debug, Default)]
pub struct MemoryBlockStore {
    state: Mutex<MemState>,
}

impl MemoryBlockStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace the content as another writer would (the next `load_if_changed` reports it).
    pub fn replace(&self, entries: Vec<BlockEntry>) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.entries = entries;
        s.generation += 1;
    }
}

impl BlockStore for MemoryBlockStore {
    fn load_if_changed(&self) -> Result<Option<Vec<BlockEntry>>, MonitorError> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.seen == Some(s.generation) {
            return Ok(None);
        }
        s.seen = Some(s.generation);
        Ok(Some(s.entries.clone()))
    }

    fn update(&self, edit: BlockEdit<'_>) -> Result<Vec<BlockEntry>, MonitorError> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        edit(&mut s.entries);
        s.generation += 1;
        s.seen = Some(s.generation);
        Ok(s.entries.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn memory_store_reports_external_changes_only() {
        let s = MemoryBlockStore::new();
        assert_eq!(s.load_if_changed().unwrap(), Some(vec![]));
        assert_eq!(s.load_if_changed().unwrap(), None);
        let e = BlockEntry::manual("ip:192.0.2.9".parse().unwrap(), Duration::from_secs(9), "t", UNIX_EPOCH).unwrap();
        let written = s.update(&mut |v| v.push(e.clone())).unwrap();
        assert_eq!(written, vec![e.clone()]);
        assert_eq!(s.load_if_changed().unwrap(), None, "own writes are not changes");
        s.replace(vec![]);
        assert_eq!(s.load_if_changed().unwrap(), Some(vec![]));
    }
}
