//! A canonical JSON form, so equal values hash equal whatever their key order or spacing.
//!
//! Objects are written with keys sorted by their UTF-16 code units (as RFC 8785 does), no
//! whitespace, strings escaped the way `serde_json` escapes them, numbers as `serde_json` prints
//! them. Integers and floats keep their JSON form (`1` and `1.0` stay different).

use serde_json::Value;

/// Append the canonical form of `value` to `out`.
///
/// ```
/// use serde_json::json;
/// let mut a = Vec::new();
/// let mut b = Vec::new();
/// mcp_core::canonical_json(&json!({"b": 1, "a": [true, null]}), &mut a);
/// mcp_core::canonical_json(&json!({"a": [true, null], "b": 1}), &mut b);
/// assert_eq!(a, b);
/// assert_eq!(a, br#"{"a":[true,null],"b":1}"#);
/// ```
pub fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (key, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                canonical_json(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(v, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        // Null, booleans and numbers: serde_json's compact form is already canonical.
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // Serializing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        let mut out = Vec::new();
        canonical_json(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn nested_objects_are_sorted_and_compact() {
        let v: Value = serde_json::from_str(r#"{ "z": {"y": 1, "x": [ {"b":2,"a":1} ]}, "a": "\u00e9\n" }"#).unwrap();
        assert_eq!(canon(&v), "{\"a\":\"\u{e9}\\n\",\"z\":{\"x\":[{\"a\":1,\"b\":2}],\"y\":1}}");
    }

    #[test]
    fn keys_sort_by_utf16_units() {
        // U+E000 sorts before U+1F600 in UTF-16 (0xE000 < 0xD83D is false), so check the order.
        let v = json!({"\u{1F600}": 1, "\u{E000}": 2});
        assert_eq!(canon(&v), "{\"\u{1F600}\":1,\"\u{E000}\":2}");
    }
}
