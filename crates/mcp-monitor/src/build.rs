//! Building a [`SecurityMonitor`] from `[monitoring]` and a block store.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_core::Clock;

use crate::alerts::AlertCounters;
use crate::anomaly::AnomalyDetector;
use crate::blocks::BlockTable;
use crate::bus::EventBus;
use crate::config::MonitoringConfig;
use crate::error::MonitorError;
use crate::file_store::FileBlockStore;
use crate::kinds::KindSet;
use crate::metrics::Metrics;
use crate::monitor::SecurityMonitor;
use crate::store::{BlockStore, MemoryBlockStore, StoreFailure};
use crate::tracker::{FailureTracker, Limits};

impl SecurityMonitor {
    /// Build from `[monitoring]`: blocks persist to `blocking.file` when set, else in memory.
    /// Reads the block file once (a damaged file is an error: fix or remove it). With a webhook
    /// configured this must run inside a tokio runtime with a rustls crypto provider installed.
    pub fn new(config: &MonitoringConfig, clock: Arc<dyn Clock>) -> Result<Self, MonitorError> {
        let store: Arc<dyn BlockStore> = match &config.blocking.file {
            Some(path) => {
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
                if !dir.is_dir() {
                    return Err(MonitorError::Config(format!(
                        "blocking.file: directory {} does not exist; create it (mode 0700) or change the path",
                        dir.display()
                    )));
                }
                Arc::new(FileBlockStore::new(path))
            }
            None => Arc::new(MemoryBlockStore::new()),
        };
        Self::with_store(config, clock, store)
    }

    /// Build with another [`BlockStore`] (the extension point for a shared store), serving on
    /// with the last loaded list while it is unreachable.
    pub fn with_store(
        config: &MonitoringConfig,
        clock: Arc<dyn Clock>,
        store: Arc<dyn BlockStore>,
    ) -> Result<Self, MonitorError> {
        Self::with_shared_store(config, clock, store, StoreFailure::FailOpen)
    }

    /// Build with a shared [`BlockStore`] and what to do while it is unreachable. An
    /// unreachable store at startup is not an error: it is logged, and `on_failure` applies
    /// until a housekeeping run reaches it.
    pub fn with_shared_store(
        config: &MonitoringConfig,
        clock: Arc<dyn Clock>,
        store: Arc<dyn BlockStore>,
        on_failure: StoreFailure,
    ) -> Result<Self, MonitorError> {
        config.validate()?;
        let b = &config.blocking;
        let ms = |s: u64| s.saturating_mul(1000);
        let limits = Limits {
            block_after: b.block_after as usize,
            window: ms(b.window_secs),
            block: ms(b.block_secs),
            max_block: ms(b.max_block_secs),
            decay: ms(b.repeat_decay_secs),
        };
        let metrics = Arc::new(Metrics::default());
        let a = &config.alerts;
        #[cfg(feature = "webhook")]
        let notifier = match &a.webhook_url {
            Some(url) => Some(crate::webhook::Notifier::start(a, url, Arc::clone(&metrics))?),
            None => None,
        };
        let base = clock.instant();
        let monitor = Self {
            clock,
            base,
            bus: EventBus::new(),
            raised: EventBus::new(),
            metrics,
            count_list_denials: b.count_list_denials,
            counted: if b.enabled { crate::validate::count_kinds(b)? } else { KindSet::default() },
            tracker: b.enabled.then(|| FailureTracker::new(limits, b.max_tracked)),
            blocks: BlockTable::new(b.max_blocks),
            store,
            store_failure: on_failure,
            store_down: AtomicBool::new(false),
            pending: Mutex::new(HashSet::new()),
            max_pending: b.max_blocks.saturating_mul(2),
            v6_prefix: b.ipv6_prefix_len,
            alerts: a.enabled.then(|| AlertCounters::new(&a.thresholds, a.window_secs)),
            alert_window_secs: a.window_secs,
            #[cfg(feature = "webhook")]
            notifier,
            anomaly: config.anomaly.enabled.then(|| AnomalyDetector::new(&config.anomaly)),
            housekeeping_every: Duration::from_secs(b.reload_interval_secs),
        };
        match monitor.reload_from_file() {
            Ok(_) | Err(MonitorError::StoreUnavailable { .. }) => Ok(monitor),
            Err(e) => Err(e),
        }
    }
}
