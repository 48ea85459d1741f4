//! The key of `scope = "ip"` limits: IPv4 whole, IPv6 cut to a prefix (one customer network
//! usually owns a whole /64, so per-address keys would let it rotate around the limit).

use std::net::{IpAddr, Ipv6Addr};

/// An IP address reduced to its rate-limit key, without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpKey {
    addr: IpAddr,
}

impl IpKey {
    /// IPv4-mapped IPv6 addresses count as IPv4.
    pub(crate) fn new(ip: IpAddr, ipv6_prefix_len: u8) -> Self {
        let addr = match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let bits = u32::from(ipv6_prefix_len.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
            v4 => v4,
        };
        Self { addr }
    }

    /// Octets: 4 for IPv4, 16 for IPv6 (the two never collide: the length differs).
    pub(crate) fn octets(&self) -> ([u8; 16], usize) {
        let mut buf = [0u8; 16];
        match self.addr {
            IpAddr::V4(v4) => {
                buf[..4].copy_from_slice(&v4.octets());
                (buf, 4)
            }
            IpAddr::V6(v6) => (v6.octets(), 16),
        }
    }

    /// Text form for Redis keys (`203.0.113.9`, `2001:db8:1:2::`).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn text(&self) -> String {
        self.addr.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_grouped_by_prefix_and_mapped_v4_is_v4() {
        let a = IpKey::new("2001:db8:1:2:aaaa::1".parse().unwrap(), 64);
        let b = IpKey::new("2001:db8:1:2:bbbb::2".parse().unwrap(), 64);
        let c = IpKey::new("2001:db8:1:3::1".parse().unwrap(), 64);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.text(), "2001:db8:1:2::");
        let full = IpKey::new("2001:db8::1".parse().unwrap(), 128);
        assert_eq!(full.text(), "2001:db8::1");
        assert_eq!(IpKey::new("2001:db8::1".parse().unwrap(), 0).text(), "::");
        let mapped = IpKey::new("::ffff:203.0.113.9".parse().unwrap(), 64);
        assert_eq!(mapped, IpKey::new("203.0.113.9".parse().unwrap(), 64));
        let (octets, len) = mapped.octets();
        assert_eq!(&octets[..len], &[203, 0, 113, 9]);
    }
}
