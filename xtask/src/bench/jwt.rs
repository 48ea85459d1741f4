//! JWT credentials of the `ours-jwt-*` targets: a configuration file (the server's embedded
//! default plus `[auth]` with `[auth.jwt]`), the key material, and a token minted here with ring.
//!
//! HS256: a fresh random secret, handed to the server in [`SECRET_ENV`] (`hmac_secret = { env =
//! .. }`). ES256: a fresh P-256 key pair; the server gets the public key as an SPKI PEM file
//! (`public_key_file`). Either way the token names the key (`kid`), carries `iss`, `aud` (the
//! server's resource URI), `sub = "bench"`, `iat`, `exp` ([`TOKEN_TTL_SECS`] later) and
//! `permissions = ["tools"]`, the grant the API-key variant's key gets.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use crate::util::Result;

/// What `mcp-server serve` runs without `--config`; the JWT configurations extend it.
const DEFAULT_CONFIG: &str = include_str!("../../../crates/mcp-server/src/default.toml");

/// Appended to every configuration of "ours": the default rate limits (a few requests per second
/// per client) would turn the load into 429s, so the same three limits are kept, still checked
/// on every request (their cost is measured), with budgets far above any load.
pub const BENCH_LIMITS: &str = "
# Added by `cargo xtask bench`: the default limits, with budgets far above the load.
[rate_limit]
limits = [
  { name = \"ip_all\", scope = \"ip\", algorithm = \"token_bucket\", rate_per_sec = 100000000.0, burst = 1000000 },
  { name = \"client_all\", scope = \"client\", algorithm = \"token_bucket\", rate_per_sec = 100000000.0, burst = 1000000 },
  { name = \"client_tools\", scope = \"client\", applies_to = \"tools\", algorithm = \"token_bucket\", rate_per_sec = 100000000.0, burst = 1000000 },
]
";

/// The configuration of the API-key variant: the embedded default plus [`BENCH_LIMITS`].
pub fn api_key_config() -> String {
    format!("{DEFAULT_CONFIG}{BENCH_LIMITS}")
}

/// What `ours-plain` switches off: every protection stage after authentication.
pub const PLAIN_STAGES_OFF: &str = "
# Added by `cargo xtask bench` (ours-plain): the protection stages off, authentication kept.
[authorization]
enabled = false

[rate_limit]
enabled = false

[audit_log]
enabled = false

[prompt_security]
enabled = false

[monitoring.blocking]
enabled = false

[monitoring.alerts]
enabled = false

[monitoring.anomaly]
enabled = false
";

/// The configuration of `ours-plain`: the embedded default plus [`PLAIN_STAGES_OFF`].
pub fn plain_config() -> String {
    format!("{DEFAULT_CONFIG}{PLAIN_STAGES_OFF}")
}

/// What `ours-open` adds to [`PLAIN_STAGES_OFF`]: no authentication (loopback only; the server
/// refuses this key on any other address).
pub const OPEN_NO_AUTH: &str = "
# Added by `cargo xtask bench` (ours-open): no authentication either.
[danger]
allow_unauthenticated = true
";

/// The configuration of `ours-open`: [`plain_config`] plus [`OPEN_NO_AUTH`].
pub fn open_config() -> String {
    format!("{DEFAULT_CONFIG}{PLAIN_STAGES_OFF}{OPEN_NO_AUTH}")
}

/// `iss` of the tokens and `auth.jwt.issuer`.
pub const ISSUER: &str = "https://issuer.bench.invalid";
/// `sub` of the tokens: the principal.
pub const SUBJECT: &str = "bench";
/// `kid` of the key, in the token header and the configuration.
const KID: &str = "bench";
/// Lifetime of a token (`exp - iat`), below the default `auth.jwt.max_token_ttl_secs` (3600).
pub const TOKEN_TTL_SECS: u64 = 3000;
/// The environment variable carrying the HS256 secret to the server.
pub const SECRET_ENV: &str = "BENCH_JWT_SECRET";
/// DER SubjectPublicKeyInfo of a P-256 key up to the point: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (65 bytes, no unused bits) }.
pub const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A JWS algorithm the benchmark signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// HMAC-SHA-256 with a shared secret.
    Hs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
}

impl Alg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Es256 => "ES256",
        }
    }
}

/// What one JWT-authenticated server needs.
pub struct Setup {
    /// The configuration file to pass with `--config`.
    pub config: PathBuf,
    /// Variables for the server's environment (the HS256 secret).
    pub env: Vec<(&'static str, String)>,
    /// The bearer token every request carries.
    pub token: String,
    /// Every file written (configuration, public key), to remove with the server's log.
    pub files: Vec<PathBuf>,
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setup").field("config", &self.config).field("files", &self.files).finish_non_exhaustive()
    }
}

/// Keys, configuration (`dir/<name>.toml`) and a token for a server listening on `addr`. With
/// `cache` false the configuration sets `cache_capacity = 0`, so every request is verified.
pub fn setup(alg: Alg, dir: &Path, name: &str, addr: SocketAddr, cache: bool) -> Result<Setup> {
    let resource = format!("http://{addr}/mcp");
    let claims = claims(&resource, unix_now()?);
    let config = dir.join(format!("{name}.toml"));
    let mut files = vec![config.clone()];
    let (key, env, token) = match alg {
        Alg::Hs256 => {
            let secret = random_secret()?;
            let token = mint_hs256(secret.as_bytes(), &claims);
            (format!("hmac_secret = {{ env = \"{SECRET_ENV}\" }}"), vec![(SECRET_ENV, secret)], token)
        }
        Alg::Es256 => {
            let signer = EsSigner::generate()?;
            let pem = dir.join(format!("{name}.pub.pem"));
            write(&pem, &signer.public_key_pem())?;
            files.push(pem.clone());
            let path = pem.to_str().ok_or_else(|| format!("{}: not UTF-8", pem.display()))?;
            (format!("public_key_file = {}", toml_string(path)), Vec::new(), signer.mint(&claims)?)
        }
    };
    write(&config, &config_toml(&resource, alg, &key, cache))?;
    Ok(Setup { config, env, token, files })
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn unix_now() -> Result<u64> {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).map_err(|e| format!("system clock: {e}"))
}

/// The embedded default configuration plus `[auth]` accepting only JWTs signed with `alg` by the
/// key `key` (a TOML `key = value` line of `[[auth.jwt.keys]]`).
pub fn config_toml(resource: &str, alg: Alg, key: &str, cache: bool) -> String {
    let resource = toml_string(resource);
    let cache = if cache { "" } else { "cache_capacity = 0\n" };
    format!(
        "{DEFAULT_CONFIG}{BENCH_LIMITS}\n# Added by `cargo xtask bench` (ours-jwt-{lower}).\n[auth]\nmethods = [\"jwt\"]\nresource = {resource}\n\n[auth.jwt]\nissuer = {issuer}\naudience = [{resource}]\nalgorithms = [\"{alg}\"]\n{cache}\n[[auth.jwt.keys]]\nkid = \"{KID}\"\n{key}\n",
        lower = alg.name().to_ascii_lowercase(),
        issuer = toml_string(ISSUER),
        alg = alg.name(),
    )
}

/// A TOML basic string: `"` and `\` escaped, control characters as `\uXXXX`.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The token's claims (JSON) for the server at `resource`, issued at `now` (Unix seconds).
pub fn claims(resource: &str, now: u64) -> String {
    serde_json::json!({
        "iss": ISSUER,
        "aud": resource,
        "sub": SUBJECT,
        "iat": now,
        "exp": now + TOKEN_TTL_SECS,
        "permissions": ["tools"],
    })
    .to_string()
}

/// 48 random bytes as base64url (64 ASCII bytes: the HMAC key is those bytes, above the 32-byte
/// minimum, and fit an environment variable).
fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 48];
    SystemRandom::new().fill(&mut bytes).map_err(|_| "the OS random generator failed")?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// `base64url(header).base64url(claims)`: what is signed.
pub fn signing_input(alg: Alg, claims: &str) -> String {
    let header = format!(r#"{{"alg":"{}","typ":"JWT","kid":"{KID}"}}"#, alg.name());
    format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
}

/// An HS256 compact JWS of `claims` under `secret`.
pub fn mint_hs256(secret: &[u8], claims: &str) -> String {
    let input = signing_input(Alg::Hs256, claims);
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// A fresh P-256 key pair signing ES256 tokens.
pub struct EsSigner {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for EsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EsSigner").finish_non_exhaustive()
    }
}

impl EsSigner {
    /// Generate a key pair (PKCS#8 from ring, used in memory only).
    pub fn generate() -> Result<Self> {
        let rng = SystemRandom::new();
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|_| "cannot generate a P-256 key pair")?;
        let pair = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(|_| "cannot load the P-256 key pair")?;
        Ok(Self { pair, rng })
    }

    /// An ES256 compact JWS of `claims` (signature: `r || s`, 64 bytes).
    pub fn mint(&self, claims: &str) -> Result<String> {
        let input = signing_input(Alg::Es256, claims);
        let sig = self.pair.sign(&self.rng, input.as_bytes()).map_err(|_| "ES256 signing failed")?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// The uncompressed public point (65 bytes, `04 || x || y`).
    pub fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The public key as a `-----BEGIN PUBLIC KEY-----` (SPKI) PEM.
    pub fn public_key_pem(&self) -> String {
        spki_pem(self.public_point())
    }
}

/// PEM of the P-256 SubjectPublicKeyInfo holding the uncompressed `point`.
pub fn spki_pem(point: &[u8]) -> String {
    let mut der = SPKI_P256_PREFIX.to_vec();
    der.extend_from_slice(point);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----");
    for (i, c) in STANDARD.encode(der).chars().enumerate() {
        if i % 64 == 0 {
            pem.push('\n');
        }
        pem.push(c);
    }
    pem.push_str("\n-----END PUBLIC KEY-----\n");
    pem
}

#[cfg(test)]
mod tests;
