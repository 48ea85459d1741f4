//! Claim paths: where in a token's claims a value lives.
//!
//! A path is a claim name, or names joined by `.` to reach into nested objects:
//! `roles`, `realm_access.roles`, `resource_access.mcp.roles`. A `.` that is part of a name is
//! written `\.` and a backslash `\\`, so the Auth0-style namespaced claim
//! `https://example.com/roles` is the path `https://example\.com/roles` (a TOML literal string
//! `'…'` keeps the backslashes as typed). Any other `\` is a configuration error, so a path
//! never means something other than what it looks like.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Most segments in one path.
pub(crate) const MAX_SEGMENTS: usize = 8;
/// Longest path text, bytes.
pub(crate) const MAX_PATH_LEN: usize = 256;
/// Most paths in one setting.
pub(crate) const MAX_PATHS: usize = 16;

/// One or more claim paths, as written in the config: a single string (`roles = "roles"`) or a
/// list (`roles = ["realm_access.roles", "resource_access.mcp.roles"]`), at most 16.
///
/// A path is a claim name, or names joined by `.` to reach into nested objects. `\.` is a dot
/// inside a name and `\\` a backslash (`'https://example\.com/roles'` names the top-level claim
/// `https://example.com/roles`); any other backslash, an empty segment, more than 8 segments or
/// more than 256 bytes is refused when the authenticator is built
/// ([`crate::AuthConfig::validate`] checks it too).
///
/// ```
/// use mcp_auth::ClaimPaths;
///
/// let one: ClaimPaths = "roles".into();
/// assert_eq!(one, "roles");
/// let many = ClaimPaths::new(["realm_access.roles", "groups"]);
/// assert_eq!(many.paths().len(), 2);
/// assert!(ClaimPaths::none().is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClaimPaths(Vec<String>);

impl ClaimPaths {
    /// Paths from an iterator of strings.
    pub fn new<I, S>(paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(paths.into_iter().map(Into::into).collect())
    }

    /// No path: the setting takes nothing from tokens.
    pub const fn none() -> Self {
        Self(Vec::new())
    }

    /// The paths as configured.
    pub fn paths(&self) -> &[String] {
        &self.0
    }

    /// True when no path is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for ClaimPaths {
    fn from(path: &str) -> Self {
        Self(vec![path.to_owned()])
    }
}

impl From<String> for ClaimPaths {
    fn from(path: String) -> Self {
        Self(vec![path])
    }
}

impl From<Vec<String>> for ClaimPaths {
    fn from(paths: Vec<String>) -> Self {
        Self(paths)
    }
}

/// Equal when this is exactly the one path `other` (the pre-list single-string form).
impl PartialEq<str> for ClaimPaths {
    fn eq(&self, other: &str) -> bool {
        matches!(self.0.as_slice(), [only] if only == other)
    }
}

impl PartialEq<&str> for ClaimPaths {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl fmt::Display for ClaimPaths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

impl Serialize for ClaimPaths {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ClaimPaths {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ClaimPaths;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim path or a list of claim paths")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ClaimPaths::from(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(p) = seq.next_element::<String>()? {
                    if out.len() >= MAX_PATHS {
                        return Err(de::Error::custom(format!("at most {MAX_PATHS} claim paths")));
                    }
                    out.push(p);
                }
                Ok(ClaimPaths(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A parsed path: its segments, unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClaimPath {
    text: Box<str>,
    segments: Box<[Box<str>]>,
}

impl ClaimPath {
    /// Parse `text`: split at unescaped dots; `\.` and `\\` are the only escapes; no empty
    /// segment, no control character, at most [`MAX_SEGMENTS`] segments and [`MAX_PATH_LEN`]
    /// bytes.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("empty claim path".into());
        }
        if text.len() > MAX_PATH_LEN {
            return Err(format!("claim path longer than {MAX_PATH_LEN} bytes"));
        }
        if text.chars().any(char::is_control) {
            return Err(format!("claim path {text:?} has a control character"));
        }
        let mut segments = Vec::new();
        let mut cur = String::new();
        let mut chars = text.chars();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => match chars.next() {
                    Some(e @ ('.' | '\\')) => cur.push(e),
                    _ => return Err(format!("claim path {text:?}: only `\\.` and `\\\\` are escapes")),
                },
                '.' => segments.push(std::mem::take(&mut cur).into_boxed_str()),
                c => cur.push(c),
            }
        }
        segments.push(cur.into_boxed_str());
        if segments.iter().any(|s| s.is_empty()) {
            return Err(format!("claim path {text:?} has an empty segment"));
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(format!("claim path {text:?} is deeper than {MAX_SEGMENTS} levels"));
        }
        Ok(Self { text: text.into(), segments: segments.into_boxed_slice() })
    }

    /// Top-level claim name first, then one member name per nesting level.
    pub(crate) fn segments(&self) -> &[Box<str>] {
        &self.segments
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        ClaimPath::parse(p).unwrap().segments().iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn paths_split_at_unescaped_dots() {
        assert_eq!(segs("roles"), ["roles"]);
        assert_eq!(segs("realm_access.roles"), ["realm_access", "roles"]);
        assert_eq!(segs("resource_access.mcp-server.roles"), ["resource_access", "mcp-server", "roles"]);
        assert_eq!(segs(r"https://example\.com/roles"), ["https://example.com/roles"]);
        assert_eq!(segs(r"a\\.b"), [r"a\", "b"]);
        assert_eq!(ClaimPath::parse(r"https://example\.com/roles").unwrap().to_string(), r"https://example\.com/roles");
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in ["", ".roles", "roles.", "a..b", r"a\b", "a\\", "a\u{7}b", "a.b.c.d.e.f.g.h.i"] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ClaimPath::parse(&"x".repeat(MAX_PATH_LEN + 1)).is_err());
        assert!(ClaimPath::parse("a.b.c.d.e.f.g.h").is_ok(), "eight levels are allowed");
    }

    #[derive(Deserialize)]
    struct T {
        p: ClaimPaths,
    }

    #[test]
    fn string_or_list_in_toml() {
        let t: T = toml::from_str("p = \"roles\"").unwrap();
        assert_eq!(t.p, "roles");
        let t: T = toml::from_str("p = [\"realm_access.roles\", 'https://x\\.io/roles']").unwrap();
        assert_eq!(t.p.paths(), ["realm_access.roles", r"https://x\.io/roles"]);
        let t: T = toml::from_str("p = []").unwrap();
        assert!(t.p.is_empty());
        assert!(toml::from_str::<T>("p = 3").is_err());
        assert!(toml::from_str::<T>("p = [1]").is_err());
        let many = format!("p = [{}]", vec!["\"a\""; MAX_PATHS + 1].join(","));
        assert!(toml::from_str::<T>(&many).is_err());
        assert_eq!(ClaimPaths::new(["a", "b"]).to_string(), "a, b");
        assert_ne!(ClaimPaths::new(["a", "b"]), "a");
    }
}
