//! Integrity-protected `requestState` for the stateless era's input-required round trips.
//!
//! The server keeps nothing between rounds: the answers gathered so far travel in the state,
//! sealed with HMAC-SHA-256 under a key the server holds, and bound to the request (method,
//! target, arguments), to the principal, and to an expiry. A state that fails any check is
//! refused; it is never trusted.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest state token accepted.
const MAX_STATE_LEN: usize = 64 * 1024;

/// Why a state was refused (logged as a security event; the client sees one generic message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StateError {
    Malformed,
    BadSignature,
    Expired,
    WrongRequest,
    WrongPrincipal,
}

impl StateError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "request state malformed",
            Self::BadSignature => "request state signature invalid",
            Self::Expired => "request state expired",
            Self::WrongRequest => "request state bound to another request",
            Self::WrongPrincipal => "request state bound to another principal",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    exp: u64,
    n: String,
    b: String,
    p: String,
    a: Map<String, Value>,
}

/// The sealing key.
pub(crate) struct StateKey {
    key: hmac::Key,
    ttl: Duration,
}

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(<redacted>)")
    }
}

/// A digest binding a state to one request: method, target name/URI and arguments.
pub(crate) fn binding(method: &str, target: &str, arguments: Option<&Value>) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(method.as_bytes());
    ctx.update(b"\0");
    ctx.update(target.as_bytes());
    ctx.update(b"\0");
    // serde_json maps are sorted by key, so this form is canonical for equal arguments.
    if let Some(a) = arguments {
        ctx.update(a.to_string().as_bytes());
    }
    B64.encode(ctx.finish().as_ref())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl StateKey {
    /// A fresh random key (states do not survive a restart, which only costs the client a retry).
    pub(crate) fn random(ttl: Duration) -> Result<Self, ring::error::Unspecified> {
        let rng = SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)?;
        Ok(Self { key, ttl })
    }

    pub(crate) fn seal(&self, binding: &str, principal: &str, answers: &Map<String, Value>) -> String {
        let mut nonce = [0u8; 12];
        let _ = SystemRandom::new().fill(&mut nonce);
        let payload = Payload {
            v: 1,
            exp: now_secs() + self.ttl.as_secs(),
            n: B64.encode(nonce),
            b: binding.to_owned(),
            p: principal.to_owned(),
            a: answers.clone(),
        };
        let body = B64.encode(serde_json::to_vec(&payload).unwrap_or_default());
        let tag = hmac::sign(&self.key, body.as_bytes());
        format!("{body}.{}", B64.encode(tag.as_ref()))
    }

    pub(crate) fn open(&self, token: &str, binding: &str, principal: &str) -> Result<Map<String, Value>, StateError> {
        if token.len() > MAX_STATE_LEN {
            return Err(StateError::Malformed);
        }
        let (body, tag) = token.split_once('.').ok_or(StateError::Malformed)?;
        let tag = B64.decode(tag).map_err(|_| StateError::BadSignature)?;
        // ring compares tags in constant time.
        hmac::verify(&self.key, body.as_bytes(), &tag).map_err(|_| StateError::BadSignature)?;
        let raw = B64.decode(body).map_err(|_| StateError::Malformed)?;
        let p: Payload = serde_json::from_slice(&raw).map_err(|_| StateError::Malformed)?;
        if p.v != 1 {
            return Err(StateError::Malformed);
        }
        if p.exp < now_secs() {
            return Err(StateError::Expired);
        }
        if p.b != binding {
            return Err(StateError::WrongRequest);
        }
        if p.p != principal {
            return Err(StateError::WrongPrincipal);
        }
        Ok(p.a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse_tampering() {
        let k = StateKey::random(Duration::from_secs(60)).unwrap();
        let b = binding("tools/call", "t", Some(&serde_json::json!({"x": 1})));
        let mut a = Map::new();
        a.insert("step1".into(), serde_json::json!({"action": "accept"}));
        let s = k.seal(&b, "alice", &a);
        assert_eq!(k.open(&s, &b, "alice").unwrap(), a);
        assert_ne!(s, k.seal(&b, "alice", &a), "nonce makes states unique");
        assert_eq!(k.open(&format!("{s}-TAMPERED"), &b, "alice"), Err(StateError::BadSignature));
        assert_eq!(k.open("garbage", &b, "alice"), Err(StateError::Malformed));
        assert_eq!(k.open(&s, &b, "mallory"), Err(StateError::WrongPrincipal));
        let other = binding("tools/call", "t", Some(&serde_json::json!({"x": 2})));
        assert_eq!(k.open(&s, &other, "alice"), Err(StateError::WrongRequest));
        let k2 = StateKey::random(Duration::from_secs(60)).unwrap();
        assert_eq!(k2.open(&s, &b, "alice"), Err(StateError::BadSignature));
        let expired = StateKey { key: k.key.clone(), ttl: Duration::ZERO };
        let s = expired.seal(&b, "alice", &a);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(k.open(&s, &b, "alice"), Err(StateError::Expired));
    }
}
