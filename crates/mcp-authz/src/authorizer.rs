//! A swappable policy: the server holds one [`PolicyAuthorizer`] and reloads it when the
//! configuration changes. Readers never lock.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use mcp_core::traits::Authorizer;
use mcp_core::{Action, Decision, Principal};

use crate::policy::Policy;

/// An [`Authorizer`] over the current [`Policy`], replaced atomically by [`PolicyAuthorizer::reload`].
///
/// ```
/// use mcp_authz::{Policy, PolicyAuthorizer};
/// use mcp_core::traits::Authorizer;
/// use mcp_core::{Action, Principal};
/// let authz = PolicyAuthorizer::new(Policy::deny_all());
/// assert!(!authz.authorize(&Principal::anonymous(), Action::ListTools).is_allowed());
/// ```
pub struct PolicyAuthorizer {
    current: ArcSwap<Policy>,
}

impl PolicyAuthorizer {
    /// Start with `policy`.
    pub fn new(policy: Policy) -> Self {
        Self { current: ArcSwap::from_pointee(policy) }
    }

    /// Replace the policy; requests already deciding finish with the old one.
    pub fn reload(&self, policy: Policy) {
        self.current.store(Arc::new(policy));
    }

    /// The current policy (for list filtering, explain and lint).
    pub fn policy(&self) -> Arc<Policy> {
        self.current.load_full()
    }
}

impl Authorizer for PolicyAuthorizer {
    fn authorize(&self, principal: &Principal, action: Action) -> Decision {
        self.current.load().decide(principal, action)
    }
}

impl fmt::Debug for PolicyAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyAuthorizer").field("policy", &*self.current.load()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthorizationConfig;
    use crate::rule::CodeRules;

    #[test]
    fn reload_swaps_the_policy() {
        let authz = PolicyAuthorizer::new(Policy::deny_all());
        let p = Principal::anonymous();
        assert!(!authz.authorize(&p, Action::ListTools).is_allowed());
        let open = AuthorizationConfig { enabled: false, ..AuthorizationConfig::default() };
        authz.reload(Policy::compile(&open, &CodeRules::new()).expect("compiles"));
        assert!(authz.authorize(&p, Action::ListTools).is_allowed());
        assert!(!authz.policy().enabled());
        assert!(format!("{authz:?}").contains("enabled: false"));
    }
}
