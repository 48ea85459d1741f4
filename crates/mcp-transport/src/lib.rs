//! Bytes in and out for MCP servers, with the transport-level protections on by default.
//!
//! - [`http`]: a hyper listener (HTTP/1.1 and HTTP/2) that enforces the Host and Origin
//!   allow-lists, CORS, the body-size limit, a connection cap, header-read / idle / request
//!   timeouts, and adds security headers to every response, then hands the collected body to an
//!   [`HttpHandler`]. `TCP_NODELAY` is set on every connection.
//! - [`Body`]: a response body that is either one buffer (one write) or a stream of SSE frames.
//! - [`stdio`]: newline-delimited JSON framing over stdin/stdout with a bounded line length.
//!
//! - [`tls`]: inbound TLS (1.3 minimum by default), mutual TLS with CRLs and a chain-depth limit,
//!   hot reload; [`outbound`]: the client TLS config with SPKI pinning.
//!
//! This crate knows nothing of MCP methods; `mcp-server` supplies the handler.

pub mod body;
mod config;
mod error;
mod guard;
pub mod http;
pub mod outbound;
pub mod stdio;
pub mod tls;

pub use body::{Body, SseSender};
pub use config::{CorsConfig, HttpConfig, SecurityHeaders};
pub use error::TransportError;
pub use http::{HttpHandler, IncomingRequest, Rejection, TlsInfo};
