//! Security monitoring for mcp-secure.
//!
//! One [`SecurityMonitor`] per server, shared as `Arc`, fed with every
//! [`mcp_core::SecurityEvent`] through [`SecurityMonitor::publish`]:
//!
//! - **Event bus**: in-process callbacks ([`SecurityMonitor::subscribe`]) and bounded channels
//!   ([`SecurityMonitor::subscribe_channel`]); a slow subscriber loses events, never the
//!   publisher's time. A [`Subscription`] unsubscribes on drop.
//! - **Failed attempts and blocking**: failures per client id and per address in a sliding
//!   window; after `block_after` of them the key is blocked, for twice as long on every repeat.
//!   [`SecurityMonitor::is_blocked_ip`] / [`SecurityMonitor::is_blocked_client`] are checked on
//!   every request. Blocks persist through a [`BlockStore`] ([`FileBlockStore`]: a JSON file the
//!   `mcp-server block` command edits too; `RedisBlockStore` with the `redis` feature: one list
//!   shared by every replica, each block a key that expires with it).
//! - **Alerts**: per-class thresholds per window ([`AlertClass`]); an `Alert` event, an error
//!   log line on target `mcp_security_alert`, a counter, and an optional webhook.
//! - **Anomalies**: per-client EWMA baselines of request rate and failure ratio
//!   ([`SecurityMonitor::observe_request`]).
//! - **Metrics**: counters and a latency histogram in the Prometheus text format
//!   ([`SecurityMonitor::render_metrics`]).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::SystemTime;
//! use mcp_core::{SecurityEvent, SecurityEventKind, SystemClock};
//! use mcp_monitor::{MonitoringConfig, SecurityMonitor};
//!
//! let config: MonitoringConfig = toml::from_str("[blocking]\nblock_after = 3").unwrap();
//! let monitor = SecurityMonitor::new(&config, Arc::new(SystemClock)).unwrap();
//! let (_sub, mut events) = monitor.subscribe_channel(16);
//! let peer = Some("203.0.113.7:4711".parse().unwrap());
//! for _ in 0..3 {
//!     let e = SecurityEvent::new(SecurityEventKind::AuthenticateFail, "bad token", SystemTime::now());
//!     monitor.publish(&e.with_peer(peer));
//! }
//! assert!(monitor.is_blocked_ip("203.0.113.7".parse().unwrap()).is_some());
//! let kinds: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).map(|e| e.kind).collect();
//! assert_eq!(kinds.last(), Some(&SecurityEventKind::ClientBlocked));
//! assert!(monitor.render_metrics().contains("mcp_auth_failures_total 3\n"));
//! ```

mod admin;
pub mod alerts;
mod anomaly;
mod blocks;
mod build;
pub mod bus;
pub mod config;
pub mod error;
pub mod file_store;
pub mod histogram;
mod kinds;
pub mod metrics;
mod monitor;
mod prom;
mod raise;
#[cfg(feature = "redis")]
mod redis_store;
mod shard;
pub mod store;
pub mod target;
mod tracker;
mod validate;
#[cfg(feature = "webhook")]
mod webhook;
mod window;

pub use alerts::{AlertClass, LARGE_MESSAGE_REASON, LARGE_STDIO_MESSAGE_REASON};
pub use bus::{EventBus, Handler, Subscription};
pub use config::{AlertsConfig, AnomalyConfig, BlockingConfig, MonitoringConfig, Thresholds, WebhookUrl};
pub use error::MonitorError;
pub use file_store::FileBlockStore;
pub use histogram::{BUCKETS, MethodClass};
pub use metrics::Metrics;
pub use monitor::{AUTO_BLOCK_REASON, SecurityMonitor};
pub use prom::CONTENT_TYPE;
#[cfg(feature = "redis")]
pub use redis_store::RedisBlockStore;
pub use store::{BlockEdit, BlockStore, MemoryBlockStore, StoreFailure};
pub use target::{BlockEntry, BlockInfo, BlockOrigin, BlockTarget};
