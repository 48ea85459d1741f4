//! A rotation's grace period: the authenticator built from the previous version of the server's
//! own secrets (JWT HMAC secrets, the API-key pepper), kept for a while after a rotation.
//!
//! A credential is always verified with the current secrets first. Only when that fails because
//! the signature or the key digest does not match (`bad_signature`, `unknown_api_key`) and the
//! grace period is still running is it verified once more with the previous secrets; OAuth
//! tokens, mTLS and every other refusal are never retried. Both checks are the constant-time
//! ones (ring's HMAC verification, `subtle` digest comparison). When the grace period ends the
//! previous authenticator is dropped, and with it the only copy of the previous secrets, held
//! in memory that is zeroized on drop.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use mcp_core::traits::{AuthnContext, Credentials};
use mcp_core::{AuthMethod, Principal};

use crate::composite::CompositeAuthenticator;
use crate::error::{AuthError, FailureReason, method_event_name};

/// Which version of the server's secrets accepted a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretGeneration {
    /// The current version.
    Current,
    /// The version before the last rotation, within the grace period. The server records a
    /// security event for each such request so that operators see clients still using it.
    Previous,
}

/// The previous authenticator and when it stops being accepted.
#[derive(Debug)]
struct Previous {
    auth: Arc<CompositeAuthenticator>,
    until: SystemTime,
}

/// Holds at most one previous authenticator. Default: none.
#[derive(Debug, Default)]
pub(crate) struct GraceSlot {
    slot: RwLock<Option<Previous>>,
}

impl GraceSlot {
    /// Keep `auth` until `until`, replacing (and dropping) any earlier one.
    pub(crate) fn set(&self, auth: Arc<CompositeAuthenticator>, until: SystemTime) {
        let old = self.replace(Some(Previous { auth, until }));
        drop(old);
    }

    /// Drop the previous authenticator now; true when there was one.
    pub(crate) fn clear(&self) -> bool {
        self.replace(None).is_some()
    }

    fn replace(&self, new: Option<Previous>) -> Option<Previous> {
        match self.slot.write() {
            Ok(mut g) => std::mem::replace(&mut *g, new),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), new),
        }
    }

    /// When the grace period ends, if one is running.
    pub(crate) fn until(&self) -> Option<SystemTime> {
        self.read(|p| p.until)
    }

    /// The previous authenticator while `now` is inside its grace period; clears it once the
    /// period is over.
    pub(crate) fn active(&self, now: SystemTime) -> Option<Arc<CompositeAuthenticator>> {
        let (auth, until) = self.read(|p| (p.auth.clone(), p.until))?;
        if now < until {
            return Some(auth);
        }
        drop(auth);
        // Only clear the one that expired: a newer rotation may have replaced it meanwhile.
        if let Ok(mut g) = self.slot.write()
            && g.as_ref().is_some_and(|p| p.until <= now)
        {
            *g = None;
        }
        None
    }

    fn read<T>(&self, f: impl FnOnce(&Previous) -> T) -> Option<T> {
        match self.slot.read() {
            Ok(g) => g.as_ref().map(f),
            Err(poisoned) => poisoned.into_inner().as_ref().map(f),
        }
    }
}

impl CompositeAuthenticator {
    /// Authenticate with the full error (precise reason, RFC 6750 code, scopes required).
    /// Within a rotation's grace period, credentials made with the previous secrets are accepted
    /// too (see [`Self::authenticate_with_generation`]).
    pub async fn authenticate_detailed(
        &self,
        c: &Credentials,
        context: &AuthnContext,
    ) -> Result<Arc<Principal>, AuthError> {
        self.authenticate_with_generation(c, context).await.map(|(p, _)| p)
    }

    /// [`Self::authenticate_detailed`], also telling which version of the secrets accepted the
    /// credentials. The current secrets are always tried first; the previous ones (kept by
    /// [`Self::keep_previous`]) only after a signature or API-key mismatch, and only while the
    /// grace period runs. A refusal is always the current secrets' refusal.
    pub async fn authenticate_with_generation(
        &self,
        c: &Credentials,
        _context: &AuthnContext,
    ) -> Result<(Arc<Principal>, SecretGeneration), AuthError> {
        let mut result = self.authenticate_current(c).await.map(|p| (p, SecretGeneration::Current));
        if let Err(e) = &result
            && worth_retrying(e)
            && let Some(previous) = self.grace.active(self.clock.now())
            && let Ok(p) = previous.authenticate_current(c).await
        {
            result = Ok((p, SecretGeneration::Previous));
        }
        match &result {
            Ok((p, generation)) => tracing::debug!(
                method = method_event_name(Some(p.method)),
                principal = %p.id,
                previous_secret = *generation == SecretGeneration::Previous,
                "authenticated"
            ),
            Err(e) => tracing::debug!(
                method = method_event_name(e.method()),
                reason = e.reason().as_str(),
                "authentication refused"
            ),
        }
        result
    }

    /// Accept credentials made with `previous`'s secrets (the authenticator this one replaces
    /// after a rotation) for `grace` from now; returns when that ends, or `None` when `grace` is
    /// zero (nothing is kept). Replaces an earlier previous authenticator, and `previous` forgets
    /// its own, so there is never more than one old version.
    pub fn keep_previous(&self, previous: Arc<CompositeAuthenticator>, grace: Duration) -> Option<SystemTime> {
        previous.end_grace();
        if grace.is_zero() {
            return None;
        }
        let until = deadline(self.clock.now(), grace);
        self.grace.set(previous, until);
        Some(until)
    }

    /// End the grace period now: drop the previous authenticator (its secrets are zeroized once
    /// requests still using it finish). True when one was kept.
    pub fn end_grace(&self) -> bool {
        self.grace.clear()
    }

    /// When the running grace period ends (`None`: no previous secrets are accepted). The
    /// period may already be over if no request has looked since.
    pub fn grace_until(&self) -> Option<SystemTime> {
        self.grace.until()
    }
}

/// Whether a refusal by the current secrets may be a credential made with the previous ones.
pub(crate) fn worth_retrying(e: &AuthError) -> bool {
    matches!(
        (e.method(), e.reason()),
        (Some(AuthMethod::Jwt), FailureReason::BadSignature) | (Some(AuthMethod::ApiKey), FailureReason::UnknownApiKey)
    )
}

/// The end of a grace period of `grace` starting at `now` (saturating far in the future).
pub(crate) fn deadline(now: SystemTime, grace: Duration) -> SystemTime {
    now.checked_add(grace).unwrap_or(now)
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
