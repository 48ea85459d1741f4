//! Legacy-era sessions (`Mcp-Session-Id`): CSPRNG ids bound to the caller, bounded in number,
//! per principal and in idle time.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use mcp_protocol::ProtocolVersion;
use mcp_transport::SseSender;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use crate::context::{Cancel, LogLevel, PendingRequests};

/// Caps on legacy sessions (config `[server.sessions]`).
#[derive(Clone, Debug)]
pub struct SessionLimits {
    /// Most sessions alive at once.
    pub max_sessions: usize,
    /// Most sessions one principal may hold.
    pub max_per_principal: usize,
    /// A session unused this long is ended.
    pub idle_timeout: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self { max_sessions: 10_000, max_per_principal: 1_000, idle_timeout: Duration::from_secs(1800) }
    }
}

/// One legacy session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) principal_id: Arc<str>,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) client_capabilities: Value,
    pub(crate) log_level: AtomicU8,
    pub(crate) pending: Arc<PendingRequests>,
    pub(crate) subscriptions: Mutex<HashSet<String>>,
    pub(crate) get_stream: Mutex<Option<SseSender>>,
    pub(crate) inflight: Mutex<HashMap<String, Cancel>>,
    pub(crate) initialized: AtomicBool,
    last_seen: AtomicU64,
}

/// Most resource subscriptions per session.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 1_000;

impl Session {
    pub(crate) fn log_level(&self) -> Option<LogLevel> {
        LogLevel::from_u8(self.log_level.load(Ordering::Relaxed))
    }
}

/// Why a session could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionRefused {
    Full,
    PrincipalQuota,
    Rng,
}

#[derive(Debug)]
pub(crate) struct SessionStore {
    map: RwLock<HashMap<String, Arc<Session>>>,
    limits: SessionLimits,
    epoch: Instant,
    rng: SystemRandom,
}

impl SessionStore {
    pub(crate) fn new(limits: SessionLimits) -> Self {
        Self { map: RwLock::default(), limits, epoch: Instant::now(), rng: SystemRandom::new() }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    pub(crate) fn create(
        &self,
        principal_id: Arc<str>,
        protocol: ProtocolVersion,
        client_capabilities: Value,
    ) -> Result<Arc<Session>, SessionRefused> {
        let mut raw = [0u8; 16];
        self.rng.fill(&mut raw).map_err(|_| SessionRefused::Rng)?;
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let session = Arc::new(Session {
            id: id.clone(),
            principal_id,
            protocol,
            client_capabilities,
            log_level: AtomicU8::new(LogLevel::Info.to_u8()),
            pending: Arc::default(),
            subscriptions: Mutex::default(),
            get_stream: Mutex::default(),
            inflight: Mutex::default(),
            initialized: AtomicBool::new(false),
            last_seen: AtomicU64::new(self.now()),
        });
        let mut map = self.map.write().map_err(|_| SessionRefused::Full)?;
        if map.len() >= self.limits.max_sessions {
            self.reap_locked(&mut map);
            if map.len() >= self.limits.max_sessions {
                return Err(SessionRefused::Full);
            }
        }
        let held = map.values().filter(|s| s.principal_id == session.principal_id).count();
        if held >= self.limits.max_per_principal {
            return Err(SessionRefused::PrincipalQuota);
        }
        map.insert(id, session.clone());
        Ok(session)
    }

    /// Look a session up and mark it used.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Session>> {
        let s = self.map.read().ok()?.get(id).cloned()?;
        s.last_seen.store(self.now(), Ordering::Relaxed);
        Some(s)
    }

    pub(crate) fn remove(&self, id: &str) -> Option<Arc<Session>> {
        let s = self.map.write().ok()?.remove(id)?;
        end_session(&s);
        Some(s)
    }

    /// End idle sessions; returns how many.
    pub(crate) fn reap(&self) -> usize {
        match self.map.write() {
            Ok(mut map) => self.reap_locked(&mut map),
            Err(_) => 0,
        }
    }

    fn reap_locked(&self, map: &mut HashMap<String, Arc<Session>>) -> usize {
        let now = self.now();
        let idle = self.limits.idle_timeout.as_secs();
        let before = map.len();
        map.retain(|_, s| {
            let keep = now.saturating_sub(s.last_seen.load(Ordering::Relaxed)) < idle;
            if !keep {
                end_session(s);
            }
            keep
        });
        before - map.len()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }
}

fn end_session(s: &Session) {
    if let Ok(mut g) = s.get_stream.lock() {
        g.take();
    }
    if let Ok(m) = s.inflight.lock() {
        for c in m.values() {
            c.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_idle_expiry() {
        let store = SessionStore::new(SessionLimits {
            max_sessions: 3,
            max_per_principal: 2,
            idle_timeout: Duration::from_secs(0),
        });
        let v = ProtocolVersion::LATEST_LEGACY;
        let a = store.create("a".into(), v, Value::Null).unwrap();
        assert_eq!(a.id.len(), 32);
        assert!(a.id.bytes().all(|b| b.is_ascii_hexdigit()));
        store.create("a".into(), v, Value::Null).unwrap();
        assert_eq!(store.create("a".into(), v, Value::Null).unwrap_err(), SessionRefused::PrincipalQuota);
        // idle_timeout 0: everything is idle, so a full store reaps and makes room.
        assert_eq!(store.reap(), 2);
        assert_eq!(store.len(), 0);
        let b = store.create("b".into(), v, Value::Null).unwrap();
        assert!(store.get(&b.id).is_some());
        assert!(store.remove(&b.id).is_some());
        assert!(store.get(&b.id).is_none());
    }
}
