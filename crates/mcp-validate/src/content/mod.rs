//! Size, MIME type and encoding rules for MCP content: tool results, resource contents,
//! prompt messages, and content blocks arriving in requests.
//!
//! A violation is an error, never a silent truncation.
//!
//! ```
//! use mcp_validate::content::{ContentConfig, ContentRules};
//! use serde_json::json;
//!
//! let rules = ContentRules::new(&ContentConfig { max_binary_size: 4, ..ContentConfig::default() }).unwrap();
//! let ok = json!({"content": [{"type": "image", "mimeType": "image/png", "data": "AAECAw=="}]});
//! assert!(rules.check_tool_result(&ok).is_ok());
//! let big = json!({"content": [{"type": "image", "mimeType": "image/png", "data": "AAECAwQ="}]});
//! let v = rules.check_tool_result(&big).unwrap_err();
//! assert_eq!((v.rule, v.pointer.as_str(), v.limit, v.actual), ("max_binary_size", "/content/0/data", Some(4), Some(5)));
//! ```

mod base64;
mod blocks;
mod mime;

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::error::ValidateError;
use mime::MimeAllowlist;

pub use base64::{Base64Error, decoded_len, decoded_len_from_length};
pub use blocks::MAX_REQUEST_DEPTH;
pub use mime::DEFAULT_ALLOWED_MIME_TYPES;

/// `[content_validation]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    /// Longest text (bytes, UTF-8) in a text block, an embedded or read text resource, and
    /// the serialized `structuredContent` of a tool result (default 1 MiB).
    pub max_text_length: usize,
    /// Largest binary payload (bytes after base64 decoding) in an image, audio or blob
    /// (default 10 MiB).
    pub max_binary_size: usize,
    /// MIME types allowed in content: `type/subtype`, `type/*`, or `*/*` for all (default
    /// [`DEFAULT_ALLOWED_MIME_TYPES`]).
    pub allowed_mime_types: Vec<String>,
}

impl Default for ContentConfig {
    fn default() -> Self {
        Self {
            max_text_length: 1 << 20,
            max_binary_size: 10 << 20,
            allowed_mime_types: DEFAULT_ALLOWED_MIME_TYPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// One content rule broken. Carries the place, the rule and the numbers, never the content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ContentViolation {
    /// JSON pointer into the checked value (at most 200 bytes).
    pub pointer: String,
    /// `max_text_length`, `max_binary_size`, `mime_type`, `base64`, `content_type` (unknown
    /// block type), `malformed` (a field of the wrong JSON type) or `max_depth`.
    pub rule: &'static str,
    /// The limit, for size and depth rules.
    pub limit: Option<u64>,
    /// The measured size or depth, for size and depth rules.
    pub actual: Option<u64>,
    /// The refused MIME type (at most 100 bytes) or what is malformed.
    pub detail: Option<String>,
}

impl fmt::Display for ContentViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "content at '{}' violates {}", self.pointer, self.rule)?;
        if let (Some(limit), Some(actual)) = (self.limit, self.actual) {
            write!(f, ": {actual} exceeds {limit}")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl ContentViolation {
    /// The rule for a `ValidationFail` security event: `content:<rule>`.
    pub fn event_rule(&self) -> Arc<str> {
        Arc::from(format!("content:{}", self.rule))
    }
}

/// Compiled `[content_validation]` rules.
#[derive(Clone, Debug)]
pub struct ContentRules {
    max_text: u64,
    max_binary: u64,
    mimes: MimeAllowlist,
}

impl Default for ContentRules {
    /// The rules of [`ContentConfig::default`].
    fn default() -> Self {
        // The default list is valid (tested); an allowlist that failed to parse would deny all.
        Self::new(&ContentConfig::default()).unwrap_or(Self {
            max_text: 1 << 20,
            max_binary: 10 << 20,
            mimes: MimeAllowlist::empty(),
        })
    }
}

impl ContentRules {
    /// Compiles `config`.
    ///
    /// # Errors
    /// [`ValidateError::Config`] for an `allowed_mime_types` entry that is not `type/subtype`,
    /// `type/*` or `*/*`.
    pub fn new(config: &ContentConfig) -> Result<Self, ValidateError> {
        let mimes = MimeAllowlist::new(&config.allowed_mime_types)
            .map_err(|message| ValidateError::Config { section: "content_validation", message })?;
        Ok(Self { max_text: config.max_text_length as u64, max_binary: config.max_binary_size as u64, mimes })
    }

    /// Whether `mime` is in the allowlist (parameters ignored, case-insensitive).
    pub fn mime_allowed(&self, mime: &str) -> bool {
        self.mimes.allows(mime)
    }
}
