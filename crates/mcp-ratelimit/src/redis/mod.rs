//! The Redis backend (cargo feature `redis`): every replica shares one Redis, and each stage is
//! one atomic Lua script (`EVALSHA`, reloaded after a Redis restart) on Redis time, so two
//! replicas together enforce one exact limit.
//!
//! Keys: `<prefix><limit>:<w|b>:<key>` (the algorithm letter keeps a changed algorithm from
//! reading the other's data); for two-part keys `<key>` is `<len(first)>:<first>:<second>`.
//! Every key carries a TTL (`PEXPIRE`): the window, or the time until the bucket is full.
//!
//! Every call has a timeout. A failed or timed-out call marks the store degraded (one event),
//! and the failure policy answers; while degraded, one request per `redis_retry_ms` probes
//! Redis and the first success marks it recovered (logged).

mod health;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::algo::{Params, Verdict};
pub(crate) use health::Health;

const SCRIPT: &str = include_str!("script.lua");

/// One limit of a stage, ready for the script.
#[derive(Debug)]
pub(crate) struct Item {
    /// Full Redis key.
    pub(crate) key: Vec<u8>,
    /// Numbers.
    pub(crate) params: Params,
}

/// What Redis answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    /// Index of the rejecting limit in the items, when rejected.
    pub(crate) rejected_by: Option<usize>,
    /// The verdict.
    pub(crate) verdict: Verdict,
}

/// The connection and script.
pub(crate) struct RedisStore {
    conn: ConnectionManager,
    script: redis::Script,
    pub(crate) prefix: Box<str>,
    timeout: Duration,
    pub(crate) health: Health,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection's Debug would print the address and user name.
        f.debug_struct("RedisStore").field("prefix", &self.prefix).field("timeout", &self.timeout).finish()
    }
}

/// Why a call did not produce an answer (for logs only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallError {
    /// No answer within the timeout.
    Timeout,
    /// Connection or server error.
    Redis(redis::ErrorKind),
    /// An answer of the wrong shape.
    BadReply,
}

impl RedisStore {
    /// Prepare a lazily connecting, self-reconnecting connection. Must run inside a Tokio
    /// runtime; does no network IO.
    pub(crate) fn connect(url: &str, prefix: &str, timeout: Duration, retry: Duration) -> Result<Self, &'static str> {
        let client = redis::Client::open(url).map_err(|_| "redis_url is not a valid redis:// or rediss:// URL")?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("the redis backend must be created inside a Tokio runtime");
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(timeout);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|_| "the redis connection manager could not be created")?;
        Ok(Self {
            conn,
            script: redis::Script::new(SCRIPT),
            prefix: prefix.into(),
            timeout,
            health: Health::new(u64::try_from(retry.as_nanos()).unwrap_or(u64::MAX)),
        })
    }

    /// Run the script over `items` charging `cost` each.
    pub(crate) async fn check(&self, items: &[Item], cost: u32) -> Result<Answer, CallError> {
        let mut inv = self.script.prepare_invoke();
        inv.arg(cost);
        for item in items {
            inv.key(item.key.as_slice());
            match item.params {
                Params::Window { requests, window_ns } => inv.arg("w").arg(requests).arg(window_ns / 1_000),
                Params::Bucket { interval_ns, burst } => inv.arg("b").arg(interval_ns as f64 / 1_000.0).arg(burst),
            };
        }
        let mut conn = self.conn.clone();
        let reply = tokio::time::timeout(self.timeout, inv.invoke_async::<Vec<i64>>(&mut conn)).await;
        let reply = reply.map_err(|_| CallError::Timeout)?.map_err(|e| CallError::Redis(e.kind()))?;
        let [admitted, index, wait_us, remaining] = reply[..] else { return Err(CallError::BadReply) };
        if admitted == 1 {
            return Ok(Answer { rejected_by: None, verdict: Verdict::Allowed { remaining: remaining.max(0) as u64 } });
        }
        let index = usize::try_from(index - 1).ok().filter(|i| *i < items.len()).ok_or(CallError::BadReply)?;
        let wait_ns = u64::try_from(wait_us).unwrap_or(0).max(1).saturating_mul(1_000);
        Ok(Answer { rejected_by: Some(index), verdict: Verdict::Wait(wait_ns) })
    }

    /// `PING`, with the timeout.
    pub(crate) async fn ping(&self) -> Result<(), CallError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let reply = tokio::time::timeout(self.timeout, cmd.query_async::<String>(&mut conn)).await;
        reply.map_err(|_| CallError::Timeout)?.map_err(|e| CallError::Redis(e.kind()))?;
        Ok(())
    }

    /// The Redis key of one limit for one caller.
    pub(crate) fn key(&self, limit: &str, params: Params, a: &[u8], b: &[u8]) -> Vec<u8> {
        let algo = match params {
            Params::Window { .. } => "w",
            Params::Bucket { .. } => "b",
        };
        let mut key = Vec::with_capacity(self.prefix.len() + limit.len() + a.len() + b.len() + 16);
        key.extend_from_slice(self.prefix.as_bytes());
        key.extend_from_slice(limit.as_bytes());
        key.extend_from_slice(b":");
        key.extend_from_slice(algo.as_bytes());
        key.extend_from_slice(b":");
        if !b.is_empty() {
            key.extend_from_slice(a.len().to_string().as_bytes());
            key.extend_from_slice(b":");
        }
        key.extend_from_slice(a);
        if !b.is_empty() {
            key.extend_from_slice(b":");
            key.extend_from_slice(b);
        }
        key
    }
}
