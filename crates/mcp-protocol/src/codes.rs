//! JSON-RPC 2.0 and MCP error codes used on the wire.
//!
//! Codes of our own live in `-32099..=-32050`, a slice of the JSON-RPC server-error range that
//! MCP does not use.

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object (includes batches, which MCP forbids).
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// MCP: the resource named does not exist.
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// MCP 2026-07-28: a mirrored `Mcp-*` header disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// MCP 2026-07-28: the request needs a client capability the client did not declare
/// (`data.requiredCapabilities`).
pub const MISSING_CLIENT_CAPABILITY: i64 = -32021;
/// MCP 2026-07-28: the requested protocol revision is not supported (`data.supported`,
/// `data.requested`).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// MCP: the request needs a URL-mode elicitation first.
pub const URL_ELICITATION_REQUIRED: i64 = -32042;

/// Own code: the request was rejected by a security control (generic, no detail).
pub const SECURITY_REJECTED: i64 = -32050;
/// Own code: the request took longer than the configured limit.
pub const REQUEST_TIMEOUT: i64 = -32051;
/// Own code: the server is at a configured capacity limit.
pub const CAPACITY_EXCEEDED: i64 = -32052;
/// Own code: the session is unknown or has ended.
pub const SESSION_NOT_FOUND: i64 = -32053;
/// Own code: the request was cancelled.
pub const REQUEST_CANCELLED: i64 = -32054;
/// Own code: the OAuth token lacks a scope the operation needs; `data.requiredScopes` lists
/// every scope to request (HTTP 403 with an `insufficient_scope` challenge).
pub const INSUFFICIENT_SCOPE: i64 = -32055;
/// Own code: a rate limit was hit; `data.retry_after_ms` says when to try again.
pub const RATE_LIMITED: i64 = -32056;
/// Own code: the audit log cannot record the request and the server fails closed (HTTP 503).
pub const AUDIT_UNAVAILABLE: i64 = -32057;
