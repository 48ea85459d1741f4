//! The block list in Redis (cargo feature `redis`), shared by every replica: a block raised on
//! one server is enforced by the others after their next `housekeeping`, and
//! `mcp-server block list|add|remove` edits the same list.
//!
//! Keys (`<p>` is the configured prefix, default `mcp:blocks:`):
//! - `<p>e:<target>`: one block as JSON (the block file's entry format), with a TTL (`PX`) equal
//!   to the time left on the block, so Redis forgets it when it ends;
//! - `<p>idx`: a sorted set of the targets scored by their end time (unix ms), for listing; it
//!   expires with its last block;
//! - `<p>gen`: a counter bumped by every write, so a replica reloads only after a change.
//!
//! Every read-modify-write is an optimistic transaction (`WATCH <p>gen`, `MULTI`/`EXEC`, retried
//! after a random, growing pause on a concurrent write), so replicas and the CLI never lose each
//! other's edits. Writes run off the request path (housekeeping on the blocking pool, the CLI). Every call has
//! the configured timeout; a failure drops the connection (the next call reconnects) and is
//! reported as [`MonitorError::StoreUnavailable`]. Requests are never touched: they read the
//! monitor's in-memory table.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use redis::{Commands, Connection, RedisResult};

use crate::error::MonitorError;
use crate::store::{BlockEdit, BlockStore};
use crate::target::{BlockEntry, unix_ms};

/// Attempts of one read-modify-write before giving up under constant concurrent writes.
const MAX_ATTEMPTS: usize = 32;
/// Ceiling of the pause between two attempts (reached after a few collisions).
const MAX_BACKOFF_US: u64 = 32_000;

/// Pause before retrying after the `attempt`-th collision: random in `[0, 1 ms << attempt)`,
/// capped, so writers that collided spread out instead of colliding again in lockstep.
fn backoff(attempt: usize) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let ceiling = (1_000u64 << attempt.min(16)).min(MAX_BACKOFF_US);
    // `RandomState` is seeded randomly per thread and differs on every call: enough for jitter.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(attempt);
    Duration::from_micros(h.finish() % ceiling)
}

/// A [`BlockStore`] in Redis.
pub struct RedisBlockStore {
    client: redis::Client,
    conn: Mutex<Option<Connection>>,
    prefix: Box<str>,
    timeout: Duration,
    /// Generation of the content last read or written.
    seen: Mutex<Option<u64>>,
}

impl fmt::Debug for RedisBlockStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client's Debug would print the address and user name.
        f.debug_struct("RedisBlockStore").field("prefix", &self.prefix).field("timeout", &self.timeout).finish()
    }
}

fn unavailable(e: &redis::RedisError) -> MonitorError {
    // Never the error text: it may carry the server's address.
    let problem = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else {
        format!("{:?}", e.kind())
    };
    MonitorError::StoreUnavailable { problem }
}

impl RedisBlockStore {
    /// A store at `url` (`redis://[user:password@]host:port[/db]` or `rediss://`) under key
    /// `prefix`, every call bounded by `timeout`. Does no network IO: it connects on first use.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, MonitorError> {
        let client = redis::Client::open(url)
            .map_err(|_| MonitorError::Config("the Redis URL is not a valid redis:// or rediss:// URL".into()))?;
        if prefix.is_empty() || timeout.is_zero() {
            return Err(MonitorError::Config("the Redis block store needs a key prefix and a timeout".into()));
        }
        Ok(Self { client, conn: Mutex::new(None), prefix: prefix.into(), timeout, seen: Mutex::new(None) })
    }

    fn key(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }

    fn entry_key(&self, target: &str) -> String {
        format!("{}e:{target}", self.prefix)
    }

    /// Run `f` on the connection (made on demand); any error drops it.
    fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Result<T, MonitorError> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            let c = self.client.get_connection_with_timeout(self.timeout).map_err(|e| unavailable(&e))?;
            c.set_read_timeout(Some(self.timeout)).map_err(|e| unavailable(&e))?;
            c.set_write_timeout(Some(self.timeout)).map_err(|e| unavailable(&e))?;
            *slot = Some(c);
        }
        let Some(conn) = slot.as_mut() else {
            return Err(MonitorError::StoreUnavailable { problem: "no connection".into() });
        };
        f(conn).map_err(|e| {
            *slot = None;
            unavailable(&e)
        })
    }

    /// The generation and every block active at `now_ms`. `atomic`: read both in one `MULTI`;
    /// not under `WATCH`, whose `EXEC` would end the watch.
    fn read(&self, con: &mut Connection, now_ms: u64, atomic: bool) -> RedisResult<(u64, Vec<BlockEntry>)> {
        let mut pipe = redis::pipe();
        if atomic {
            pipe.atomic();
        }
        let (generation, targets): (Option<u64>, Vec<String>) =
            pipe.get(self.key("gen")).zrangebyscore(self.key("idx"), format!("({now_ms}"), "+inf").query(con)?;
        let mut out = Vec::with_capacity(targets.len());
        if !targets.is_empty() {
            let keys: Vec<String> = targets.iter().map(|t| self.entry_key(t)).collect();
            let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(con)?;
            for (target, value) in targets.iter().zip(values) {
                // A missing value expired or was removed after the index was read.
                let Some(json) = value else { continue };
                match serde_json::from_str::<BlockEntry>(&json) {
                    Ok(e) => out.push(e),
                    Err(e) => {
                        tracing::warn!(target: "mcp_security", block = %target, error = %e, "ignoring an unreadable block in Redis")
                    }
                }
            }
        }
        Ok((generation.unwrap_or(0), out))
    }

    /// One optimistic read-modify-write; `None` when another writer got in between.
    fn try_update(
        &self,
        con: &mut Connection,
        edit: &mut dyn FnMut(&mut Vec<BlockEntry>),
    ) -> RedisResult<Option<(u64, Vec<BlockEntry>)>> {
        let gen_key = self.key("gen");
        let idx = self.key("idx");
        redis::cmd("WATCH").arg(&gen_key).exec(con)?;
        let now_ms = unix_ms(SystemTime::now());
        let (_, before) = self.read(con, now_ms, false)?;
        let mut after = before.clone();
        edit(&mut after);
        let mut keep: BTreeMap<String, BlockEntry> = BTreeMap::new();
        for e in after.into_iter().filter(|e| unix_ms(e.until) > now_ms) {
            keep.insert(e.target.to_string(), e);
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for e in &before {
            let t = e.target.to_string();
            if !keep.contains_key(&t) {
                pipe.del(self.entry_key(&t)).ignore().zrem(&idx, &t).ignore();
            }
        }
        for (t, e) in &keep {
            if before.contains(e) {
                continue;
            }
            let json = serde_json::to_string(e)
                .map_err(|_| redis::RedisError::from((redis::ErrorKind::Client, "encoding a block")))?;
            let ttl = unix_ms(e.until).saturating_sub(now_ms).max(1);
            pipe.pset_ex(self.entry_key(t), json, ttl).ignore().zadd(&idx, t, unix_ms(e.until)).ignore();
        }
        pipe.zrembyscore(&idx, "-inf", now_ms).ignore();
        if let Some(last) = keep.values().map(|e| unix_ms(e.until)).max() {
            pipe.cmd("PEXPIREAT").arg(&idx).arg(last).ignore();
        }
        pipe.incr(&gen_key, 1u64);
        let done: Option<(u64,)> = pipe.query(con)?;
        Ok(done.map(|(generation,)| (generation, keep.into_values().collect())))
    }
}

impl BlockStore for RedisBlockStore {
    fn load(&self) -> Result<Vec<BlockEntry>, MonitorError> {
        let now_ms = unix_ms(SystemTime::now());
        self.with_conn(|con| self.read(con, now_ms, true)).map(|(_, entries)| entries)
    }

    fn load_if_changed(&self) -> Result<Option<Vec<BlockEntry>>, MonitorError> {
        let now_ms = unix_ms(SystemTime::now());
        let seen = *self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let current: Option<u64> = self.with_conn(|con| con.get(self.key("gen")))?;
        if seen.is_some() && seen == Some(current.unwrap_or(0)) {
            return Ok(None);
        }
        let (generation, entries) = self.with_conn(|con| self.read(con, now_ms, true))?;
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(generation);
        Ok(Some(entries))
    }

    fn update(&self, edit: BlockEdit<'_>) -> Result<Vec<BlockEntry>, MonitorError> {
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(backoff(attempt));
            }
            if let Some((generation, written)) = self.with_conn(|con| self.try_update(con, edit))? {
                *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(generation);
                return Ok(written);
            }
        }
        Err(MonitorError::StoreUnavailable { problem: format!("{MAX_ATTEMPTS} concurrent writes in a row") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..64 {
            let ceiling = (1_000u64 << attempt.min(16)).min(MAX_BACKOFF_US);
            assert!(backoff(attempt) < Duration::from_micros(ceiling));
        }
        // Random: 20 draws at the ceiling are not all equal.
        let draws: std::collections::HashSet<Duration> = (0..20).map(|_| backoff(10)).collect();
        assert!(draws.len() > 1, "{draws:?}");
    }
}
