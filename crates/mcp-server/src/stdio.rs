//! MCP over stdin/stdout. Both eras: a message whose `_meta` names a protocol version is served
//! statelessly; otherwise the connection is one implicit legacy session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mcp_core::{AuthMethod, Principal, SecurityEventKind};
use mcp_protocol::{Era, ErrorObject, Message, ProtocolVersion, codes, decode};
use mcp_transport::stdio::{self, Frame};
use serde_json::{Map, Value, json};

use crate::McpServer;
use crate::context::{Cancel, LogLevel, PendingRequests};
use crate::dispatch::{
    Call, META_CLIENT_CAPABILITIES, META_LOG_LEVEL, META_PROTOCOL_VERSION, err, is_legacy_method, is_modern_method,
};
use crate::error::ServerError;

#[derive(Debug, Default)]
struct Conn {
    protocol: Option<ProtocolVersion>,
    client_capabilities: Value,
    log_level: Option<LogLevel>,
    inflight: HashMap<String, Cancel>,
}

/// Serve `server` on this process's stdin/stdout until stdin closes.
pub async fn serve_stdio(server: McpServer) -> Result<(), ServerError> {
    serve_io(server, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serve on any reader/writer pair (used by tests).
pub async fn serve_io<R, W>(server: McpServer, input: R, output: W) -> Result<(), ServerError>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let user = std::env::var("USER").unwrap_or_else(|_| "local".into());
    let mut principal = Principal::new(format!("stdio:{user}"), AuthMethod::Stdio);
    principal.roles = server.0.settings.stdio_roles.iter().map(|r| Arc::from(r.as_str())).collect();
    let principal = Arc::new(principal);
    let conn = Arc::new(Mutex::new(Conn { log_level: Some(LogLevel::Info), ..Conn::default() }));
    let pending = Arc::new(PendingRequests::default());
    let max = server.0.settings.limits.max_size;
    stdio::run(input, output, max, |frame, out| {
        let line = match frame {
            Frame::Line(l) => l,
            Frame::TooLong => {
                server.event(SecurityEventKind::MalformedMessage, "message too large", None, None);
                let e = ErrorObject::new(codes::INVALID_REQUEST, "Message too large");
                let q = out.queue();
                tokio::spawn(async move { q.send(Bytes::from(mcp_protocol::encode_error(None, &e))).await });
                return;
            }
        };
        handle_line(&server, &principal, &conn, &pending, line, out.queue());
    })
    .await?;
    Ok(())
}

fn handle_line(
    server: &McpServer,
    principal: &Arc<Principal>,
    conn: &Arc<Mutex<Conn>>,
    pending: &Arc<PendingRequests>,
    line: Bytes,
    out: tokio::sync::mpsc::Sender<Bytes>,
) {
    let reply = |out: tokio::sync::mpsc::Sender<Bytes>, bytes: Vec<u8>| {
        tokio::spawn(async move { out.send(Bytes::from(bytes)).await });
    };
    let msg = match decode(&line, &server.0.settings.limits) {
        Ok(m) => m,
        Err(e) => {
            server.event(SecurityEventKind::MalformedMessage, "undecodable message", None, None);
            let obj = ErrorObject::new(e.code(), e.message());
            reply(out, mcp_protocol::encode_error(e.request_id(), &obj));
            return;
        }
    };
    let r = match msg {
        Message::Response(resp) => {
            pending.complete_response(&resp);
            return;
        }
        Message::Notification(n) => {
            if n.method == "notifications/cancelled"
                && let Some(rid) = n.params.as_ref().and_then(|p| p.get("requestId"))
                && let Ok(c) = conn.lock()
                && let Some(cancel) = c.inflight.get(&rid.to_string())
            {
                cancel.cancel();
            }
            return;
        }
        Message::Request(r) => r,
    };
    let mut r = r;
    let id = r.id.clone();
    let params: Value = r.params.take().unwrap_or_else(|| Value::Object(Map::new()));
    let meta = params.get("_meta");
    let meta_version = meta.and_then(|m| m.get(META_PROTOCOL_VERSION)).and_then(Value::as_str);
    let (protocol, caps, log_level, live) = if let Some(v) = meta_version {
        // Stateless era: everything comes with the request.
        let protocol = match v.parse::<ProtocolVersion>() {
            Ok(p) if p.era() == Era::Modern => p,
            _ => {
                let supported = [ProtocolVersion::LATEST.as_str()];
                let e = err(codes::UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version")
                    .with_data(json!({"supported": supported, "requested": v}));
                reply(out, mcp_protocol::encode_error(Some(&id), &e));
                return;
            }
        };
        let Some(caps) = meta.and_then(|m| m.get(META_CLIENT_CAPABILITIES)).filter(|c| c.is_object()) else {
            let e =
                err(codes::INVALID_PARAMS, "Invalid params: _meta must carry protocolVersion and clientCapabilities");
            reply(out, mcp_protocol::encode_error(Some(&id), &e));
            return;
        };
        if !is_modern_method(&r.method) || r.method == "subscriptions/listen" {
            reply(out, mcp_protocol::encode_error(Some(&id), &err(codes::METHOD_NOT_FOUND, "Method not found")));
            return;
        }
        let level = meta.and_then(|m| m.get(META_LOG_LEVEL)).and_then(Value::as_str).and_then(LogLevel::parse);
        (protocol, caps.clone(), level, None)
    } else if r.method == "initialize" {
        let version = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<ProtocolVersion>().ok())
            .filter(|v| v.era() == Era::Legacy)
            .unwrap_or(ProtocolVersion::LATEST_LEGACY);
        if let Ok(mut c) = conn.lock() {
            c.protocol = Some(version);
            c.client_capabilities = params.get("capabilities").cloned().unwrap_or_else(|| json!({}));
        }
        reply(out, mcp_protocol::encode_result(&id, &server.initialize_result(version)));
        return;
    } else {
        let Ok(mut c) = conn.lock() else { return };
        let Some(protocol) = c.protocol else {
            drop(c);
            let e = err(codes::INVALID_REQUEST, "Invalid Request: send initialize first");
            reply(out, mcp_protocol::encode_error(Some(&id), &e));
            return;
        };
        if r.method == "logging/setLevel" {
            let level = params.get("level").and_then(Value::as_str).and_then(LogLevel::parse);
            let answer = match level {
                Some(l) => {
                    c.log_level = Some(l);
                    mcp_protocol::encode_result(&id, &json!({}))
                }
                None => mcp_protocol::encode_error(
                    Some(&id),
                    &err(codes::INVALID_PARAMS, "Invalid params: unknown log level"),
                ),
            };
            drop(c);
            reply(out, answer);
            return;
        }
        if !is_legacy_method(&r.method) {
            drop(c);
            reply(out, mcp_protocol::encode_error(Some(&id), &err(codes::METHOD_NOT_FOUND, "Method not found")));
            return;
        }
        (protocol, c.client_capabilities.clone(), c.log_level, Some(pending.clone()))
    };
    let cancel = Cancel::default();
    let key = serde_json::to_string(&id).unwrap_or_default();
    if protocol.era() == Era::Legacy
        && let Ok(mut c) = conn.lock()
    {
        c.inflight.insert(key.clone(), cancel.clone());
    }
    let call = Call {
        id: Some(id.clone()),
        method: crate::dispatch::method_name(r.method),
        params,
        protocol,
        principal: principal.clone(),
        client_capabilities: caps,
        log_level,
        out: Some(crate::context::Out::Channel(out.clone())),
        live,
        cancel,
        session: None,
        peer: None,
        verdict: Default::default(),
    };
    let server = server.clone();
    let conn = conn.clone();
    tokio::spawn(async move {
        let (era, cacheable) = (call.protocol.era(), crate::dispatch::is_cacheable(&call.method));
        let outcome = server.dispatch(call).await;
        if let Ok(mut c) = conn.lock() {
            c.inflight.remove(&key);
        }
        let bytes = server.encode_answer(&id, era, cacheable, &outcome);
        let _ = out.send(Bytes::from(bytes)).await;
    });
}
