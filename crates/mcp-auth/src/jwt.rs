//! JWTs signed with keys configured in `[auth.jwt]` (HMAC secrets or public keys).

use std::collections::HashMap;
use std::sync::Arc;

use mcp_core::{AuthMethod, Clock, Principal};

use crate::cache::{TokenCache, token_hash};
use crate::config::{JwtConfig, JwtKeyConfig};
use crate::error::{AuthError, FailureReason};
use crate::jose::claims::{self, ClaimRules, Claims};
use crate::jose::key::VerifyKey;
use crate::jose::mapping::{self, ClaimPlan};
use crate::jose::{self, Algorithm, Family};
use crate::secrets::Secrets;

#[derive(Debug)]
struct StaticKey {
    algorithms: Vec<Algorithm>,
    key: VerifyKey,
}

/// Verifies JWTs against configured keys. Synchronous: no IO on the request path.
#[derive(Debug)]
pub struct JwtAuthenticator {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    keys: Vec<StaticKey>,
    by_kid: HashMap<String, usize>,
    leeway: u64,
    max_ttl: u64,
    max_bytes: usize,
    claims: ClaimPlan,
    cache: TokenCache<Principal>,
    clock: Arc<dyn Clock>,
}

impl JwtAuthenticator {
    /// Build from config. `resource` is the default audience; `secrets` must hold every
    /// `hmac_secret` reference. Fails on a secret shorter than 256 bits (or than the hash of
    /// HS384/HS512), an RSA key under 2048 bits, a key that verifies none of `algorithms`, an
    /// algorithm no key can verify, or a duplicate `kid`.
    pub fn new(
        cfg: &JwtConfig,
        resource: Option<&str>,
        secrets: &Secrets,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthError> {
        if cfg.issuer.is_empty() {
            return Err(AuthError::config("auth.jwt.issuer is empty"));
        }
        if cfg.algorithms.is_empty() {
            return Err(AuthError::config("auth.jwt.algorithms is empty: pin the accepted algorithms"));
        }
        let audiences = if cfg.audience.is_empty() {
            vec![
                resource.ok_or_else(|| AuthError::config("auth.jwt.audience or auth.resource is required"))?.to_owned(),
            ]
        } else {
            cfg.audience.clone()
        };
        if audiences.iter().any(String::is_empty) {
            return Err(AuthError::config("auth.jwt.audience has an empty entry"));
        }
        crate::config::check_bounds("auth.jwt", cfg.leeway_secs, cfg.max_token_bytes)?;
        let claims = ClaimPlan::new(&cfg.claims, "auth.jwt")?;
        let mut keys = Vec::with_capacity(cfg.keys.len());
        let mut by_kid = HashMap::new();
        for (i, kc) in cfg.keys.iter().enumerate() {
            let key = build_key(i, kc, &cfg.algorithms, secrets)?;
            if let Some(kid) = &kc.kid
                && by_kid.insert(kid.clone(), keys.len()).is_some()
            {
                return Err(AuthError::config(format!("auth.jwt.keys: kid {kid:?} appears twice")));
            }
            keys.push(key);
        }
        for alg in &cfg.algorithms {
            if !keys.iter().any(|k| k.algorithms.contains(alg)) {
                return Err(AuthError::config(format!("auth.jwt.algorithms allows {alg} but no key can verify it")));
            }
        }
        Ok(Self {
            issuer: cfg.issuer.clone(),
            audiences,
            algorithms: cfg.algorithms.clone(),
            keys,
            by_kid,
            leeway: cfg.leeway_secs,
            max_ttl: cfg.max_token_ttl_secs,
            max_bytes: cfg.max_token_bytes,
            claims,
            cache: TokenCache::new(cfg.cache_capacity),
            clock,
        })
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Verified tokens currently cached.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// Verify `token` and return its principal (`method = Jwt`).
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify_inner(token).map_err(|r| AuthError::rejected(AuthMethod::Jwt, r))
    }

    fn verify_inner(&self, token: &str) -> Result<Principal, FailureReason> {
        if token.len() > self.max_bytes {
            return Err(FailureReason::TokenTooLong);
        }
        let now = jose::unix_secs(self.clock.now());
        let hash = token_hash(token);
        if let Some(p) = self.cache.get(&hash, now) {
            return Ok(p);
        }
        let compact = jose::split(token)?;
        let header = jose::parse_header(compact.header_b64, &self.algorithms)?;
        let key = self.select(header.kid.as_deref(), header.alg)?;
        let payload = jose::verify_signature(&compact, header.alg, key)?;
        let c = Claims::parse(&payload)?;
        let rules = ClaimRules {
            issuer: &self.issuer,
            audiences: &self.audiences,
            leeway: self.leeway,
            max_ttl: self.max_ttl,
            require_iat: true,
            require_exp: true,
            require_iss: true,
        };
        let exp = claims::validate(&c, &rules, now)?;
        let principal = mapping::principal(&c, &self.claims, AuthMethod::Jwt, false)?;
        if let Some(exp) = exp.filter(|_| self.cache.enabled()) {
            self.cache.insert(hash, exp, principal.clone(), now);
        }
        Ok(principal)
    }

    /// The key for `kid` / `alg`: by `kid` when given; otherwise the single key that verifies
    /// `alg` (several → `kid_required`). Never "try each key until one verifies".
    fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&VerifyKey, FailureReason> {
        let key = match kid {
            Some(kid) => &self.keys[*self.by_kid.get(kid).ok_or(FailureReason::UnknownKid)?],
            None => {
                let mut it = self.keys.iter().filter(|k| k.algorithms.contains(&alg));
                match (it.next(), it.next()) {
                    (Some(k), None) => k,
                    (None, _) => return Err(FailureReason::UnknownKid),
                    (Some(_), Some(_)) => return Err(FailureReason::KidRequired),
                }
            }
        };
        if alg.family() != key.key.family() {
            return Err(FailureReason::AlgKeyMismatch);
        }
        if !key.algorithms.contains(&alg) {
            return Err(FailureReason::AlgorithmNotAllowed);
        }
        Ok(&key.key)
    }
}

fn build_key(i: usize, kc: &JwtKeyConfig, allowed: &[Algorithm], secrets: &Secrets) -> Result<StaticKey, AuthError> {
    let name = kc.kid.clone().unwrap_or_else(|| format!("#{i}"));
    let err = |m: String| AuthError::config(format!("auth.jwt.keys[{name}]: {m}"));
    if let Some(a) = kc.algorithms.iter().find(|a| !allowed.contains(a)) {
        return Err(err(format!("algorithm {a} is not in auth.jwt.algorithms")));
    }
    let algorithms_for = |fam: Family| -> Vec<Algorithm> {
        let base: &[Algorithm] = if kc.algorithms.is_empty() { allowed } else { &kc.algorithms };
        base.iter().copied().filter(|a| a.family() == fam).collect()
    };
    let key = match (&kc.hmac_secret, &kc.public_key_pem, &kc.public_key_file) {
        (Some(r), None, None) => {
            let min = algorithms_for(Family::Hmac).iter().map(|a| a.min_hmac_key_len()).max().unwrap_or(32);
            VerifyKey::hmac(secrets.get(r)?, min).map_err(err)?
        }
        (None, Some(pem), None) => VerifyKey::from_spki_pem(pem.as_bytes()).map_err(err)?,
        (None, None, Some(path)) => {
            let pem = std::fs::read(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
            VerifyKey::from_spki_pem(&pem).map_err(err)?
        }
        _ => return Err(err("set exactly one of hmac_secret, public_key_pem, public_key_file".into())),
    };
    let algorithms = algorithms_for(key.family());
    if algorithms.is_empty() || kc.algorithms.iter().any(|a| !algorithms.contains(a)) {
        return Err(err(format!("a {:?} key cannot verify the configured algorithms", key.family())));
    }
    Ok(StaticKey { algorithms, key })
}
