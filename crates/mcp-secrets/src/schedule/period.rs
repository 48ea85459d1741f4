//! [`Period`]: how `every` is written in `[[secrets.rotation]]`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::error::SecretsError;

/// A rotation period written as a number and a unit, or several (`"90s"`, `"15m"`, `"12h"`,
/// `"30d"`, `"2w"`, `"1d12h"`).
///
/// ```
/// use mcp_secrets::schedule::Period;
/// let p: Period = "1d12h".parse().unwrap();
/// assert_eq!(p.as_duration().as_secs(), 36 * 3600);
/// assert_eq!(p.to_string(), "129600s");
/// assert!("30".parse::<Period>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period(Duration);

impl Period {
    /// Wrap a duration.
    pub fn new(d: Duration) -> Self {
        Self(d)
    }

    /// The duration.
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl FromStr for Period {
    type Err = SecretsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            SecretsError::Config(format!(
                "rotation period {:?} must be numbers with units s, m, h, d or w, such as \"30d\" or \"1d12h\"",
                s.chars().take(64).collect::<String>()
            ))
        };
        let mut total: u64 = 0;
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let n: u64 = rest.get(..digits).and_then(|d| d.parse().ok()).ok_or_else(bad)?;
            let unit = match rest.as_bytes().get(digits) {
                Some(b's') => 1,
                Some(b'm') => 60,
                Some(b'h') => 3600,
                Some(b'd') => 86_400,
                Some(b'w') => 7 * 86_400,
                _ => return Err(bad()),
            };
            total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
            rest = &rest[digits + 1..];
        }
        Ok(Self(Duration::from_secs(total)))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0.as_secs())
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
