//! MIME type allowlist with `type/*` and `*/*` wildcards.

/// The default `allowed_mime_types`: text of any kind, the raster image and audio formats MCP
/// clients display, and structured text. Deliberately absent: `image/svg+xml` (can carry
/// script), `application/octet-stream` and executables.
pub const DEFAULT_ALLOWED_MIME_TYPES: &[&str] = &[
    "text/*",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "audio/wav",
    "audio/x-wav",
    "audio/wave",
    "audio/mpeg",
    "audio/ogg",
    "audio/webm",
    "audio/flac",
    "application/json",
    "application/xml",
    "application/yaml",
    "application/pdf",
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Any,
    Type(String),
    Exact(String, String),
}

/// A compiled allowlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MimeAllowlist {
    patterns: Vec<Pattern>,
}

impl MimeAllowlist {
    /// An allowlist that allows nothing.
    pub(crate) fn empty() -> Self {
        Self { patterns: Vec::new() }
    }

    /// Parses `type/subtype`, `type/*` or `*/*` entries (case-insensitive).
    pub(crate) fn new<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut patterns = Vec::with_capacity(entries.len());
        for entry in entries {
            let entry = entry.as_ref().trim().to_ascii_lowercase();
            let pattern = match split(&entry) {
                Some(("*", "*")) => Pattern::Any,
                Some((t, "*")) if t != "*" => Pattern::Type(t.to_owned()),
                Some((t, s)) if t != "*" && s != "*" => Pattern::Exact(t.to_owned(), s.to_owned()),
                _ => {
                    return Err(format!("allowed_mime_types entry {entry:?} is not 'type/subtype', 'type/*' or '*/*'"));
                }
            };
            patterns.push(pattern);
        }
        Ok(Self { patterns })
    }

    /// Whether `mime` (parameters after `;` ignored, case-insensitive) is allowed. A value that
    /// is not a well-formed `type/subtype` is never allowed.
    pub(crate) fn allows(&self, mime: &str) -> bool {
        let essence = mime.split(';').next().unwrap_or("").trim();
        let Some((t, s)) = split(essence) else { return false };
        if t == "*" || s == "*" {
            return false;
        }
        self.patterns.iter().any(|p| match p {
            Pattern::Any => true,
            Pattern::Type(pt) => pt.eq_ignore_ascii_case(t),
            Pattern::Exact(pt, ps) => pt.eq_ignore_ascii_case(t) && ps.eq_ignore_ascii_case(s),
        })
    }
}

/// `type/subtype` with RFC 6838 restricted-name characters on both sides (plus `*`).
fn split(essence: &str) -> Option<(&str, &str)> {
    let (t, s) = essence.split_once('/')?;
    let ok = |part: &str| {
        !part.is_empty()
            && part.len() <= 127
            && (part == "*" || part.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b)))
    };
    (ok(t) && ok(s)).then_some((t, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_parameters() {
        let list = MimeAllowlist::new(&["text/*", "image/png"]).unwrap();
        assert!(list.allows("text/plain"));
        assert!(list.allows("TEXT/Markdown; charset=utf-8"));
        assert!(list.allows("image/png"));
        assert!(!list.allows("image/svg+xml"));
        assert!(!list.allows("application/json"));
        assert!(!list.allows("text"));
        assert!(!list.allows("text/"));
        assert!(!list.allows("text/*"));
        assert!(!list.allows("text/pl ain"));
        assert!(!list.allows(""));
    }

    #[test]
    fn any_and_bad_entries() {
        let any = MimeAllowlist::new(&["*/*"]).unwrap();
        assert!(any.allows("application/x-msdownload"));
        assert!(!any.allows("nonsense"));
        assert!(MimeAllowlist::new(&["image"]).is_err());
        assert!(MimeAllowlist::new(&["*/png"]).is_err());
        assert!(MimeAllowlist::new(&["a b/c"]).is_err());
        let defaults = MimeAllowlist::new(DEFAULT_ALLOWED_MIME_TYPES).unwrap();
        assert!(defaults.allows("image/jpeg"));
        assert!(!defaults.allows("image/svg+xml"));
    }
}
