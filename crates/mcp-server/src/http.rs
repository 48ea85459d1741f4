//! Streamable HTTP: both eras on one endpoint.
//!
//! A POST goes to the stateless (2026-07-28) path when its `MCP-Protocol-Version` header names a
//! revision that is not a legacy one, or when its `_meta` names a protocol version; everything
//! else takes the legacy path (initialize + `Mcp-Session-Id`).

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode, header};
use mcp_core::{Principal, SecurityEventKind};
use mcp_protocol::{DecodeError, Era, ErrorObject, Message, ProtocolVersion, RequestId, codes, decode};
use mcp_transport::{Body, HttpHandler, IncomingRequest, Rejection};
use serde_json::{Map, Value, json};

use crate::McpServer;
use crate::context::{Cancel, LogLevel, Out, Outbox, STREAM_QUEUE};
use crate::dispatch::{
    Call, META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_PROTOCOL_VERSION, Outcome, err, is_legacy_method,
    is_modern_method,
};
use crate::session::{Session, SessionRefused};
use crate::subscriptions::{Change, ListKind};

// Parsed once: a lookup by `&str` would parse and validate the name on every call.
const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");
const VERSION_HEADER: HeaderName = HeaderName::from_static("mcp-protocol-version");
const METHOD_HEADER: HeaderName = HeaderName::from_static("mcp-method");
const NAME_HEADER: HeaderName = HeaderName::from_static("mcp-name");
/// Legacy revisions a client may name (2024-11-05 is recognised so it routes to `initialize`,
/// which then offers our newest legacy revision).
const LEGACY_VERSION_STRINGS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// Keep-alive comment interval on long-lived streams.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The MCP endpoint behind the transport.
#[derive(Clone, Debug)]
pub struct HttpFront {
    server: McpServer,
    path: Arc<str>,
    anonymous: Arc<Principal>,
}

impl HttpFront {
    /// Serve `server` at `path` (e.g. `/mcp`).
    pub fn new(server: McpServer, path: &str) -> Self {
        Self { server, path: path.into(), anonymous: Arc::new(Principal::anonymous()) }
    }
}

impl HttpHandler for HttpFront {
    fn handle(&self, req: IncomingRequest) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'static>> {
        let this = self.clone();
        Box::pin(async move { this.route(req).await })
    }

    fn rejected(&self, peer: SocketAddr, why: Rejection) {
        let kind = match why {
            Rejection::ConnectionLimit => SecurityEventKind::CapacityExceeded,
            _ => SecurityEventKind::TransportRejected,
        };
        self.server.event(kind, why.reason(), Some(peer), None);
    }
}

/// The mirrored headers of a POST, read once by the router.
#[derive(Clone, Copy)]
struct Mirrored<'h> {
    /// `Mcp-Method`, surrounding blanks removed.
    method: Option<&'h str>,
    /// `MCP-Protocol-Version`.
    version: Option<&'h str>,
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::full(body));
    *r.status_mut() = status;
    // Room for the transport's security headers too: no regrowth while it adds them.
    let mut headers = HeaderMap::with_capacity(16);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    *r.headers_mut() = headers;
    r
}

fn error_response(status: StatusCode, id: Option<&RequestId>, e: &ErrorObject) -> Response<Body> {
    json_response(status, mcp_protocol::encode_error(id, e))
}

fn header_str<'h>(h: &'h HeaderMap, name: &HeaderName) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `needle` (lower case) occurs in `hay`, ignoring ASCII case (checked exactly first: clients
/// send media types in lower case).
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    hay.contains(needle) || hay.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn accepts(h: &HeaderMap, json: bool, sse: bool) -> bool {
    let Some(a) = header_str(h, &header::ACCEPT) else { return false };
    let any = a.contains("*/*");
    (!json || any || contains_ignore_case(a, "application/json"))
        && (!sse || any || contains_ignore_case(a, "text/event-stream"))
}

/// Decode a mirrored header value: `=?base64?…?=` is strict padded base64 of UTF-8; anything
/// else is literal. Surrounding whitespace is ignored.
fn decode_mirrored(v: &str) -> Option<Cow<'_, str>> {
    use base64::Engine;
    let v = v.trim_matches([' ', '\t']);
    if let Some(inner) = v.strip_prefix("=?base64?").and_then(|r| r.strip_suffix("?=")) {
        let raw = base64::engine::general_purpose::STANDARD.decode(inner).ok()?;
        return String::from_utf8(raw).ok().map(Cow::Owned);
    }
    Some(Cow::Borrowed(v))
}

impl HttpFront {
    async fn route(&self, req: IncomingRequest) -> Response<Body> {
        let metrics =
            req.parts.method == Method::GET && req.parts.uri.path() == "/metrics" && self.server.has_metrics();
        if req.parts.uri.path() != &*self.path && !metrics {
            if req.parts.method == Method::GET
                && let Some(meta) = self.server.protected_resource_metadata(req.parts.uri.path())
            {
                return meta;
            }
            return error_response(StatusCode::NOT_FOUND, None, &err(codes::INVALID_REQUEST, "Not Found"));
        }
        if let Some(refusal) = self.server.refuse_blocked_ip(req.peer) {
            return refusal;
        }
        if let Err(refusal) = self.server.limit_ip(req.peer).await {
            return refusal;
        }
        let principal = match self.server.authenticate_http(&req, &self.anonymous).await {
            Ok(p) => p,
            Err(refusal) => return refusal,
        };
        if let Some(refusal) = self.server.refuse_blocked_client(&principal, req.peer) {
            return refusal;
        }
        if metrics {
            return self.server.metrics_response(&principal, req.peer);
        }
        // With a mirrored method header (stateless era) the client limits run before decoding;
        // otherwise right after it.
        let mirrored = header_str(&req.parts.headers, &METHOD_HEADER).map(|m| m.trim_matches([' ', '\t']));
        if req.parts.method == Method::POST
            && let Some(m) = mirrored
            && let Err(refusal) = self.server.limit_client(&principal, m, req.peer).await
        {
            return refusal;
        }
        let version_hdr = header_str(&req.parts.headers, &VERSION_HEADER);
        let modern_hdr = version_hdr.is_some_and(|v| !LEGACY_VERSION_STRINGS.contains(&v));
        match req.parts.method {
            Method::POST => self.post(&req, principal, Mirrored { method: mirrored, version: version_hdr }).await,
            Method::GET if !modern_hdr => self.get_stream(&req, &principal),
            Method::DELETE if !modern_hdr => self.delete(&req, &principal),
            _ => {
                let allow = if modern_hdr { "POST" } else { "GET, POST, DELETE" };
                let mut r = error_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    None,
                    &err(codes::INVALID_REQUEST, "Method Not Allowed"),
                );
                r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
                r
            }
        }
    }

    fn reject(
        &self,
        req: &IncomingRequest,
        kind: SecurityEventKind,
        reason: &'static str,
        resp: Response<Body>,
    ) -> Response<Body> {
        self.server.event(kind, reason, Some(req.peer), None);
        resp
    }

    async fn post(&self, req: &IncomingRequest, principal: Arc<Principal>, hdr: Mirrored<'_>) -> Response<Body> {
        let h = &req.parts.headers;
        let ct_ok = header_str(h, &header::CONTENT_TYPE)
            .is_some_and(|ct| ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
        if !ct_ok {
            let e = err(codes::INVALID_REQUEST, "Unsupported Media Type: Content-Type must be application/json");
            return self.reject(
                req,
                SecurityEventKind::TransportRejected,
                "wrong content type",
                error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, None, &e),
            );
        }
        if !accepts(h, true, true) {
            let e =
                err(codes::INVALID_REQUEST, "Not Acceptable: Accept must list application/json and text/event-stream");
            return self.reject(
                req,
                SecurityEventKind::TransportRejected,
                "wrong accept",
                error_response(StatusCode::NOT_ACCEPTABLE, None, &e),
            );
        }
        let body = &req.body;
        if body.len() as u64 > self.server.0.large_message_bytes {
            if let Some(m) = &self.server.0.monitor {
                m.record_large_message();
            }
            self.server.0.telemetry.large_message();
        }
        let mut msg = match decode(body, &self.server.0.settings.limits) {
            Ok(m) => m,
            Err(e) => {
                let status = match e {
                    DecodeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                let obj = ErrorObject::new(e.code(), e.message());
                return self.reject(
                    req,
                    SecurityEventKind::MalformedMessage,
                    "undecodable message",
                    error_response(status, e.request_id(), &obj),
                );
            }
        };
        // With a mirrored method header the client limits already ran, in `route`.
        if hdr.method.is_none() {
            let method = match &msg {
                Message::Request(r) => Some(&*r.method),
                Message::Notification(n) => Some(&*n.method),
                Message::Response(_) => None,
            };
            if let Some(m) = method
                && let Err(refusal) = self.server.limit_client(&principal, m, req.peer).await
            {
                return refusal;
            }
        }
        let version_hdr = hdr.version;
        let params: Value = match &mut msg {
            Message::Request(r) => r.params.take().unwrap_or_else(|| Value::Object(Map::new())),
            _ => Value::Null,
        };
        let meta_version = params.get("_meta").and_then(|m| m.get(META_PROTOCOL_VERSION));
        let modern = version_hdr.is_some_and(|v| !LEGACY_VERSION_STRINGS.contains(&v)) || meta_version.is_some();
        if modern {
            self.modern_post(req, msg, params, principal, hdr).await
        } else {
            self.legacy_post(req, msg, params, principal).await
        }
    }

    // ----- stateless era -------------------------------------------------------------------

    async fn modern_post(
        &self,
        req: &IncomingRequest,
        msg: Message<'_>,
        params: Value,
        principal: Arc<Principal>,
        hdr: Mirrored<'_>,
    ) -> Response<Body> {
        let h = &req.parts.headers;
        let r = match msg {
            Message::Request(r) => r,
            Message::Notification(_) => return accepted(),
            Message::Response(_) => {
                let e = err(
                    codes::INVALID_REQUEST,
                    "Invalid Request: responses are not accepted in this protocol revision",
                );
                return error_response(StatusCode::BAD_REQUEST, None, &e);
            }
        };
        let id = &r.id;
        let fail = |status, kind, reason: &'static str, e: ErrorObject| {
            self.server.event(kind, reason, Some(req.peer), Some(&r.method));
            error_response(status, Some(id), &e)
        };
        let Some(version_hdr) = hdr.version else {
            return fail(
                StatusCode::BAD_REQUEST,
                SecurityEventKind::HeaderMismatch,
                "missing MCP-Protocol-Version",
                err(codes::HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version header is required"),
            );
        };
        let meta = params.get("_meta");
        let meta_version = meta.and_then(|m| m.get(META_PROTOCOL_VERSION)).and_then(Value::as_str);
        let caps = meta.and_then(|m| m.get(META_CLIENT_CAPABILITIES));
        let (Some(meta_version), Some(caps)) = (meta_version, caps.filter(|c| c.is_object())) else {
            return fail(
                StatusCode::BAD_REQUEST,
                SecurityEventKind::MalformedMessage,
                "missing _meta keys",
                err(codes::INVALID_PARAMS, "Invalid params: _meta must carry protocolVersion and clientCapabilities"),
            );
        };
        if meta_version != version_hdr {
            return fail(
                StatusCode::BAD_REQUEST,
                SecurityEventKind::HeaderMismatch,
                "version header differs from _meta",
                err(codes::HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version differs from _meta"),
            );
        }
        let protocol = match version_hdr.parse::<ProtocolVersion>() {
            Ok(v) if v.era() == Era::Modern => v,
            _ => {
                let supported: Vec<&str> =
                    ProtocolVersion::ALL.iter().filter(|v| v.era() == Era::Modern).map(|v| v.as_str()).collect();
                let e = err(codes::UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
                    .with_data(json!({"supported": supported, "requested": version_hdr}));
                return fail(
                    StatusCode::BAD_REQUEST,
                    SecurityEventKind::UnsupportedVersion,
                    "unsupported protocol version",
                    e,
                );
            }
        };
        if hdr.method != Some(&*r.method) {
            return fail(
                StatusCode::BAD_REQUEST,
                SecurityEventKind::HeaderMismatch,
                "Mcp-Method differs from body",
                err(codes::HEADER_MISMATCH, "Header mismatch: Mcp-Method must equal the request method"),
            );
        }
        if !is_modern_method(&r.method) {
            return error_response(StatusCode::NOT_FOUND, Some(id), &err(codes::METHOD_NOT_FOUND, "Method not found"));
        }
        let name_key = match &*r.method {
            "tools/call" | "prompts/get" => Some("name"),
            "resources/read" => Some("uri"),
            _ => None,
        };
        if let Some(key) = name_key {
            let body_name = params.get(key).and_then(Value::as_str);
            let hdr_name = header_str(h, &NAME_HEADER).and_then(decode_mirrored);
            if body_name.is_none() || hdr_name.as_deref() != body_name {
                return fail(
                    StatusCode::BAD_REQUEST,
                    SecurityEventKind::HeaderMismatch,
                    "Mcp-Name differs from body",
                    err(codes::HEADER_MISMATCH, "Header mismatch: Mcp-Name must equal the request target"),
                );
            }
        }
        if r.method == "tools/call"
            && let Err(reason) = self.check_param_headers(h, &params)
        {
            return fail(
                StatusCode::BAD_REQUEST,
                SecurityEventKind::HeaderMismatch,
                reason,
                err(codes::HEADER_MISMATCH, "Header mismatch: Mcp-Param header differs from the arguments"),
            );
        }
        let log_level = meta.and_then(|m| m.get(META_LOG_LEVEL)).and_then(Value::as_str).and_then(LogLevel::parse);
        let caps = caps.clone();
        if r.method == "subscriptions/listen" {
            return match ListenSlot::take(&self.server) {
                Some(slot) => self.listen(id.clone(), &params, slot),
                None => fail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    SecurityEventKind::CapacityExceeded,
                    "listen stream limit reached",
                    err(codes::CAPACITY_EXCEEDED, "Too many subscription streams"),
                ),
            };
        }
        let outbox = Arc::new(Outbox::default());
        let call = Call {
            id: Some(r.id.clone()),
            method: crate::dispatch::method_name(r.method),
            params,
            protocol,
            principal: principal.clone(),
            client_capabilities: caps,
            log_level,
            out: Some(Out::Lazy(outbox.clone())),
            live: None,
            cancel: Cancel::default(),
            session: None,
            peer: Some(req.peer),
            verdict: Default::default(),
        };
        self.respond(r.id, Era::Modern, call, outbox, None).await
    }

    /// `Mcp-Param-*` headers mirror arguments whose schema property carries `x-mcp-header`.
    fn check_param_headers(&self, h: &HeaderMap, params: &Value) -> Result<(), &'static str> {
        let Some(name) = params.get("name").and_then(Value::as_str) else { return Ok(()) };
        let tools = self.server.0.tools.load();
        let Some(&i) = tools.index.get(name) else { return Ok(()) };
        let args = params.get("arguments");
        for (prop, header) in &tools.checks[i].mirrored {
            let hdr = h.get(header.as_str()).and_then(|v| v.to_str().ok());
            let arg = args.and_then(|a| a.get(prop));
            match (hdr, arg) {
                (None, None | Some(Value::Null)) => {}
                (None, Some(_)) => return Err("Mcp-Param header missing"),
                (Some(_), None) => return Err("Mcp-Param header without argument"),
                (Some(raw), Some(v)) => {
                    let decoded = decode_mirrored(raw).ok_or("Mcp-Param header not decodable")?;
                    let equal = match v {
                        Value::String(s) => *s == decoded,
                        Value::Number(n) => decoded.parse::<f64>().ok() == n.as_f64(),
                        Value::Bool(b) => decoded == b.to_string(),
                        _ => false,
                    };
                    if !equal {
                        return Err("Mcp-Param header differs from argument");
                    }
                }
            }
        }
        Ok(())
    }

    fn listen(&self, id: RequestId, params: &Value, slot: ListenSlot) -> Response<Body> {
        let filter = params.get("notifications").cloned().unwrap_or(json!({}));
        let flag = |k: &str| filter.get(k).and_then(Value::as_bool).unwrap_or(false);
        let tools = flag("toolsListChanged");
        let prompts = flag("promptsListChanged");
        let resources = flag("resourcesListChanged");
        let uris: Vec<String> = filter
            .get("resourceSubscriptions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter().filter_map(|v| v.as_str().map(str::to_owned)).take(crate::session::MAX_SUBSCRIPTIONS).collect()
            })
            .unwrap_or_default();
        let mut granted = Map::new();
        for (k, on) in
            [("toolsListChanged", tools), ("promptsListChanged", prompts), ("resourcesListChanged", resources)]
        {
            if on {
                granted.insert(k.into(), json!(true));
            }
        }
        if !uris.is_empty() {
            granted.insert("resourceSubscriptions".into(), json!(uris));
        }
        let sub_id = serde_json::to_value(&id).unwrap_or(Value::Null);
        let tag = move |mut msg: Value| {
            msg["params"]["_meta"] = json!({"io.modelcontextprotocol/subscriptionId": sub_id.clone()});
            serde_json::to_vec(&msg).unwrap_or_default()
        };
        let ack = tag(
            json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged", "params": {"notifications": granted}}),
        );
        let mut changes = self.server.0.hub.subscribe();
        let (tx, body) = Body::channel(STREAM_QUEUE);
        tokio::spawn(async move {
            let _slot = slot;
            if !tx.send_event(None, &ack).await {
                return;
            }
            let mut keepalive = tokio::time::interval(KEEPALIVE);
            keepalive.tick().await;
            loop {
                tokio::select! {
                    c = changes.recv() => {
                        let msg = match c {
                            Ok(Change::ListChanged(ListKind::Tools)) if tools => json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{}}),
                            Ok(Change::ListChanged(ListKind::Prompts)) if prompts => json!({"jsonrpc":"2.0","method":"notifications/prompts/list_changed","params":{}}),
                            Ok(Change::ListChanged(ListKind::Resources)) if resources => json!({"jsonrpc":"2.0","method":"notifications/resources/list_changed","params":{}}),
                            Ok(Change::ResourceUpdated(uri)) if uris.iter().any(|u| **u == *uri) => json!({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri": &*uri}}),
                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        };
                        if !tx.send_event(None, &tag(msg)).await { break; }
                    }
                    () = tx.closed() => break,
                    _ = keepalive.tick() => {
                        if !tx.send_raw(Bytes::from_static(b": keep-alive\n\n")).await { break; }
                    }
                }
            }
        });
        sse_response(body)
    }

    // ----- legacy era ----------------------------------------------------------------------

    #[allow(clippy::result_large_err)] // built only on the error path
    fn session_for(&self, req: &IncomingRequest, principal: &Principal) -> Result<Arc<Session>, Response<Body>> {
        let Some(sid) = header_str(&req.parts.headers, &SESSION_HEADER) else {
            let e = err(codes::INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required");
            return Err(self.reject(
                req,
                SecurityEventKind::SessionRejected,
                "missing session id",
                error_response(StatusCode::BAD_REQUEST, None, &e),
            ));
        };
        let not_found =
            || error_response(StatusCode::NOT_FOUND, None, &err(codes::SESSION_NOT_FOUND, "Session not found"));
        let Some(session) = self.server.0.sessions.get(sid) else {
            return Err(self.reject(req, SecurityEventKind::SessionRejected, "unknown session id", not_found()));
        };
        if session.principal_id != principal.id {
            return Err(self.reject(
                req,
                SecurityEventKind::SessionRejected,
                "session bound to another principal",
                not_found(),
            ));
        }
        Ok(session)
    }

    async fn legacy_post(
        &self,
        req: &IncomingRequest,
        msg: Message<'_>,
        params: Value,
        principal: Arc<Principal>,
    ) -> Response<Body> {
        if let Message::Request(r) = &msg
            && r.method == "initialize"
        {
            return self.initialize(req, &r.id, &params, &principal);
        }
        let session = match self.session_for(req, &principal) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        if let Some(v) = header_str(&req.parts.headers, &VERSION_HEADER)
            && !v.parse::<ProtocolVersion>().is_ok_and(|v| v.era() == Era::Legacy)
        {
            let e = err(codes::INVALID_REQUEST, "Bad Request: unsupported MCP-Protocol-Version");
            return self.reject(
                req,
                SecurityEventKind::UnsupportedVersion,
                "unsupported protocol version",
                error_response(StatusCode::BAD_REQUEST, None, &e),
            );
        }
        match msg {
            Message::Notification(n) => {
                match &*n.method {
                    "notifications/initialized" => {
                        session.initialized.store(true, std::sync::atomic::Ordering::Relaxed)
                    }
                    "notifications/cancelled" => {
                        if let Some(rid) = n.params.as_ref().and_then(|p| p.get("requestId")) {
                            let key = rid.to_string();
                            if let Some(c) = session.inflight.lock().ok().and_then(|m| m.get(&key).cloned()) {
                                c.cancel();
                            }
                        }
                    }
                    _ => {}
                }
                accepted()
            }
            Message::Response(resp) => {
                session.pending.complete_response(&resp);
                accepted()
            }
            Message::Request(r) => {
                if !is_legacy_method(&r.method) {
                    return error_response(
                        StatusCode::OK,
                        Some(&r.id),
                        &err(codes::METHOD_NOT_FOUND, "Method not found"),
                    );
                }
                if params.is_null() {
                    return error_response(StatusCode::OK, Some(&r.id), &err(codes::INVALID_PARAMS, "Invalid params"));
                }
                let outbox = Arc::new(Outbox::default());
                let cancel = Cancel::default();
                let key = serde_json::to_string(&r.id).unwrap_or_default();
                if let Ok(mut m) = session.inflight.lock() {
                    m.insert(key.clone(), cancel.clone());
                }
                let call = Call {
                    id: Some(r.id.clone()),
                    method: crate::dispatch::method_name(r.method),
                    params,
                    protocol: session.protocol,
                    principal: principal.clone(),
                    client_capabilities: session.client_capabilities.clone(),
                    log_level: session.log_level(),
                    out: Some(Out::Lazy(outbox.clone())),
                    live: Some(session.pending.clone()),
                    cancel,
                    session: Some(session.clone()),
                    peer: Some(req.peer),
                    verdict: Default::default(),
                };
                self.respond(r.id, Era::Legacy, call, outbox, Some((session, key))).await
            }
        }
    }

    fn initialize(
        &self,
        req: &IncomingRequest,
        id: &RequestId,
        params: &Value,
        principal: &Principal,
    ) -> Response<Body> {
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let Some(requested) = requested else {
            return error_response(
                StatusCode::BAD_REQUEST,
                Some(id),
                &err(codes::INVALID_PARAMS, "Invalid params: protocolVersion is required"),
            );
        };
        let version = match requested.parse::<ProtocolVersion>() {
            Ok(v) if v.era() == Era::Legacy => v,
            _ => ProtocolVersion::LATEST_LEGACY,
        };
        let caps = params.get("capabilities").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
        let session = match self.server.0.sessions.create(principal.id.clone(), version, caps) {
            Ok(s) => s,
            Err(why) => {
                let reason = match why {
                    SessionRefused::Full => "session limit reached",
                    SessionRefused::PrincipalQuota => "per-principal session quota reached",
                    SessionRefused::Rng => "random generator failed",
                };
                self.server.event(SecurityEventKind::CapacityExceeded, reason, Some(req.peer), Some("initialize"));
                let mut r = error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(id),
                    &err(codes::CAPACITY_EXCEEDED, "Too many sessions"),
                );
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                return r;
            }
        };
        let body = mcp_protocol::encode_result(id, &self.server.initialize_result(version));
        let mut r = json_response(StatusCode::OK, body);
        if let Ok(v) = HeaderValue::from_str(&session.id) {
            r.headers_mut().insert(SESSION_HEADER, v);
        }
        r
    }

    fn get_stream(&self, req: &IncomingRequest, principal: &Principal) -> Response<Body> {
        if !accepts(&req.parts.headers, false, true) {
            let e = err(codes::INVALID_REQUEST, "Not Acceptable: Accept must list text/event-stream");
            return error_response(StatusCode::NOT_ACCEPTABLE, None, &e);
        }
        let session = match self.session_for(req, principal) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        let (tx, body) = Body::channel(STREAM_QUEUE);
        {
            let Ok(mut slot) = session.get_stream.lock() else {
                return error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    &err(codes::INTERNAL_ERROR, "Internal error"),
                );
            };
            if slot.as_ref().is_some_and(|s| !s.is_closed()) {
                return error_response(
                    StatusCode::CONFLICT,
                    None,
                    &err(codes::INVALID_REQUEST, "Conflict: a stream is already open for this session"),
                );
            }
            *slot = Some(tx.clone());
        }
        let mut changes = self.server.0.hub.subscribe();
        let server = self.server.clone();
        let sid = session.id.clone();
        drop(session);
        tokio::spawn(async move {
            let mut keepalive = tokio::time::interval(KEEPALIVE);
            keepalive.tick().await;
            loop {
                tokio::select! {
                    c = changes.recv() => {
                        let Some(session) = server.0.sessions.get(&sid) else { break };
                        let msg = match c {
                            Ok(Change::ListChanged(k)) => {
                                let m = match k { ListKind::Tools => "notifications/tools/list_changed", ListKind::Prompts => "notifications/prompts/list_changed", ListKind::Resources => "notifications/resources/list_changed" };
                                json!({"jsonrpc":"2.0","method":m})
                            }
                            Ok(Change::ResourceUpdated(uri)) => {
                                let subscribed = session.subscriptions.lock().is_ok_and(|s| s.contains(&*uri));
                                if !subscribed { continue; }
                                json!({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri": &*uri}})
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        };
                        if !tx.send_event(None, &serde_json::to_vec(&msg).unwrap_or_default()).await { break; }
                    }
                    () = tx.closed() => break,
                    _ = keepalive.tick() => {
                        if server.0.sessions.get(&sid).is_none() { break; }
                        if !tx.send_raw(Bytes::from_static(b": keep-alive\n\n")).await { break; }
                    }
                }
            }
        });
        sse_response(body)
    }

    fn delete(&self, req: &IncomingRequest, principal: &Principal) -> Response<Body> {
        let session = match self.session_for(req, principal) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        self.server.0.sessions.remove(&session.id);
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    }

    // ----- answering ------------------------------------------------------------------------

    /// Run the call; answer with JSON if it finishes without sending anything, else switch to an
    /// SSE stream carrying notifications / requests and then the result.
    async fn respond(
        &self,
        id: RequestId,
        era: Era,
        call: Call,
        outbox: Arc<Outbox>,
        inflight: Option<(Arc<Session>, String)>,
    ) -> Response<Body> {
        let cacheable = crate::dispatch::is_cacheable(&call.method);
        let server = self.server.clone();
        let mut fut = Box::pin(async move { server.dispatch(call).await });
        let answer = {
            let server = self.server.clone();
            move |id: &RequestId, outcome: &Outcome| server.encode_answer(id, era, cacheable, outcome)
        };
        // The call first: most finish in their first poll without sending anything, and then
        // no channel was ever made.
        let rx = tokio::select! {
            biased;
            outcome = &mut fut => {
                let sent = outbox.take().and_then(|mut rx| rx.try_recv().ok().map(|m| (m, rx)));
                let Some((m, mut rx)) = sent else {
                    outbox.close();
                    forget(inflight);
                    return self.json_answer(era, answer(&id, &outcome), &outcome);
                };
                // Notifications were sent before the result: stream them, then the result.
                let (tx, body) = Body::channel(STREAM_QUEUE);
                tokio::spawn(async move {
                    let _ = tx.send_event(None, &m).await;
                    while let Ok(m) = rx.try_recv() {
                        let _ = tx.send_event(None, &m).await;
                    }
                    let _ = tx.send_event(None, &answer(&id, &outcome)).await;
                    forget(inflight);
                });
                return sse_response(body);
            }
            () = outbox.opened() => outbox.take(),
        };
        let Some(mut rx) = rx else {
            // Not expected (the channel exists before `opened` fires): answer when done.
            let outcome = fut.await;
            outbox.close();
            forget(inflight);
            return self.json_answer(era, answer(&id, &outcome), &outcome);
        };
        let (tx, body) = Body::channel(STREAM_QUEUE);
        tokio::spawn(async move {
            let mut gone = false;
            let mut outcome = None;
            while !gone && outcome.is_none() {
                tokio::select! {
                    biased;
                    Some(m) = rx.recv() => gone = !tx.send_event(None, &m).await,
                    o = &mut fut => outcome = Some(o),
                    // The client went away: dropping the call cancels the handler.
                    () = tx.closed() => gone = true,
                }
            }
            if let Some(outcome) = outcome {
                while let Ok(m) = rx.try_recv() {
                    let _ = tx.send_event(None, &m).await;
                }
                let _ = tx.send_event(None, &answer(&id, &outcome)).await;
            }
            forget(inflight);
        });
        sse_response(body)
    }

    /// The JSON answer of a call that sent nothing before its result.
    fn json_answer(&self, era: Era, body: Vec<u8>, outcome: &Outcome) -> Response<Body> {
        let status = match outcome {
            Ok(_) => StatusCode::OK,
            Err(e) => crate::http_status_for(e.code, era),
        };
        let mut r = json_response(status, body);
        if let Err(e) = outcome
            && e.code == codes::INSUFFICIENT_SCOPE
            && let Some(v) = self.server.scope_challenge(e)
        {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

/// One of the `max_listen_streams` places, given back on drop.
struct ListenSlot(Arc<std::sync::atomic::AtomicUsize>);

impl ListenSlot {
    fn take(server: &McpServer) -> Option<Self> {
        let counter = &server.0.listeners;
        let max = server.0.settings.max_listen_streams;
        counter
            .fetch_update(std::sync::atomic::Ordering::AcqRel, std::sync::atomic::Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(counter.clone()))
    }
}

impl Drop for ListenSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

fn forget(inflight: Option<(Arc<Session>, String)>) {
    if let Some((s, key)) = inflight
        && let Ok(mut m) = s.inflight.lock()
    {
        m.remove(&key);
    }
}

fn accepted() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::ACCEPTED;
    r
}

fn sse_response(body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists_are_read_without_case() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_static(v));
            m
        };
        assert!(accepts(&h("application/json, text/event-stream"), true, true));
        assert!(accepts(&h("Application/JSON, Text/Event-Stream"), true, true));
        assert!(accepts(&h("*/*"), true, true));
        assert!(!accepts(&h("application/json"), true, true));
        assert!(accepts(&h("text/event-stream"), false, true));
        assert!(!accepts(&HeaderMap::new(), true, false));
    }

    #[test]
    fn mirrored_header_decoding() {
        assert_eq!(decode_mirrored("  calc  ").as_deref(), Some("calc"));
        assert_eq!(decode_mirrored("=?base64?SGVsbG8=?=").as_deref(), Some("Hello"));
        assert_eq!(decode_mirrored("=?base64?SGVsbG8?="), None);
        assert_eq!(decode_mirrored("=?base64?SGVs!!!bG8=?="), None);
        assert_eq!(decode_mirrored("=?base64?SGVsbG8=").as_deref(), Some("=?base64?SGVsbG8="));
    }
}
