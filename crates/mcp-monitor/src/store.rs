//! Where blocks persist: the [`BlockStore`] trait and its in-memory implementation. The file
//! implementation is in [`crate::file_store`].
//!
//! The monitor answers `is_blocked_*` from its own in-memory table; a store is only the durable
//! (and possibly shared) copy, touched by admin calls and by `housekeeping`, never by a request.
//! A store shared between replicas (Redis, a database) implements the same two methods: a
//! change check and an atomic read-modify-write.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use std::time::SystemTime;

use crate::error::MonitorError;
use crate::target::{BlockEntry, BlockTarget};

/// An edit applied by [`BlockStore::update`].
pub type BlockEdit<'a> = &'a mut dyn FnMut(&mut Vec<BlockEntry>);

/// Durable storage of the block list.
pub trait BlockStore: fmt::Debug + Send + Sync + 'static {
    /// Every stored entry (expired ones may be included), without change tracking.
    fn load(&self) -> Result<Vec<BlockEntry>, MonitorError>;

    /// Every stored entry if the stored list changed since this store last loaded or wrote it
    /// (the first call always returns it); `None` when unchanged.
    fn load_if_changed(&self) -> Result<Option<Vec<BlockEntry>>, MonitorError>;

    /// Read the stored list, apply `edit`, write it back, atomically with respect to other
    /// writers of the same store. Returns the list as written.
    fn update(&self, edit: BlockEdit<'_>) -> Result<Vec<BlockEntry>, MonitorError>;

    /// Blocks active at `now` (for `mcp-server block list`), ordered by end time.
    fn list(&self, now: SystemTime) -> Result<Vec<BlockEntry>, MonitorError> {
        let mut entries = self.load()?;
        entries.retain(|e| e.until > now);
        entries.sort_by(|a, b| a.until.cmp(&b.until).then_with(|| a.target.cmp(&b.target)));
        Ok(entries)
    }

    /// Add or replace the block on `entry.target` (for `mcp-server block add`).
    fn add(&self, entry: BlockEntry) -> Result<(), MonitorError> {
        self.update(&mut |v| {
            v.retain(|e| e.target != entry.target);
            v.push(entry.clone());
        })
        .map(drop)
    }

    /// Remove the block on `target` (for `mcp-server block remove`); false when there was none.
    fn remove(&self, target: &BlockTarget) -> Result<bool, MonitorError> {
        let mut found = false;
        self.update(&mut |v| {
            let before = v.len();
            v.retain(|e| &e.target != target);
            found = v.len() != before;
        })?;
        Ok(found)
    }
}

/// What the request path does while the block store cannot be reached (a shared store such as
/// Redis is down). The last loaded block list stays in force either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreFailure {
    /// Keep serving with the last loaded list (default; what a local file store does).
    #[default]
    FailOpen,
    /// Refuse every request (`SecurityMonitor::block_store_unavailable`) until the store answers
    /// again: a block raised on another replica must not be missed.
    FailClosed,
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
    fn load(&self) -> Result<Vec<BlockEntry>, MonitorError> {
        Ok(self.state.lock().unwrap_or_else(PoisonError::into_inner).entries.clone())
    }

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
