//! Block administration and housekeeping of [`SecurityMonitor`].
//!
//! The in-memory table answers requests; the [`crate::BlockStore`] is the durable copy. Admin
//! calls write through to the store at once. Automatic blocks are made on the request path,
//! where no IO may happen, so they are queued and written by the next [`housekeeping`] run, which
//! also picks up edits made to the store by others (the CLI) and drops expired blocks.
//!
//! [`housekeeping`]: SecurityMonitor::housekeeping

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, SystemTime};

use crate::error::MonitorError;
use crate::monitor::SecurityMonitor;
use crate::raise::blocked_event;
use crate::store::StoreFailure;
use crate::target::{BlockEntry, BlockTarget, normalize_ip, unix_ms};

/// Housekeeping interval while a shared block store is unreachable (at most).
const STORE_RETRY: Duration = Duration::from_millis(500);

impl SecurityMonitor {
    /// Block `target` for `duration` (manual block; replaces any block on it), writing it to the
    /// store first. Emits a `ClientBlocked` event.
    pub fn block(&self, target: BlockTarget, duration: Duration, reason: &str) -> Result<BlockEntry, MonitorError> {
        let now = self.clock.now();
        let entry = BlockEntry::manual(self.normalize(target), duration, reason, now)?;
        let written = self.store.update(&mut |v| {
            v.retain(|e| e.target != entry.target && e.until > now);
            v.push(entry.clone());
        })?;
        self.apply(written, now);
        if self.blocks.entry(&entry.target).as_ref() != Some(&entry) {
            return Err(MonitorError::invalid("target", "the block table is full of active manual blocks"));
        }
        self.metrics.blocks.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(target: "mcp_security", block = %entry.target, secs = duration.as_secs(), reason, "manual block");
        self.emit(&blocked_event(&entry.target, "manual block", "block:manual", now));
        Ok(entry)
    }

    /// Lift the block on `target` and forget its failure history (counter and repeat count).
    /// Returns whether a block existed.
    pub fn unblock(&self, target: &BlockTarget) -> Result<bool, MonitorError> {
        let target = self.normalize(target.clone());
        let now = self.clock.now();
        let mut in_store = false;
        let written = self.store.update(&mut |v| {
            let before = v.len();
            v.retain(|e| e.target != target);
            in_store = v.len() != before;
            v.retain(|e| e.until > now);
        })?;
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&target);
        let in_memory = self.blocks.remove(&target).is_some_and(|e| e.until > now);
        self.apply(written, now);
        if let Some(t) = &self.tracker {
            match &target {
                BlockTarget::Ip(ip) => t.forget_ip(*ip),
                BlockTarget::Client(id) => t.forget_client(id),
            }
        }
        let existed = in_store || in_memory;
        if existed {
            tracing::warn!(target: "mcp_security", block = %target, "block lifted");
        }
        Ok(existed)
    }

    /// Every active block, ordered by end time.
    pub fn list_blocks(&self) -> Vec<BlockEntry> {
        self.blocks.list(unix_ms(self.clock.now()))
    }

    /// Failures counted for `target` within the blocking window (0 when blocking is off).
    pub fn failures(&self, target: &BlockTarget) -> usize {
        let Some(t) = &self.tracker else { return 0 };
        let now = self.mono_ms();
        match self.normalize(target.clone()) {
            BlockTarget::Ip(ip) => t.ip_failures(ip, now),
            BlockTarget::Client(id) => t.client_failures(&id, now),
        }
    }

    /// Bring the table and the store in line: write automatic blocks made since the last run,
    /// and load the store when someone else changed it. Returns true when the table was
    /// (re)loaded from the store. On error the table is unchanged and queued blocks are kept.
    pub fn reload_from_file(&self) -> Result<bool, MonitorError> {
        let result = self.sync_store();
        let down = matches!(result, Err(MonitorError::StoreUnavailable { .. }));
        if self.store_down.swap(down, Ordering::AcqRel) != down {
            match (&result, self.store_failure) {
                (Err(e), StoreFailure::FailClosed) => {
                    tracing::error!(target: "mcp_security", error = %e, "block store unreachable: refusing requests (fail_closed) until it answers")
                }
                (Err(e), StoreFailure::FailOpen) => {
                    tracing::warn!(target: "mcp_security", error = %e, "block store unreachable: serving with the last loaded block list (fail_open)")
                }
                (Ok(_), _) => tracing::warn!(target: "mcp_security", "block store reachable again"),
            }
        }
        result
    }

    /// True while requests must be refused because the shared block store cannot be reached and
    /// the policy is [`StoreFailure::FailClosed`]. One atomic load; ask once per request.
    pub fn block_store_unavailable(&self) -> bool {
        self.store_failure == StoreFailure::FailClosed && self.store_down.load(Ordering::Acquire)
    }

    fn sync_store(&self) -> Result<bool, MonitorError> {
        let now = self.clock.now();
        let pending: Vec<BlockTarget> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner)).into_iter().collect();
        if pending.is_empty() {
            let Some(entries) = self.store.load_if_changed()? else { return Ok(false) };
            self.apply(entries, now);
            return Ok(true);
        }
        let fresh: Vec<BlockEntry> =
            pending.iter().filter_map(|t| self.blocks.entry(t)).filter(|e| e.until > now).collect();
        let targets: HashSet<&BlockTarget> = fresh.iter().map(|e| &e.target).collect();
        let result = self.store.update(&mut |v| {
            v.retain(|e| e.until > now && !targets.contains(&e.target));
            v.extend(fresh.iter().cloned());
        });
        match result {
            Ok(written) => {
                self.apply(written, now);
                Ok(true)
            }
            Err(e) => {
                self.pending.lock().unwrap_or_else(PoisonError::into_inner).extend(pending);
                Err(e)
            }
        }
    }

    /// Periodic upkeep: drop expired blocks and idle counters and baselines, then
    /// [`Self::reload_from_file`]. Call it every `blocking.reload_interval_secs`, or use
    /// [`Self::spawn_housekeeping`].
    pub fn housekeeping(&self) -> Result<bool, MonitorError> {
        self.blocks.purge(unix_ms(self.clock.now()));
        let now = self.mono_ms();
        if let Some(t) = &self.tracker {
            t.purge(now);
        }
        if let Some(a) = &self.anomaly {
            a.purge(now);
        }
        self.reload_from_file()
    }

    /// Run [`Self::housekeeping`] every `blocking.reload_interval_secs` on the current tokio
    /// runtime (on its blocking pool: a store may do file or network IO) until the monitor is
    /// dropped. Errors are logged and retried at the next tick; while a shared store is
    /// unreachable the retry comes after at most half a second, so a recovery is noticed soon.
    pub fn spawn_housekeeping(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = self.housekeeping_every;
        tokio::spawn(async move {
            let mut wait = every;
            loop {
                tokio::time::sleep(wait).await;
                let Some(m) = weak.upgrade() else { break };
                let run = tokio::task::spawn_blocking(move || {
                    if let Err(e) = m.housekeeping() {
                        tracing::warn!(target: "mcp_security", error = %e, "block list housekeeping failed; will retry");
                    }
                    m.store_down.load(Ordering::Acquire)
                });
                let down = run.await.unwrap_or(false);
                wait = if down { every.min(STORE_RETRY) } else { every };
            }
        })
    }

    /// Replace the table with `entries` plus the automatic blocks not yet written.
    fn apply(&self, entries: Vec<BlockEntry>, now: SystemTime) {
        let pending: Vec<BlockEntry> = {
            let p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            p.iter().filter_map(|t| self.blocks.entry(t)).collect()
        };
        let entries = entries.into_iter().map(|mut e| {
            e.target = self.normalize(e.target);
            e
        });
        self.blocks.replace_all(entries.chain(pending), unix_ms(now));
    }

    fn normalize(&self, target: BlockTarget) -> BlockTarget {
        match target {
            BlockTarget::Ip(ip) => BlockTarget::Ip(normalize_ip(ip, self.v6_prefix)),
            t => t,
        }
    }
}
