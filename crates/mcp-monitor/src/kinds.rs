//! A dense index over [`SecurityEventKind`], so per-kind counters are a plain array of atomics,
//! and parsing of kind names for the configuration.

use mcp_core::SecurityEventKind as K;

/// Every kind this crate knows, in index order.
pub(crate) const ALL_KINDS: [K; 22] = [
    K::TransportRejected,
    K::MalformedMessage,
    K::HeaderMismatch,
    K::UnsupportedVersion,
    K::SessionRejected,
    K::CapacityExceeded,
    K::StateTampered,
    K::Authenticated,
    K::AuthenticateFail,
    K::AuthorizeFail,
    K::RateLimitExceeded,
    K::ValidationFail,
    K::PromptInjectionBlocked,
    K::RateLimiterDegraded,
    K::ClientBlocked,
    K::Alert,
    K::Anomaly,
    K::SecretAccess,
    K::ConfigChange,
    K::ToolDefinitionChanged,
    K::AuditDegraded,
    K::BreachSuspected,
];

/// Number of counter slots: every known kind plus one `other` slot for kinds added to
/// `mcp-core` after this crate was written.
pub(crate) const SLOTS: usize = ALL_KINDS.len() + 1;

/// Label of the `other` slot.
pub(crate) const OTHER: &str = "other";

/// The slot of `kind` (a jump table, no search).
pub(crate) const fn index(kind: K) -> usize {
    match kind {
        K::TransportRejected => 0,
        K::MalformedMessage => 1,
        K::HeaderMismatch => 2,
        K::UnsupportedVersion => 3,
        K::SessionRejected => 4,
        K::CapacityExceeded => 5,
        K::StateTampered => 6,
        K::Authenticated => 7,
        K::AuthenticateFail => 8,
        K::AuthorizeFail => 9,
        K::RateLimitExceeded => 10,
        K::ValidationFail => 11,
        K::PromptInjectionBlocked => 12,
        K::RateLimiterDegraded => 13,
        K::ClientBlocked => 14,
        K::Alert => 15,
        K::Anomaly => 16,
        K::SecretAccess => 17,
        K::ConfigChange => 18,
        K::ToolDefinitionChanged => 19,
        K::AuditDegraded => 20,
        K::BreachSuspected => 21,
        _ => ALL_KINDS.len(),
    }
}

/// The label of slot `i`.
pub(crate) fn label(i: usize) -> &'static str {
    ALL_KINDS.get(i).map_or(OTHER, |k| k.as_str())
}

/// Parse a snake_case kind name (`authenticate_fail`).
pub(crate) fn parse(name: &str) -> Option<K> {
    ALL_KINDS.iter().copied().find(|k| k.as_str() == name)
}

/// A set of kinds as a bit mask over the slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KindSet(u32);

impl KindSet {
    /// The set of `kinds`.
    pub(crate) fn of(kinds: impl IntoIterator<Item = K>) -> Self {
        Self(kinds.into_iter().fold(0, |m, k| m | (1 << index(k))))
    }

    /// Membership test: one shift and one and.
    pub(crate) const fn contains(self, kind: K) -> bool {
        self.0 & (1 << index(kind)) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_dense_and_labels_round_trip() {
        for (i, k) in ALL_KINDS.iter().enumerate() {
            assert_eq!(index(*k), i);
            assert_eq!(label(i), k.as_str());
            assert_eq!(parse(k.as_str()), Some(*k));
        }
        assert_eq!(label(ALL_KINDS.len()), "other");
        assert_eq!(parse("nope"), None);
    }

    #[test]
    fn kind_set_membership() {
        let s = KindSet::of([K::AuthenticateFail, K::AuthorizeFail]);
        assert!(s.contains(K::AuthenticateFail));
        assert!(s.contains(K::AuthorizeFail));
        assert!(!s.contains(K::RateLimitExceeded));
        assert!(!KindSet::default().contains(K::AuthenticateFail));
    }
}
