use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::codes;
use crate::jsonrpc::{Message, Notification, Request, RequestId, Response};

/// Bounds the decoder enforces before and while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message in bytes.
    pub max_size: usize,
    /// Deepest accepted nesting of arrays and objects (the top-level object is depth 1).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_size: 16 * 1024 * 1024, max_depth: 64 }
    }
}

/// Why a message was refused. Every variant maps to one JSON-RPC code via [`DecodeError::code`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message is larger than [`Limits::max_size`].
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The message nests deeper than [`Limits::max_depth`].
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// Not valid JSON (or not UTF-8).
    Parse,
    /// A JSON array: MCP does not allow JSON-RPC batches.
    Batch,
    /// Valid JSON but not a JSON-RPC 2.0 message; the reason is static text.
    InvalidRequest(&'static str, Option<RequestId>),
}

impl DecodeError {
    /// The JSON-RPC error code for this error.
    pub fn code(&self) -> i64 {
        match self {
            Self::Parse => codes::PARSE_ERROR,
            Self::TooLarge { .. } | Self::TooDeep { .. } | Self::Batch | Self::InvalidRequest(..) => {
                codes::INVALID_REQUEST
            }
        }
    }

    /// The request id, when it could be read despite the error.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            Self::InvalidRequest(_, id) => id.as_ref(),
            _ => None,
        }
    }

    /// A short static message fit for the wire.
    pub fn message(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "Message too large",
            Self::TooDeep { .. } => "Message nested too deeply",
            Self::Parse => "Parse error",
            Self::Batch => "Invalid Request: JSON-RPC batches are not supported",
            Self::InvalidRequest(why, _) => why,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(f, "message larger than {limit} bytes"),
            Self::TooDeep { limit } => write!(f, "message nested deeper than {limit} levels"),
            other => f.write_str(other.message()),
        }
    }
}

impl std::error::Error for DecodeError {}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// Deserialize a field that is present, even when it is `null` (absent stays `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&'de RawValue>::deserialize(d).map(Some)
}

/// Scan the structure once, refusing excess depth before serde builds anything.
///
/// Outside strings the scan looks at every byte (JSON punctuation and numbers are short); a
/// string is skipped with a vectorised search for its closing quote or the next escape.
fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), DecodeError> {
    let mut depth = 0usize;
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            b'"' => loop {
                match memchr::memchr2(b'"', b'\\', bytes.get(i..).unwrap_or_default()) {
                    // An escape: skip it and the character it escapes.
                    Some(j) if bytes[i + j] == b'\\' => i += j + 2,
                    Some(j) => {
                        i += j + 1;
                        break;
                    }
                    None => return Ok(()),
                }
            },
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(DecodeError::TooDeep { limit: max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn parse_id(raw: &RawValue) -> Result<RequestId, ()> {
    let text = raw.get();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).map(RequestId::String).map_err(|_| ())
    } else {
        // Integers only: fractional ids are allowed by JSON-RPC but discouraged; MCP uses
        // strings or integers.
        text.parse::<i64>().map(RequestId::Number).map_err(|_| ())
    }
}

/// Decode one JSON-RPC message, enforcing `limits`.
///
/// Errors follow JSON-RPC: malformed JSON is [`DecodeError::Parse`] (-32700); a batch, a missing
/// `jsonrpc: "2.0"`, a `null` or non-scalar id, or a message that is neither request,
/// notification nor response is -32600.
///
/// ```
/// use mcp_protocol::{decode, DecodeError, Limits};
/// let limits = Limits { max_size: 1024, max_depth: 4 };
/// assert_eq!(decode(b"{", &limits).unwrap_err(), DecodeError::Parse);
/// assert_eq!(decode(b"[]", &limits).unwrap_err(), DecodeError::Batch);
/// assert!(matches!(decode(br#"{"a":[[[[1]]]]}"#, &limits), Err(DecodeError::TooDeep { .. })));
/// ```
pub fn decode<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Message<'a>, DecodeError> {
    if bytes.len() > limits.max_size {
        return Err(DecodeError::TooLarge { limit: limits.max_size });
    }
    check_depth(bytes, limits.max_depth)?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        // Distinguish a well-formed batch (-32600) from broken JSON (-32700).
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(DecodeError::Batch),
            Err(_) => Err(DecodeError::Parse),
        };
    }
    let env: Envelope<'a> = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DecodeError::InvalidRequest("Invalid Request", None),
        _ => DecodeError::Parse,
    })?;
    let id = match env.id {
        None => None,
        Some(raw) => match parse_id(raw) {
            Ok(id) => Some(id),
            Err(()) if raw.get() == "null" && env.error.is_some() => None,
            Err(()) => {
                return Err(DecodeError::InvalidRequest("Invalid Request: id must be a string or an integer", None));
            }
        },
    };
    if env.jsonrpc.as_deref() != Some(crate::JSONRPC_VERSION) {
        return Err(DecodeError::InvalidRequest("Invalid Request: jsonrpc must be \"2.0\"", id));
    }
    if env.params.as_ref().is_some_and(|p| !matches!(p, Value::Object(_) | Value::Array(_))) {
        return Err(DecodeError::InvalidRequest("Invalid Request: params must be an object", id));
    }
    match (env.method, id, env.result, env.error) {
        (Some(method), Some(id), None, None) => Ok(Message::Request(Request { id, method, params: env.params })),
        (Some(method), None, None, None) => Ok(Message::Notification(Notification { method, params: env.params })),
        (None, Some(id), Some(result), None) => Ok(Message::Response(Response { id, outcome: Ok(result) })),
        (None, Some(id), None, Some(error)) => Ok(Message::Response(Response { id, outcome: Err(error) })),
        (None, None, None, Some(_)) => {
            Err(DecodeError::InvalidRequest("Invalid Request: error response without id", None))
        }
        (_, id, _, _) => Err(DecodeError::InvalidRequest("Invalid Request", id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> Limits {
        Limits { max_size: 256, max_depth: 8 }
    }

    #[test]
    fn request_notification_response() {
        let m = decode(br#"{"jsonrpc":"2.0","id":"a","method":"ping","params":{}}"#, &lim()).unwrap();
        assert!(matches!(m, Message::Request(Request { id: RequestId::String(ref s), .. }) if s == "a"));
        let m = decode(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#, &lim()).unwrap();
        assert!(matches!(m, Message::Notification(_)));
        let m = decode(br#"{"jsonrpc":"2.0","id":3,"result":{"x":1}}"#, &lim()).unwrap();
        assert!(matches!(m, Message::Response(Response { outcome: Ok(_), .. })));
        let m = decode(br#"{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"m"}}"#, &lim()).unwrap();
        assert!(matches!(m, Message::Response(Response { outcome: Err(_), .. })));
    }

    #[test]
    fn escaped_method_is_owned() {
        let m = decode(br#"{"jsonrpc":"2.0","id":1,"method":"tools\/list"}"#, &lim()).unwrap();
        assert_eq!(m.method(), Some("tools/list"));
    }

    #[test]
    fn refuses_bad_envelopes() {
        let cases: &[(&[u8], i64)] = &[
            (b"", codes::PARSE_ERROR),
            (b"{\"jsonrpc\":", codes::PARSE_ERROR),
            (b"\xff\xfe", codes::PARSE_ERROR),
            (b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", codes::INVALID_REQUEST),
            (b"[1,", codes::PARSE_ERROR),
            (b"{\"id\":1,\"method\":\"ping\"}", codes::INVALID_REQUEST),
            (b"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", codes::INVALID_REQUEST),
            (b"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", codes::INVALID_REQUEST),
            (b"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", codes::INVALID_REQUEST),
            (b"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", codes::INVALID_REQUEST),
            (b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", codes::INVALID_REQUEST),
            (b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\",\"params\":3}", codes::INVALID_REQUEST),
            (b"{\"jsonrpc\":\"2.0\",\"id\":1}", codes::INVALID_REQUEST),
            (b"42", codes::INVALID_REQUEST),
            (b"\"x\"", codes::INVALID_REQUEST),
        ];
        for (input, code) in cases {
            let err = decode(input, &lim()).unwrap_err();
            assert_eq!(err.code(), *code, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn params_are_parsed_with_the_envelope() {
        let m = decode(br#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":[1,"x"]}}"#, &lim()).unwrap();
        let Message::Request(r) = m else { panic!("not a request") };
        assert_eq!(r.params, Some(serde_json::json!({"a": [1, "x"]})));
        let m = decode(br#"{"jsonrpc":"2.0","method":"n","params":null}"#, &lim()).unwrap();
        assert!(matches!(m, Message::Notification(Notification { params: None, .. })));
    }

    #[test]
    fn depth_scan_skips_strings_and_escapes() {
        // Escaped quotes and backslashes inside strings never end the string early.
        let s = br#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"k":"a\\\"[[[[[[[[[[\\"}}"#;
        assert!(decode(s, &lim()).is_ok());
        // A string cut inside an escape, or never closed, is a parse error, not a panic.
        for s in [&br#"{"a":"\"#[..], br#"{"a":"abc"#, br#"{"a":"\u00"#] {
            assert_eq!(decode(s, &lim()).unwrap_err(), DecodeError::Parse);
        }
        // Depth counts only structure: 8 levels pass, 9 are refused.
        let ok = format!("{}{}", "[".repeat(8), "]".repeat(8));
        assert!(!matches!(decode(ok.as_bytes(), &lim()), Err(DecodeError::TooDeep { .. })));
        let deep = format!("{{\"s\":\"]]]]\",\"a\":{}{}}}", "[".repeat(8), "]".repeat(8));
        assert_eq!(decode(deep.as_bytes(), &lim()).unwrap_err(), DecodeError::TooDeep { limit: 8 });
    }

    #[test]
    fn keeps_id_when_envelope_is_bad() {
        let err = decode(br#"{"jsonrpc":"1.0","id":9,"method":"ping"}"#, &lim()).unwrap_err();
        assert_eq!(err.request_id(), Some(&RequestId::Number(9)));
    }

    #[test]
    fn limits_are_enforced() {
        let big = vec![b' '; 300];
        assert_eq!(decode(&big, &lim()).unwrap_err(), DecodeError::TooLarge { limit: 256 });
        let deep = format!("{}{}", "[".repeat(9), "]".repeat(9));
        assert_eq!(decode(deep.as_bytes(), &lim()).unwrap_err(), DecodeError::TooDeep { limit: 8 });
        // Brackets inside strings do not count.
        let s = br#"{"jsonrpc":"2.0","id":1,"method":"[[[[[[[[[[[[["}"#;
        assert!(decode(s, &lim()).is_ok());
        let s = br#"{"jsonrpc":"2.0","id":1,"method":"a\"[[[[[[[[[[[[["}"#;
        assert!(decode(s, &lim()).is_ok());
    }
}
