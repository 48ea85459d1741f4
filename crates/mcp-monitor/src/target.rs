//! What can be blocked, and the records that describe a block.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::MonitorError;

/// Longest accepted client id and block reason, characters.
pub(crate) const MAX_TEXT: usize = 512;

/// A blocked key: a remote address or a principal id. Written `ip:<address>` or
/// `client:<id>` in the block file and on the command line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockTarget {
    /// A remote address (IPv6: the network of the configured prefix length).
    Ip(IpAddr),
    /// A principal id.
    Client(Arc<str>),
}

impl BlockTarget {
    /// A client target, checking the id (1..=512 characters, no control characters).
    pub fn client(id: &str) -> Result<Self, MonitorError> {
        check_text("target", id)?;
        Ok(Self::Client(id.into()))
    }
}

impl fmt::Display for BlockTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "ip:{ip}"),
            Self::Client(id) => write!(f, "client:{id}"),
        }
    }
}

impl FromStr for BlockTarget {
    type Err = MonitorError;

    /// Parse `ip:<address>` or `client:<id>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(ip) = s.strip_prefix("ip:") {
            let ip = ip.parse().map_err(|_| MonitorError::invalid("target", format!("{ip:?} is not an IP address")))?;
            Ok(Self::Ip(ip))
        } else if let Some(id) = s.strip_prefix("client:") {
            Self::client(id)
        } else {
            Err(MonitorError::invalid("target", "write ip:<address> or client:<principal id>"))
        }
    }
}

impl Serialize for BlockTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BlockTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why and until when a key is blocked: the answer of `is_blocked_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block ends at this instant.
    pub until: SystemTime,
    /// Operator-facing reason (never shown to the client).
    pub reason: Arc<str>,
}

/// Who created a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockOrigin {
    /// An operator (API or CLI).
    Manual,
    /// The failed-attempt tracker.
    Automatic,
}

/// One block, as listed and as stored in the block file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockEntry {
    /// The blocked key.
    pub target: BlockTarget,
    /// End of the block (unix seconds in the file).
    #[serde(with = "unix_secs")]
    pub until: SystemTime,
    /// Operator-facing reason.
    pub reason: Arc<str>,
    /// Manual or automatic.
    pub origin: BlockOrigin,
    /// When the block was created (unix seconds in the file).
    #[serde(with = "unix_secs")]
    pub created: SystemTime,
}

impl BlockEntry {
    /// A manual block of `target` for `duration` from `now`, checking the reason (1..=512
    /// characters, no control characters) and the duration (1 s ..= 10 years).
    pub fn manual(
        target: BlockTarget,
        duration: Duration,
        reason: &str,
        now: SystemTime,
    ) -> Result<Self, MonitorError> {
        check_text("reason", reason)?;
        if duration < Duration::from_secs(1) || duration > Duration::from_secs(10 * 365 * 86_400) {
            return Err(MonitorError::invalid("duration", "use 1 second up to 10 years"));
        }
        let until = now.checked_add(duration).ok_or_else(|| MonitorError::invalid("duration", "out of range"))?;
        Ok(Self { target, until, reason: reason.into(), origin: BlockOrigin::Manual, created: now })
    }

    /// The `is_blocked_*` view of this entry.
    pub fn info(&self) -> BlockInfo {
        BlockInfo { until: self.until, reason: Arc::clone(&self.reason) }
    }
}

pub(crate) fn check_text(what: &'static str, s: &str) -> Result<(), MonitorError> {
    let n = s.chars().count();
    if n == 0 || n > MAX_TEXT || s.chars().any(char::is_control) {
        return Err(MonitorError::invalid(what, format!("use 1..={MAX_TEXT} characters without control characters")));
    }
    Ok(())
}

/// The key an address is counted and blocked under: IPv4-mapped IPv6 becomes IPv4, other IPv6
/// addresses are cut to their first `v6_prefix` bits.
pub(crate) fn normalize_ip(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let bits = u128::from(v6);
            let mask = if v6_prefix >= 128 { u128::MAX } else { !(u128::MAX >> v6_prefix) };
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

/// Milliseconds since the unix epoch (0 before it).
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

mod unix_secs {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        // Round up, so a block never ends earlier after a save and reload.
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        s.serialize_u64(d.as_secs() + u64::from(d.subsec_nanos() > 0))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let secs = u64::deserialize(d)?;
        UNIX_EPOCH.checked_add(Duration::from_secs(secs)).ok_or_else(|| serde::de::Error::custom("time out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_display() {
        let t: BlockTarget = "ip:203.0.113.7".parse().unwrap();
        assert_eq!(t.to_string(), "ip:203.0.113.7");
        let t: BlockTarget = "client:alice@example".parse().unwrap();
        assert_eq!(t, BlockTarget::Client("alice@example".into()));
        assert!("ip:nope".parse::<BlockTarget>().is_err());
        assert!("host:x".parse::<BlockTarget>().is_err());
        assert!("client:".parse::<BlockTarget>().is_err());
        assert!("client:a\nb".parse::<BlockTarget>().is_err());
    }

    #[test]
    fn ipv6_is_cut_to_prefix_and_mapped_v4_unwrapped() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        assert_eq!(normalize_ip(a, 64), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_eq!(normalize_ip(a, 128), a);
        let m: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(normalize_ip(m, 64), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn entry_round_trips_through_json_rounding_up() {
        let now = UNIX_EPOCH + Duration::from_millis(1_000_500);
        let e = BlockEntry::manual("ip:192.0.2.1".parse().unwrap(), Duration::from_secs(60), "abuse", now).unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"target":"ip:192.0.2.1","until":1061,"reason":"abuse","origin":"manual","created":1001}"#);
        let back: BlockEntry = serde_json::from_str(&json).unwrap();
        assert!(back.until >= e.until);
        assert!(BlockEntry::manual(e.target.clone(), Duration::ZERO, "x", now).is_err());
        assert!(BlockEntry::manual(e.target, Duration::from_secs(5), "", now).is_err());
    }
}
