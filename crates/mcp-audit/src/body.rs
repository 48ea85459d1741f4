//! Bodies of request and security-event records, written directly in canonical JSON (keys in
//! sorted order, compact), plus the per-record salts and the mapping onto record classes.

use std::io::Write;

use mcp_core::{AuditRecord, SecurityEvent, SecurityEventKind};
use ring::rand::{SecureRandom, SystemRandom};

use crate::line::json_str;
use crate::select::{EventClass, Field};
use crate::util::hex_into;

/// The record class of a request method.
pub fn class_of_method(method: &str) -> EventClass {
    match method {
        "tools/call" => EventClass::ToolExecute,
        "resources/read" => EventClass::ResourceRead,
        "prompts/get" => EventClass::PromptGet,
        _ => EventClass::Request,
    }
}

/// The record class of a security event kind.
pub fn class_of_event(kind: SecurityEventKind) -> EventClass {
    match kind {
        SecurityEventKind::Authenticated | SecurityEventKind::AuthenticateFail => EventClass::Authenticate,
        SecurityEventKind::AuthorizeFail => EventClass::AuthorizeFail,
        SecurityEventKind::RateLimitExceeded => EventClass::RateLimitExceeded,
        SecurityEventKind::ValidationFail | SecurityEventKind::PromptInjectionBlocked => EventClass::ValidationFail,
        SecurityEventKind::SecretAccess => EventClass::SecretAccess,
        SecurityEventKind::ConfigChange | SecurityEventKind::ToolDefinitionChanged => EventClass::ConfigChange,
        _ => EventClass::SecurityEvent,
    }
}

/// Random salts, drawn from the OS CSPRNG 256 at a time.
#[derive(Debug)]
pub(crate) struct Salts {
    rng: SystemRandom,
    pool: Box<[u8; 4096]>,
    used: usize,
}

/// Length of a record salt.
pub(crate) const SALT_LEN: usize = 16;

impl Salts {
    pub(crate) fn new() -> Self {
        Self { rng: SystemRandom::new(), pool: Box::new([0; 4096]), used: 4096 }
    }

    /// The next salt; `None` when the system random generator fails.
    pub(crate) fn next(&mut self) -> Option<[u8; SALT_LEN]> {
        if self.used + SALT_LEN > self.pool.len() {
            self.rng.fill(&mut self.pool[..]).ok()?;
            self.used = 0;
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&self.pool[self.used..self.used + SALT_LEN]);
        self.used += SALT_LEN;
        Some(salt)
    }
}

/// Writes `{"k":v,...}` with keys supplied in sorted order.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        json_str(k, self.out);
        self.out.push(b':');
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        json_str(v, self.out);
    }
    fn num(&mut self, k: &str, v: impl std::fmt::Display) {
        self.key(k);
        // Writing into a Vec cannot fail.
        let _ = write!(self.out, "{v}");
    }
    /// A value whose Display form needs no JSON escaping (socket addresses).
    fn display_str(&mut self, k: &str, v: impl std::fmt::Display) {
        self.key(k);
        let _ = write!(self.out, "\"{v}\"");
    }
    fn hex(&mut self, k: &str, v: &[u8]) {
        self.key(k);
        self.out.push(b'"');
        hex_into(v, self.out);
        self.out.push(b'"');
    }
    fn end(self) {
        self.out.push(b'}');
    }
}

fn has(include: u16, f: Field) -> bool {
    include & f.bit() != 0
}

/// The canonical body of a request's audit record.
pub(crate) fn audit_body(r: &AuditRecord, include: u16, salt: &[u8; SALT_LEN], out: &mut Vec<u8>) {
    let mut o = Obj::new(out);
    if has(include, Field::Auth) {
        o.str("auth", r.auth_method.as_str());
    }
    if has(include, Field::ClientId) {
        o.str("client_id", &r.principal);
    }
    if let (true, Some(code)) = (has(include, Field::ErrorCode), r.error_code) {
        o.num("error_code", code);
    }
    if has(include, Field::Latency) {
        o.num("latency_us", r.latency.as_micros());
    }
    if has(include, Field::Method) {
        o.str("method", &r.method);
    }
    if let (true, Some(h)) = (has(include, Field::ParamsHash), &r.params_hash) {
        o.hex("params_hash", h);
    }
    if let (true, Some(peer)) = (has(include, Field::Peer), r.peer) {
        o.display_str("peer", peer);
    }
    if let (true, Some(id)) = (has(include, Field::RequestId), &r.request_id) {
        o.str("request_id", id);
    }
    if has(include, Field::Result) {
        o.str("result", r.outcome.as_str());
    }
    o.hex("salt", salt);
    if let (true, Some(t)) = (has(include, Field::Target), &r.target) {
        o.str("target", t);
    }
    o.end();
}

/// The canonical body of a security event record.
pub(crate) fn event_body(e: &SecurityEvent, include: u16, salt: &[u8; SALT_LEN], out: &mut Vec<u8>) {
    let mut o = Obj::new(out);
    if let (true, Some(p)) = (has(include, Field::ClientId), &e.principal) {
        o.str("client_id", p);
    }
    o.str("event", e.kind.as_str());
    if let (true, Some(m)) = (has(include, Field::Method), &e.method) {
        o.str("method", m);
    }
    if let (true, Some(peer)) = (has(include, Field::Peer), e.peer) {
        o.display_str("peer", peer);
    }
    o.str("reason", e.reason);
    if let Some(rule) = &e.rule {
        o.str("rule", rule);
    }
    o.hex("salt", salt);
    if let (true, Some(t)) = (has(include, Field::Target), &e.resource) {
        o.str("target", t);
    }
    o.end();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use mcp_core::{AuditOutcome, AuthMethod};

    use super::*;
    use crate::select::mask;

    fn canonical(bytes: &[u8]) -> Vec<u8> {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let mut out = Vec::new();
        mcp_core::canonical_json(&v, &mut out);
        out
    }

    #[test]
    fn bodies_are_canonical() {
        let r = AuditRecord {
            at: SystemTime::now(),
            request_id: Some(Arc::from("\"a\\b\"")),
            principal: Arc::from("client-ü\n"),
            auth_method: AuthMethod::Jwt,
            peer: Some("127.0.0.1:9".parse().unwrap()),
            method: Arc::from("tools/call"),
            target: Some(Arc::from("calc")),
            params_hash: Some([9; 32]),
            outcome: AuditOutcome::Denied,
            error_code: Some(-32003),
            latency: Duration::from_micros(1234),
            always: false,
        };
        let mut out = Vec::new();
        audit_body(&r, mask(&Field::all(), Field::bit), &[1; SALT_LEN], &mut out);
        assert_eq!(canonical(&out), out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["client_id"], "client-ü\n");
        assert_eq!(v["latency_us"], 1234);
        let e = SecurityEvent::new(SecurityEventKind::AuthorizeFail, "denied", SystemTime::now())
            .with_principal("c")
            .with_rule("role:x")
            .with_resource("t")
            .with_method("tools/call")
            .with_peer(Some("[::1]:80".parse().unwrap()));
        let mut out = Vec::new();
        event_body(&e, mask(&[Field::ClientId, Field::Target], Field::bit), &[2; SALT_LEN], &mut out);
        assert_eq!(canonical(&out), out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(v.get("method").is_none() && v.get("peer").is_none());
        assert_eq!(v["rule"], "role:x");
    }

    #[test]
    fn salts_differ() {
        let mut s = Salts::new();
        let a: Vec<_> = (0..600).map(|_| s.next().unwrap()).collect();
        assert_ne!(a[0], a[1]);
        assert_ne!(a[255], a[256]);
    }
}
