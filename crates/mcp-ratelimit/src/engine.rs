//! [`RateLimitEngine`]: the limits of the configuration over one backend, checked in three
//! stages of the request path.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_core::{Clock, SystemClock};

use crate::backend::{Backend, memory_backend, redis_backend};
#[cfg(feature = "redis")]
use crate::config::FailurePolicy;
use crate::config::{BackendKind, RateLimitConfig, Scope};
use crate::error::RateLimitError;
use crate::events::{EventSink, Events};
use crate::ipkey::IpKey;
use crate::memory::{Key, MemoryStore};
use crate::method::MethodClass;
use crate::plan::Plan;

/// Longest key accepted, in bytes: the principal id, plus the tool name for `client_tool` limits
/// (or the key given to a [`crate::NamedLimiter`]).
pub const MAX_KEY_BYTES: usize = 1024;

pub(crate) fn check_key_len(len: usize) -> Result<(), RateLimitError> {
    if len > MAX_KEY_BYTES { Err(RateLimitError::KeyTooLong { len, max: MAX_KEY_BYTES }) } else { Ok(()) }
}

/// The configured limits over one backend. Build once, share with `Arc`, check on every request.
///
/// Every check **rejects, never waits**. A request is admitted only when every limit of the
/// stage admits it; then it is charged to all of them; when one rejects, none is charged and the
/// error names the limit with the longest wait. (Redis does this atomically in one script; the
/// memory backend charges limit after limit and gives back the charges of a rejected request, so
/// a concurrent request may briefly see a unit that is about to be given back: it can be refused
/// early, never admitted beyond a limit.)
///
/// The memory backend's checks complete on first poll, without allocating for keys already
/// tracked; the Redis backend makes one round trip per stage.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use mcp_ratelimit::{RateLimitConfig, RateLimitEngine, RateLimitError};
/// let cfg: RateLimitConfig = toml::from_str(r#"
///     [[limits]]
///     name = "client_tools"
///     scope = "client"
///     applies_to = "tools"
///     requests = 2
///     window_ms = 60000
/// "#).unwrap();
/// let engine = RateLimitEngine::new(&cfg).unwrap();
/// assert!(engine.check_request("alice", None, "tools/call").await.is_ok());
/// assert!(engine.check_request("alice", None, "tools/list").await.is_ok()); // not counted
/// assert!(engine.check_request("alice", None, "tools/call").await.is_ok());
/// let Err(RateLimitError::Limited(l)) = engine.check_request("alice", None, "tools/call").await else { panic!() };
/// assert_eq!(&*l.limit, "client_tools");
/// assert_eq!(l.retry_after_secs(), 60);
/// assert!(engine.check_request("bob", None, "tools/call").await.is_ok()); // another key
/// # });
/// ```
#[derive(Debug)]
pub struct RateLimitEngine {
    pub(crate) enabled: bool,
    pub(crate) plan: Plan,
    pub(crate) backend: Backend,
    #[cfg(feature = "redis")]
    pub(crate) policy: FailurePolicy,
    clock: Arc<dyn Clock>,
    epoch: Instant,
    pub(crate) events: Events,
    ipv6_prefix_len: u8,
}

impl RateLimitEngine {
    /// Build from config on the system clock. The Redis backend does not connect here (it
    /// connects on first use and reconnects by itself) but must be built inside a Tokio runtime.
    pub fn new(config: &RateLimitConfig) -> Result<Self, RateLimitError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// Build with an injected clock (the memory backend's time; Redis uses its own `TIME`).
    pub fn with_clock(config: &RateLimitConfig, clock: Arc<dyn Clock>) -> Result<Self, RateLimitError> {
        let plan = Plan::compile(config)?;
        if config.ipv6_prefix_len > 128 {
            return Err(RateLimitError::Config("ipv6_prefix_len must be 0..=128".into()));
        }
        let backend = match (config.enabled, config.backend) {
            (false, _) => Backend::Memory(MemoryStore::new(0, 1)),
            (true, BackendKind::Memory) => memory_backend(config, &plan)?,
            (true, BackendKind::Redis) => redis_backend(config)?,
        };
        Ok(Self {
            enabled: config.enabled,
            plan,
            backend,
            #[cfg(feature = "redis")]
            policy: config.on_backend_failure,
            epoch: clock.instant(),
            events: Events::new(clock.clone()),
            clock,
            ipv6_prefix_len: config.ipv6_prefix_len,
        })
    }

    /// Where `RateLimiterDegraded` and `CapacityExceeded` events go (replaces the previous sink).
    pub fn set_event_sink(&self, sink: EventSink) {
        self.events.set_sink(sink);
    }

    /// Stage 1, before authentication and decoding: the `scope = "ip"` limits.
    pub async fn check_ip(&self, ip: IpAddr) -> Result<(), RateLimitError> {
        if !self.enabled || self.plan.ip.is_empty() {
            return Ok(());
        }
        let ip = IpKey::new(ip, self.ipv6_prefix_len);
        let (octets, len) = ip.octets();
        #[cfg(feature = "redis")]
        if let Backend::Redis(r) = &self.backend {
            let text = ip.text();
            let keys = self.plan.ip.iter().map(|&limit| Key { limit, a: text.as_bytes(), b: &[] });
            return Box::pin(self.run_redis(r, keys, 0, 1)).await.map(drop);
        }
        let keys = self.plan.ip.iter().map(|&limit| Key { limit, a: &octets[..len], b: &[] });
        self.run(keys, 0, 1).await.map(drop)
    }

    /// Stage 2, after authentication (before decoding when the method comes from a header):
    /// the `client` and `method_class` limits whose `applies_to` counts `method`. A principal id
    /// longer than [`MAX_KEY_BYTES`] is refused with [`RateLimitError::KeyTooLong`].
    pub async fn check_request(
        &self,
        principal_id: &str,
        rate_class: Option<&str>,
        method: &str,
    ) -> Result<(), RateLimitError> {
        if !self.enabled || self.plan.request.is_empty() {
            return Ok(());
        }
        check_key_len(principal_id.len())?;
        let class = MethodClass::of(method);
        let limits = &self.plan.limits;
        let keys = self.plan.request.iter().filter(|&&l| limits[usize::from(l)].applies_to.matches(class)).map(|&l| {
            let b = if limits[usize::from(l)].scope == Scope::MethodClass { class.as_str().as_bytes() } else { &[] };
            Key { limit: l, a: principal_id.as_bytes(), b }
        });
        self.run(keys, self.plan.class_index(rate_class), 1).await.map(drop)
    }

    /// Stage 3, after decoding `tools/call`: the `tool` limits of this tool and the
    /// `client_tool` limits. Principal id and tool name longer than [`MAX_KEY_BYTES`] together
    /// are refused with [`RateLimitError::KeyTooLong`].
    pub async fn check_tool(
        &self,
        principal_id: &str,
        rate_class: Option<&str>,
        tool: &str,
    ) -> Result<(), RateLimitError> {
        if !self.enabled {
            return Ok(());
        }
        let per_tool: &[u16] =
            if self.plan.tool.is_empty() { &[] } else { self.plan.tool.get(tool).map_or(&[], |v| v) };
        if per_tool.is_empty() && self.plan.client_tool.is_empty() {
            return Ok(());
        }
        check_key_len(principal_id.len() + tool.len())?;
        let a = principal_id.as_bytes();
        let keys = per_tool.iter().map(|&limit| Key { limit, a, b: &[] });
        let keys = keys.chain(self.plan.client_tool.iter().map(|&limit| Key { limit, a, b: tool.as_bytes() }));
        self.run(keys, self.plan.class_index(rate_class), 1).await.map(drop)
    }

    /// False when `enabled = false`: every check admits.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The configured backend.
    pub fn backend(&self) -> BackendKind {
        match self.backend {
            Backend::Memory(_) => BackendKind::Memory,
            #[cfg(feature = "redis")]
            Backend::Redis(_) => BackendKind::Redis,
        }
    }

    /// True when a rate class of that name is configured (check API-key config at startup with
    /// it: an unknown class gets the limits' own numbers).
    pub fn has_class(&self, class: &str) -> bool {
        self.plan.classes.contains_key(class)
    }

    /// The configured limit names, in config order.
    pub fn limit_names(&self) -> impl Iterator<Item = &str> {
        self.plan.limits.iter().map(|l| &*l.name)
    }

    /// True while the shared store is unreachable (always false for memory).
    pub fn is_degraded(&self) -> bool {
        match &self.backend {
            Backend::Memory(_) => false,
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.health.is_degraded(),
        }
    }

    /// Memory backend: forget every key whose state equals a fresh one; returns how many.
    /// Optional (a full table sweeps itself); a server may call it from a timer to return memory.
    pub fn sweep(&self) -> usize {
        match &self.backend {
            Backend::Memory(m) => m.sweep(self.now_ns()),
            #[cfg(feature = "redis")]
            Backend::Redis(_) => 0,
        }
    }

    /// Memory backend: keys tracked now (0 for Redis).
    pub fn tracked_keys(&self) -> usize {
        match &self.backend {
            Backend::Memory(m) => m.len(),
            #[cfg(feature = "redis")]
            Backend::Redis(_) => 0,
        }
    }

    /// Check that the store answers (Redis `PING` within `redis_timeout_ms`; memory: always).
    /// For readiness probes and startup checks; does not change the degraded state.
    pub async fn ping(&self) -> Result<(), RateLimitError> {
        match &self.backend {
            Backend::Memory(_) => Ok(()),
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.ping().await.map_err(|_| RateLimitError::Unavailable { backend: "redis" }),
        }
    }

    /// Nanoseconds on the engine's clock since it was built.
    pub(crate) fn now_ns(&self) -> u64 {
        let d: Duration = self.clock.instant().saturating_duration_since(self.epoch);
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests;
