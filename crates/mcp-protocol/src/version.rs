use std::fmt;

/// An MCP protocol revision this workspace implements.
///
/// ```
/// use mcp_protocol::{Era, ProtocolVersion};
/// let v: ProtocolVersion = "2025-06-18".parse().unwrap();
/// assert_eq!(v.era(), Era::Legacy);
/// assert_eq!(ProtocolVersion::LATEST.era(), Era::Modern);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// 2025-03-26: first Streamable HTTP revision.
    V2025_03_26,
    /// 2025-06-18: structured tool output, elicitation.
    V2025_06_18,
    /// 2025-11-25: last revision with `initialize` and sessions.
    V2025_11_25,
    /// 2026-07-28: stateless, per-request version, mirrored headers, `server/discover`.
    V2026_07_28,
}

/// The two families of revisions, which differ in connection model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Era {
    /// `initialize` handshake, capability negotiation, `Mcp-Session-Id` sessions.
    Legacy,
    /// No handshake and no sessions: every request names its revision.
    Modern,
}

/// A version string that is not one of [`ProtocolVersion::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedVersion;

impl fmt::Display for UnsupportedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unsupported MCP protocol version")
    }
}

impl std::error::Error for UnsupportedVersion {}

impl ProtocolVersion {
    /// Newest revision.
    pub const LATEST: Self = Self::V2026_07_28;
    /// Newest revision of the legacy (session) era.
    pub const LATEST_LEGACY: Self = Self::V2025_11_25;
    /// Every supported revision, newest first.
    pub const ALL: [Self; 4] = [Self::V2026_07_28, Self::V2025_11_25, Self::V2025_06_18, Self::V2025_03_26];

    /// The wire form, e.g. `"2025-06-18"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// Which connection model the revision uses.
    pub const fn era(self) -> Era {
        match self {
            Self::V2026_07_28 => Era::Modern,
            _ => Era::Legacy,
        }
    }

    /// Wire forms of all supported revisions, newest first.
    pub fn supported_strs() -> [&'static str; 4] {
        Self::ALL.map(Self::as_str)
    }

    /// Supported revisions of the legacy era, newest first.
    pub fn legacy() -> impl Iterator<Item = Self> {
        Self::ALL.into_iter().filter(|v| v.era() == Era::Legacy)
    }
}

impl std::str::FromStr for ProtocolVersion {
    type Err = UnsupportedVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or(UnsupportedVersion)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_version() {
        for v in ProtocolVersion::ALL {
            assert_eq!(v.as_str().parse::<ProtocolVersion>(), Ok(v));
        }
        assert!("2024-11-05".parse::<ProtocolVersion>().is_err());
        assert_eq!(ProtocolVersion::legacy().count(), 3);
    }
}
