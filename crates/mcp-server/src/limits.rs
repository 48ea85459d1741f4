//! Rate limiting on the request path: per IP before authentication, per client after it
//! (HTTP 429 + `Retry-After` before the body is dispatched), per tool after decoding (a JSON-RPC
//! error with `retry_after_ms`).

use std::net::SocketAddr;

use http::{HeaderValue, Response, StatusCode, header};
use mcp_core::{Principal, SecurityEvent, SecurityEventKind};
use mcp_protocol::{ErrorObject, codes};
use mcp_ratelimit::RateLimitError;
use mcp_transport::Body;
use serde_json::json;

use crate::McpServer;
use crate::dispatch::{Call, err};

impl McpServer {
    /// Stage 1: the per-IP limits. `Err` is the complete answer.
    pub(crate) async fn limit_ip(&self, peer: SocketAddr) -> Result<(), Response<Body>> {
        let Some(rl) = &self.0.ratelimit else { return Ok(()) };
        rl.check_ip(peer.ip()).await.map_err(|e| self.rate_refusal(&e, peer, None, None))
    }

    /// Stage 2: the per-client limits for `method`. `Err` is the complete answer.
    pub(crate) async fn limit_client(
        &self,
        principal: &Principal,
        method: &str,
        peer: SocketAddr,
    ) -> Result<(), Response<Body>> {
        let Some(rl) = &self.0.ratelimit else { return Ok(()) };
        rl.check_request(&principal.id, principal.rate_class.as_deref(), method)
            .await
            .map_err(|e| self.rate_refusal(&e, peer, Some(principal), Some(method)))
    }

    /// Stage 3: the per-tool limits of a `tools/call`.
    pub(crate) async fn limit_tool(&self, call: &Call, tool: &str) -> Result<(), ErrorObject> {
        let Some(rl) = &self.0.ratelimit else { return Ok(()) };
        let p = &call.principal;
        match rl.check_tool(&p.id, p.rate_class.as_deref(), tool).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.rate_event(&e, call.peer, Some(p), Some("tools/call"), Some(tool));
                match e.as_limited() {
                    Some(l) => Err(err(codes::RATE_LIMITED, "Rate limit exceeded")
                        .with_data(json!({"retry_after_ms": l.retry_after_ms(), "limit": &*l.limit}))),
                    None => Err(not_limited(&e).1),
                }
            }
        }
    }

    fn rate_event(
        &self,
        e: &RateLimitError,
        peer: Option<SocketAddr>,
        principal: Option<&Principal>,
        method: Option<&str>,
        tool: Option<&str>,
    ) {
        let Some(l) = e.as_limited() else { return };
        let mut ev = SecurityEvent::new(SecurityEventKind::RateLimitExceeded, "rate limit exceeded", now())
            .with_peer(peer)
            .with_rule(format!("limit:{}", l.limit));
        if let Some(p) = principal {
            ev = ev.with_principal(p.id.clone());
        }
        if let Some(m) = method {
            ev = ev.with_method(m);
        }
        if let Some(t) = tool {
            ev = ev.with_resource(t);
        }
        self.emit(ev);
    }

    /// 429 + `Retry-After` (whole seconds, rounded up) for a limit; 503 when the shared store
    /// is unreachable and the policy fails closed.
    fn rate_refusal(
        &self,
        e: &RateLimitError,
        peer: SocketAddr,
        principal: Option<&Principal>,
        method: Option<&str>,
    ) -> Response<Body> {
        self.rate_event(e, Some(peer), principal, method, None);
        let (status, obj, retry) = match e.as_limited() {
            Some(l) => (
                StatusCode::TOO_MANY_REQUESTS,
                err(codes::RATE_LIMITED, "Too Many Requests: rate limit exceeded")
                    .with_data(json!({"retry_after_ms": l.retry_after_ms(), "limit": &*l.limit})),
                l.retry_after_secs().max(1),
            ),
            None => {
                let (status, obj) = not_limited(e);
                (status, obj, 1)
            }
        };
        let mut r = Response::new(Body::full(mcp_protocol::encode_error(None, &obj)));
        *r.status_mut() = status;
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry));
        r
    }
}

/// The answer to a limiter error that is not a limit: the shared store is unreachable under
/// `fail_closed` (503), or the key cannot be counted (an id over 1024 bytes: 400).
fn not_limited(e: &RateLimitError) -> (StatusCode, ErrorObject) {
    match e.kind() {
        mcp_core::ErrorKind::InvalidRequest => (
            StatusCode::BAD_REQUEST,
            err(codes::INVALID_REQUEST, "Invalid Request: the client id or tool name is too long to rate-limit"),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            err(codes::CAPACITY_EXCEEDED, "Service unavailable: the rate limiter cannot decide; try again shortly"),
        ),
    }
}

fn now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}
