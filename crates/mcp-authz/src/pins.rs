//! Tool-definition pinning: a SHA-256 over the canonical JSON of a tool's name, description and
//! schemas, and a registry that notices when a registered definition changes (the server emits
//! a `ToolDefinitionChanged` security event).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// SHA-256 of the canonical JSON ([`mcp_core::canonical_json`]) of
/// `{"name", "description"?, "inputSchema", "outputSchema"?}` — absent optional fields are left
/// out, so "no description" and an empty description hash differently.
///
/// ```
/// use serde_json::json;
/// let a = mcp_authz::tool_definition_hash("calc", Some("adds"), &json!({"type": "object", "required": []}), None);
/// let b = mcp_authz::tool_definition_hash("calc", Some("adds"), &json!({"required": [], "type": "object"}), None);
/// assert_eq!(a, b); // key order does not matter
/// assert_eq!(mcp_authz::hex(&a).len(), 64);
/// ```
pub fn tool_definition_hash(
    name: &str,
    description: Option<&str>,
    input_schema: &Value,
    output_schema: Option<&Value>,
) -> [u8; 32] {
    let mut obj = Map::new();
    obj.insert("name".into(), Value::String(name.into()));
    if let Some(d) = description {
        obj.insert("description".into(), Value::String(d.into()));
    }
    obj.insert("inputSchema".into(), input_schema.clone());
    if let Some(o) = output_schema {
        obj.insert("outputSchema".into(), o.clone());
    }
    let mut bytes = Vec::new();
    mcp_core::canonical_json(&Value::Object(obj), &mut bytes);
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// How a tool's definition compares with its pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinChange {
    /// Same hash as pinned.
    Unchanged,
    /// Never pinned.
    New,
    /// Pinned with another hash.
    Changed {
        /// The pinned hash.
        old: [u8; 32],
        /// The hash presented now.
        new: [u8; 32],
    },
}

/// Pinned tool-definition hashes by tool name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolPins {
    pins: BTreeMap<String, [u8; 32]>,
}

impl ToolPins {
    /// No pins.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pin `name` to `hash` (replacing any earlier pin).
    pub fn pin(&mut self, name: impl Into<String>, hash: [u8; 32]) {
        self.pins.insert(name.into(), hash);
    }

    /// Compare `hash` with the pin of `name`, without changing anything.
    pub fn check(&self, name: &str, hash: &[u8; 32]) -> PinChange {
        match self.pins.get(name) {
            None => PinChange::New,
            Some(old) if old == hash => PinChange::Unchanged,
            Some(old) => PinChange::Changed { old: *old, new: *hash },
        }
    }

    /// [`ToolPins::check`], then pin `hash`.
    pub fn update(&mut self, name: &str, hash: [u8; 32]) -> PinChange {
        let change = self.check(name, &hash);
        if change != PinChange::Unchanged {
            self.pin(name, hash);
        }
        change
    }

    /// The pin of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8; 32]> {
        self.pins.get(name)
    }

    /// Forget the pin of `name`; true when there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        self.pins.remove(name).is_some()
    }

    /// Every pin, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8; 32])> {
        self.pins.iter().map(|(n, h)| (n.as_str(), h))
    }

    /// Number of pins.
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// True when nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_covers_every_field() {
        let schema = json!({"type": "object"});
        let base = tool_definition_hash("t", Some("d"), &schema, None);
        assert_ne!(base, tool_definition_hash("u", Some("d"), &schema, None));
        assert_ne!(base, tool_definition_hash("t", Some("e"), &schema, None));
        assert_ne!(base, tool_definition_hash("t", None, &schema, None));
        assert_ne!(base, tool_definition_hash("t", Some(""), &schema, None));
        assert_ne!(base, tool_definition_hash("t", Some("d"), &json!({"type": "string"}), None));
        assert_ne!(base, tool_definition_hash("t", Some("d"), &schema, Some(&schema)));
        // Known answer: SHA-256 of {"inputSchema":{},"name":"x"}.
        let h = tool_definition_hash("x", None, &json!({}), None);
        let expected = ring::digest::digest(&ring::digest::SHA256, br#"{"inputSchema":{},"name":"x"}"#);
        assert_eq!(&h[..], expected.as_ref());
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }

    #[test]
    fn pins_report_new_unchanged_changed() {
        let mut pins = ToolPins::new();
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(pins.check("t", &a), PinChange::New);
        assert_eq!(pins.update("t", a), PinChange::New);
        assert_eq!(pins.check("t", &a), PinChange::Unchanged);
        assert_eq!(pins.update("t", b), PinChange::Changed { old: a, new: b });
        assert_eq!(pins.get("t"), Some(&b));
        assert_eq!(pins.len(), 1);
        assert_eq!(pins.iter().next().map(|(n, _)| n), Some("t"));
        assert!(pins.remove("t") && pins.is_empty());
    }
}
