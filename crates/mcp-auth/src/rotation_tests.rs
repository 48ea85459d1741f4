//! The grace period after a rotation, on a manual clock.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_core::Clock;
use secrecy::{ExposeSecret, SecretBox};

use super::*;
use crate::config::{AuthConfig, SecretRef};

const RESOURCE: &str = "https://mcp.test/mcp";
const ISSUER: &str = "https://issuer.test";

#[derive(Debug)]
struct ManualClock {
    base: (SystemTime, Instant),
    offset: Mutex<Duration>,
}

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self { base: (SystemTime::now(), Instant::now()), offset: Mutex::new(Duration::ZERO) })
    }
    fn advance(&self, d: Duration) {
        *self.offset.lock().unwrap() += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.base.0 + *self.offset.lock().unwrap()
    }
    fn instant(&self) -> Instant {
        self.base.1 + *self.offset.lock().unwrap()
    }
}

/// JWT + API-key authenticator with `jwt_secret` and `pepper`; the API key's digest in the
/// config was made with `digest_pepper` (the config is not rewritten when the pepper rotates).
fn build(
    clock: &Arc<ManualClock>,
    jwt_secret: &[u8],
    pepper: &[u8],
    key: &crate::NewApiKey,
) -> Arc<CompositeAuthenticator> {
    let toml = format!(
        "methods = [\"api_key\", \"jwt\"]\nresource = \"{RESOURCE}\"\n\
         [jwt]\nissuer = \"{ISSUER}\"\nalgorithms = [\"HS256\"]\ncache_capacity = 0\n\
         keys = [{{ hmac_secret = {{ env = \"JWT\" }} }}]\n[api_keys]\npepper = {{ env = \"PEPPER\" }}\n{}",
        key.config_toml.replace("[[auth.api_keys.keys]]", "[[api_keys.keys]]")
    );
    let cfg: AuthConfig = toml::from_str(&toml).unwrap();
    let auth = CompositeAuthenticator::builder(cfg)
        .secret(SecretRef::Env("JWT".into()), SecretBox::new(Box::from(jwt_secret)))
        .secret(SecretRef::Env("PEPPER".into()), SecretBox::new(Box::from(pepper)))
        .clock(clock.clone())
        .build()
        .unwrap();
    Arc::new(auth)
}

fn token(secret: &[u8], clock: &ManualClock) -> String {
    let now = clock.now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({"iss": ISSUER, "aud": RESOURCE, "sub": "alice", "iat": now, "exp": now + 3600});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn bearer(t: &str) -> Credentials {
    let mut c = Credentials::default();
    c.bearer = Some(SecretBox::from(t.to_owned()));
    c
}

fn api_key(k: &str) -> Credentials {
    let mut c = Credentials::default();
    c.api_key = Some(SecretBox::from(k.to_owned()));
    c
}

async fn check(auth: &CompositeAuthenticator, c: &Credentials) -> Result<SecretGeneration, FailureReason> {
    auth.authenticate_with_generation(c, &AuthnContext::new(None)).await.map(|(_, g)| g).map_err(|e| e.reason())
}

const S1: &[u8] = b"first-jwt-secret-0123456789abcdef0123";
const S2: &[u8] = b"second-jwt-secret-fedcba9876543210fed";
const P1: &[u8] = &[1u8; 32];
const P2: &[u8] = &[2u8; 32];

#[tokio::test]
async fn previous_secrets_work_within_the_grace_then_are_dropped() {
    let clock = ManualClock::new();
    let key = crate::generate_api_key("k1", &SecretBox::new(Box::from(P1)), &["tools"], &[], None).unwrap();
    let old = build(&clock, S1, P1, &key);
    let (old_token, api) = (token(S1, &clock), api_key(key.key.expose_secret()));
    assert_eq!(check(&old, &bearer(&old_token)).await, Ok(SecretGeneration::Current));
    let weak = Arc::downgrade(&old);
    let new = build(&clock, S2, P2, &key);
    let until = new.keep_previous(old, Duration::from_secs(60)).unwrap();
    assert_eq!(until, clock.now() + Duration::from_secs(60));
    assert_eq!(check(&new, &bearer(&token(S2, &clock))).await, Ok(SecretGeneration::Current));
    assert_eq!(check(&new, &bearer(&old_token)).await, Ok(SecretGeneration::Previous));
    assert_eq!(check(&new, &api).await, Ok(SecretGeneration::Previous));
    // A secret that was never configured is still refused, with the current secrets' reason.
    let forged = token(b"never-configured-secret-0123456789abcd", &clock);
    assert_eq!(check(&new, &bearer(&forged)).await, Err(FailureReason::BadSignature));
    // A detailed call (the `Authenticator` path) accepts it too.
    assert!(new.authenticate_detailed(&bearer(&old_token), &AuthnContext::new(None)).await.is_ok());
    clock.advance(Duration::from_secs(59));
    assert_eq!(check(&new, &bearer(&old_token)).await, Ok(SecretGeneration::Previous));
    clock.advance(Duration::from_secs(1));
    assert_eq!(check(&new, &bearer(&old_token)).await, Err(FailureReason::BadSignature));
    assert_eq!(check(&new, &api).await, Err(FailureReason::UnknownApiKey));
    assert_eq!(new.grace_until(), None, "the expired previous version is forgotten");
    assert!(weak.upgrade().is_none(), "the previous authenticator (and its secrets) was dropped");
}

#[tokio::test]
async fn end_grace_and_zero_grace_refuse_at_once() {
    let clock = ManualClock::new();
    let key = crate::generate_api_key("k1", &SecretBox::new(Box::from(P1)), &[], &[], None).unwrap();
    let old_token = token(S1, &clock);
    let new = build(&clock, S2, P2, &key);
    let old = build(&clock, S1, P1, &key);
    let weak = Arc::downgrade(&old);
    new.keep_previous(old, Duration::from_secs(300));
    assert_eq!(check(&new, &bearer(&old_token)).await, Ok(SecretGeneration::Previous));
    assert!(new.end_grace());
    assert!(weak.upgrade().is_none());
    assert_eq!(check(&new, &bearer(&old_token)).await, Err(FailureReason::BadSignature));
    let immediate = build(&clock, S2, P2, &key);
    assert_eq!(immediate.keep_previous(build(&clock, S1, P1, &key), Duration::ZERO), None);
    assert_eq!(check(&immediate, &bearer(&old_token)).await, Err(FailureReason::BadSignature));
    assert_eq!(check(&immediate, &api_key(key.key.expose_secret())).await, Err(FailureReason::UnknownApiKey));
}

#[tokio::test]
async fn only_one_previous_version_is_kept() {
    let clock = ManualClock::new();
    let key = crate::generate_api_key("k1", &SecretBox::new(Box::from(P1)), &[], &[], None).unwrap();
    let s3: &[u8] = b"third-jwt-secret-00112233445566778899aa";
    let first = build(&clock, S1, P1, &key);
    let second = build(&clock, S2, P2, &key);
    second.keep_previous(first, Duration::from_secs(300));
    let third = build(&clock, s3, P2, &key);
    third.keep_previous(second, Duration::from_secs(300));
    assert_eq!(check(&third, &bearer(&token(S2, &clock))).await, Ok(SecretGeneration::Previous));
    assert_eq!(check(&third, &bearer(&token(S1, &clock))).await, Err(FailureReason::BadSignature));
    // Other refusals are not retried: an expired token signed with the previous secret.
    let now = clock.now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({"iss": ISSUER, "aud": RESOURCE, "sub": "a", "iat": now - 7200, "exp": now - 3600});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, s3), input.as_bytes());
    let expired = format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
    assert_eq!(check(&third, &bearer(&expired)).await, Err(FailureReason::Expired));
}
