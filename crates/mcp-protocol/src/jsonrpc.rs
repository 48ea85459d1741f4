use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// A JSON-RPC request id: a number or a string. `null` is not accepted for requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// Integer id.
    Number(i64),
    /// String id.
    String(String),
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A request borrowed from the decoded body.
#[derive(Debug)]
pub struct Request<'a> {
    /// The request id.
    pub id: RequestId,
    /// The method name.
    pub method: Cow<'a, str>,
    /// Parameters (an object or an array), parsed in the same pass as the envelope.
    pub params: Option<Value>,
}

/// A notification (a request without an id).
#[derive(Debug)]
pub struct Notification<'a> {
    /// The method name.
    pub method: Cow<'a, str>,
    /// Parameters (an object or an array).
    pub params: Option<Value>,
}

/// A response sent by the peer (answers a server-to-client request).
#[derive(Debug)]
pub struct Response<'a> {
    /// The id of the request this answers.
    pub id: RequestId,
    /// `Ok(result)` or `Err(error)`, undecoded.
    pub outcome: Result<&'a RawValue, &'a RawValue>,
}

/// One decoded JSON-RPC message.
#[derive(Debug)]
pub enum Message<'a> {
    /// A request that expects a response.
    Request(Request<'a>),
    /// A notification.
    Notification(Notification<'a>),
    /// A response to a request we sent.
    Response(Response<'a>),
}

impl Message<'_> {
    /// The method name, for requests and notifications.
    pub fn method(&self) -> Option<&str> {
        match self {
            Self::Request(r) => Some(&r.method),
            Self::Notification(n) => Some(&n.method),
            Self::Response(_) => None,
        }
    }
}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// Error code, see [`crate::codes`].
    pub code: i64,
    /// Short, static message. Never carries internal text or secrets.
    pub message: Cow<'static, str>,
    /// Optional structured data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl ErrorObject {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<Cow<'static, str>>) -> Self {
        Self { code, message: message.into(), data: None }
    }

    /// Attach structured data.
    #[must_use]
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

#[derive(Serialize)]
struct ResultEnvelope<'a, T: Serialize + ?Sized> {
    jsonrpc: &'static str,
    id: Option<&'a RequestId>,
    result: &'a T,
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RequestId>,
    error: &'a ErrorObject,
}

/// Serialize a success response in one allocation.
///
/// ```
/// use mcp_protocol::{encode_result, RequestId};
/// let bytes = encode_result(&RequestId::Number(7), &serde_json::json!({}));
/// assert_eq!(bytes, br#"{"jsonrpc":"2.0","id":7,"result":{}}"#);
/// ```
pub fn encode_result<T: Serialize + ?Sized>(id: &RequestId, result: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let env = ResultEnvelope { jsonrpc: crate::JSONRPC_VERSION, id: Some(id), result };
    // Serializing our own types into a Vec cannot fail except on non-string map keys, which
    // the MCP types never use; fall back to an internal error object to stay total.
    if serde_json::to_writer(&mut out, &env).is_err() {
        return encode_error(Some(id), &ErrorObject::new(crate::codes::INTERNAL_ERROR, "Internal error"));
    }
    out
}

/// Serialize an error response. `id` is `None` when the request id could not be read.
pub fn encode_error(id: Option<&RequestId>, error: &ErrorObject) -> Vec<u8> {
    let env = ErrorEnvelope { jsonrpc: crate::JSONRPC_VERSION, id, error };
    serde_json::to_vec(&env).unwrap_or_else(|_| {
        br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}"#.to_vec()
    })
}
