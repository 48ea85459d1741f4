//! JSON-RPC 2.0 and Model Context Protocol (MCP) wire types.
//!
//! This crate does no IO. It offers:
//! - [`ProtocolVersion`]: every MCP revision the workspace speaks, and which era it belongs to;
//! - [`decode`]: a bounded decoder that enforces a size and a nesting-depth limit while parsing and
//!   reads the envelope and the params in one pass (the method borrows from the input; the
//!   response payloads stay [`serde_json::value::RawValue`]s);
//! - [`codes`]: the JSON-RPC and MCP error codes, in one place;
//! - [`types`]: the MCP result and content types a server sends.
//!
//! ```
//! use mcp_protocol::{decode, Limits, Message};
//! let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
//! let msg = decode(body, &Limits::default()).unwrap();
//! match msg {
//!     Message::Request(req) => assert_eq!(req.method, "tools/list"),
//!     _ => unreachable!(),
//! }
//! ```

pub mod codes;
mod decode;
mod jsonrpc;
pub mod types;
mod version;

pub use decode::{DecodeError, Limits, decode};
pub use jsonrpc::{ErrorObject, Message, Notification, Request, RequestId, Response, encode_error, encode_result};
pub use version::{Era, ProtocolVersion, UnsupportedVersion};

/// The JSON-RPC version string every message carries.
pub const JSONRPC_VERSION: &str = "2.0";
