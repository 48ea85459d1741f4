//! From validated claims to a [`Principal`], following the configured claim paths.
//!
//! Identity is strict (a principal claim of the wrong type refuses the token); grants are
//! lenient and bounded: values that are not strings are ignored, malformed entries are skipped
//! with a debug log, and at most [`MAX_GRANTS`] roles, permissions and scopes are taken from one
//! token. Dropping a grant only ever takes rights away.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use mcp_core::{AuthMethod, Permission, Principal};
use serde_json::value::RawValue;

use super::claims::{Claims, json_str, split_spaces, valid_name};
use crate::claim_path::{ClaimPath, ClaimPaths};
use crate::config::ClaimMapping;
use crate::error::{AuthError, FailureReason};

/// Most roles (groups included), permissions and scopes taken from one token; the rest are
/// ignored.
pub(crate) const MAX_GRANTS: usize = 256;

/// A [`ClaimMapping`] with its paths parsed, built once per authenticator.
#[derive(Clone, Debug)]
pub(crate) struct ClaimPlan {
    principal: ClaimPath,
    /// `roles` paths, then `groups` paths: both name roles.
    roles: Vec<ClaimPath>,
    permissions: Vec<ClaimPath>,
    scopes: Vec<ClaimPath>,
    rate_class: Option<ClaimPath>,
}

impl ClaimPlan {
    /// Parse every path of `m`; `section` (`auth.jwt`, `auth.oauth`) names it in errors.
    pub(crate) fn new(m: &ClaimMapping, section: &str) -> Result<Self, AuthError> {
        let one = |key: &str, p: &str| {
            ClaimPath::parse(p).map_err(|e| AuthError::config(format!("{section}.claims.{key}: {e}")))
        };
        let many = |key: &str, ps: &ClaimPaths| -> Result<Vec<ClaimPath>, AuthError> {
            if ps.paths().len() > crate::claim_path::MAX_PATHS {
                return Err(AuthError::config(format!(
                    "{section}.claims.{key}: at most {} claim paths",
                    crate::claim_path::MAX_PATHS
                )));
            }
            ps.paths().iter().map(|p| one(key, p)).collect()
        };
        let mut roles = many("roles", &m.roles)?;
        roles.extend(many("groups", &m.groups)?);
        Ok(Self {
            principal: one("principal", &m.principal)?,
            roles,
            permissions: many("permissions", &m.permissions)?,
            scopes: many("scopes", &m.scopes)?,
            rate_class: m.rate_class.as_deref().map(|p| one("rate_class", p)).transpose()?,
        })
    }
}

/// Build the principal from validated claims. With `client_id_fallback` (OAuth) a token without
/// the principal claim is named by its top-level `client_id`.
pub(crate) fn principal(
    c: &Claims<'_>,
    plan: &ClaimPlan,
    method: AuthMethod,
    client_id_fallback: bool,
) -> Result<Principal, FailureReason> {
    let id = match c.str_at(&plan.principal)? {
        Some(id) => id,
        None if client_id_fallback => c.str("client_id")?.ok_or(FailureReason::MissingClaim)?,
        None => return Err(FailureReason::MissingClaim),
    };
    if !valid_name(&id) {
        return Err(FailureReason::MalformedClaims);
    }
    let mut p = Principal::new(Arc::<str>::from(id.as_ref()), method);
    p.roles = gather(c, &plan.roles, "roles", |r| valid_name(r).then(|| Arc::from(r)))?;
    p.permissions = gather(c, &plan.permissions, "permissions", |s| s.parse::<Permission>().ok())?;
    p.scopes = gather(c, &plan.scopes, "scopes", |s| {
        (s.len() <= super::claims::MAX_NAME && crate::challenge::valid_scope(s)).then(|| Arc::from(s))
    })?;
    if let Some(path) = &plan.rate_class {
        p.rate_class = rate_class(c, path)?;
    }
    Ok(p)
}

/// The union over `paths` of the entries `convert` accepts, at most [`MAX_GRANTS`].
fn gather<T: Ord>(
    c: &Claims<'_>,
    paths: &[ClaimPath],
    what: &'static str,
    mut convert: impl FnMut(&str) -> Option<T>,
) -> Result<BTreeSet<T>, FailureReason> {
    let mut out = BTreeSet::new();
    let mut skipped = 0usize;
    'paths: for path in paths {
        let Some(v) = c.path(path)? else { continue };
        for s in strings(v, path) {
            if out.len() >= MAX_GRANTS {
                tracing::debug!(what, max = MAX_GRANTS, "a token carries more entries than the cap; ignoring the rest");
                break 'paths;
            }
            match convert(&s) {
                Some(t) => {
                    out.insert(t);
                }
                None => skipped += 1,
            }
        }
    }
    if skipped > 0 {
        tracing::debug!(what, skipped, "ignoring malformed entries in a token");
    }
    Ok(out)
}

/// The strings a claim value holds: a string split at spaces, or the string members of an
/// array (taken whole). Other values (numbers, objects, non-string members) are ignored.
fn strings<'a>(v: &'a RawValue, path: &ClaimPath) -> Vec<Cow<'a, str>> {
    match v.get().as_bytes().first() {
        Some(b'"') => json_str(v).map(split_spaces).unwrap_or_default(),
        Some(b'[') => {
            let Ok(items) = serde_json::from_str::<Vec<&'a RawValue>>(v.get()) else { return Vec::new() };
            let total = items.len();
            let out: Vec<_> = items.into_iter().filter_map(|i| json_str(i).ok()).collect();
            if out.len() < total {
                tracing::debug!(claim = %path, ignored = total - out.len(), "ignoring non-string members of a claim");
            }
            out
        }
        _ if v.get() == "null" => Vec::new(),
        _ => {
            tracing::debug!(claim = %path, "ignoring a claim that is neither a string nor an array");
            Vec::new()
        }
    }
}

/// The rate-limit class at `path`, when it is a string of `[A-Za-z0-9_.-]{1,64}`.
fn rate_class(c: &Claims<'_>, path: &ClaimPath) -> Result<Option<Arc<str>>, FailureReason> {
    let Some(v) = c.path(path)? else { return Ok(None) };
    match json_str(v) {
        Ok(s) if crate::api_key::valid_id(&s) => Ok(Some(Arc::from(s.as_ref()))),
        _ => {
            tracing::debug!(claim = %path, "ignoring a rate-limit class that is not a short identifier");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests;
