//! The security monitor on the request path: blocked IPs and clients are refused before any
//! work, every request feeds the anomaly baseline and the latency histogram, and `GET /metrics`
//! serves the counters to callers holding `admin:metrics`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Response, StatusCode, header};
use mcp_core::{Action, Principal, SecurityEvent, SecurityEventKind};
use mcp_monitor::{BlockInfo, MethodClass};
use mcp_protocol::codes;
use mcp_transport::Body;

use crate::McpServer;
use crate::dispatch::err;

impl McpServer {
    /// The complete refusal for a blocked IP (checked before authentication), or a 503 while
    /// the shared block list cannot be read under `fail_closed`.
    pub(crate) fn refuse_blocked_ip(&self, peer: SocketAddr) -> Option<Response<Body>> {
        let m = self.0.monitor.as_ref()?;
        if m.block_store_unavailable() {
            let obj =
                err(codes::CAPACITY_EXCEEDED, "Service unavailable: the block list cannot be read; try again shortly");
            let mut r = Response::new(Body::full(mcp_protocol::encode_error(None, &obj)));
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Some(r);
        }
        let b = m.is_blocked_ip(peer.ip())?;
        Some(self.blocked(&b, peer, None))
    }

    /// The complete refusal for a blocked client (checked after authentication).
    pub(crate) fn refuse_blocked_client(&self, p: &Principal, peer: SocketAddr) -> Option<Response<Body>> {
        let b = self.0.monitor.as_ref()?.is_blocked_client(&p.id)?;
        Some(self.blocked(&b, peer, Some(p)))
    }

    fn blocked(&self, b: &BlockInfo, peer: SocketAddr, p: Option<&Principal>) -> Response<Body> {
        let mut e = SecurityEvent::new(SecurityEventKind::ClientBlocked, "blocked caller refused", SystemTime::now())
            .with_peer(Some(peer));
        if let Some(p) = p {
            e = e.with_principal(p.id.clone());
        }
        self.emit(e);
        let secs = b.until.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO).as_secs().max(1);
        let obj = err(codes::SECURITY_REJECTED, "Forbidden: blocked after repeated failures; try again later");
        let mut r = Response::new(Body::full(mcp_protocol::encode_error(None, &obj)));
        *r.status_mut() = StatusCode::FORBIDDEN;
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        r
    }

    /// Feed one finished request to the anomaly baseline and the latency histogram.
    pub(crate) fn observe(&self, principal: &Principal, method: &str, ok: bool, latency: Duration) {
        if let Some(m) = &self.0.monitor {
            m.observe_request(&principal.id, ok);
            m.observe_latency(MethodClass::of(method), latency);
        }
    }

    /// True when `GET /metrics` is served (a monitor is configured).
    pub(crate) fn has_metrics(&self) -> bool {
        self.0.monitor.is_some()
    }

    /// `GET /metrics` for an authenticated caller.
    pub(crate) fn metrics_response(&self, p: &Principal, peer: SocketAddr) -> Response<Body> {
        let Some(m) = &self.0.monitor else {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        };
        if !self.may(p, Action::ReadMetrics) {
            let e =
                SecurityEvent::new(SecurityEventKind::AuthorizeFail, "metrics need admin:metrics", SystemTime::now())
                    .with_principal(p.id.clone())
                    .with_peer(Some(peer))
                    .with_method("metrics")
                    .with_rule("permission:admin:metrics");
            self.emit(e);
            return plain(StatusCode::FORBIDDEN, "Forbidden: reading metrics needs the admin:metrics permission");
        }
        let mut r = Response::new(Body::full(m.render_metrics().into_bytes()));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mcp_monitor::CONTENT_TYPE));
        r
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::full(text.as_bytes().to_vec()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}
