//! End-to-end tests through the real listener: every bad input gets the right status and
//! JSON-RPC code, and the server keeps serving.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use mcp_server::{McpServer, ServerSettings, SessionLimits};
use serde_json::{Value, json};

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(cfg: mcp_transport::HttpConfig, settings: ServerSettings) -> Server {
    start_with(cfg, move || {
        mcp_server::demo::add_demo(McpServer::builder("test", "1").settings(settings)).danger_allow_unauthenticated()
    })
}

fn start_with(
    cfg: mcp_transport::HttpConfig,
    make: impl FnOnce() -> mcp_server::ServerBuilder + Send + 'static,
) -> Server {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let server = make().build().unwrap();
            let listener = mcp_transport::http::HttpServer::bind(cfg.clone()).await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            mcp_server::serve_on(server, listener, &cfg.path, async {
                let _ = stop_rx.await;
            })
            .await;
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Server { addr, stop: Some(stop_tx), thread: Some(thread) }
}

fn default_server() -> Server {
    let cfg = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    start(cfg, ServerSettings::default())
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
    /// JSON-RPC messages of an SSE body.
    fn sse(&self) -> Vec<Value> {
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
fn send(addr: SocketAddr, method: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} /mcp HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no response head: {text:?}"));
    let mut lines = head.lines();
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Resp { status, headers, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

const JSON: (&str, &str) = ("content-type", "application/json");
const ACCEPT: (&str, &str) = ("accept", "application/json, text/event-stream");

fn modern_body(id: u64, method: &str, mut params: Value) -> Vec<u8> {
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).unwrap()
}

fn modern(addr: SocketAddr, method: &str, name: Option<&str>, params: Value) -> Resp {
    let mut h = vec![JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", method)];
    if let Some(n) = name {
        h.push(("mcp-name", n));
    }
    send(addr, "POST", &h, &modern_body(1, method, params))
}

fn initialize(addr: SocketAddr) -> String {
    let body = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let r = send(addr, "POST", &[JSON, ACCEPT], &serde_json::to_vec(&body).unwrap());
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["result"]["protocolVersion"], "2025-11-25");
    r.header("mcp-session-id").expect("session id").to_owned()
}

fn legacy(addr: SocketAddr, sid: &str, body: Value) -> Resp {
    send(
        addr,
        "POST",
        &[JSON, ACCEPT, ("mcp-session-id", sid), ("mcp-protocol-version", "2025-11-25")],
        &serde_json::to_vec(&body).unwrap(),
    )
}

fn assert_error(r: &Resp, status: u16, code: i64) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.json()["error"]["code"], code, "{r:?}");
}

#[test]
fn modern_tool_call_and_security_headers() {
    let s = default_server();
    let r = modern(
        s.addr,
        "tools/call",
        Some("calculate"),
        json!({"name": "calculate", "arguments": {"a": 2, "b": 3, "op": "add"}}),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["result"]["structuredContent"]["result"], 5.0);
    assert_eq!(v["result"]["resultType"], "complete");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert!(r.header("content-security-policy").is_some());
    assert!(r.header("strict-transport-security").is_none(), "no HSTS without TLS");
    // A tool error is a result, not a protocol error.
    let r = modern(
        s.addr,
        "tools/call",
        Some("calculate"),
        json!({"name": "calculate", "arguments": {"a": 1, "b": 0, "op": "divide"}}),
    );
    assert_eq!(r.json()["result"]["isError"], true);
    let r = modern(
        s.addr,
        "tools/call",
        Some("calculate"),
        json!({"name": "calculate", "arguments": {"a": 1, "op": "add"}}),
    );
    assert_eq!(r.json()["result"]["isError"], true, "missing argument is a tool error");
}

#[test]
fn transport_rejections() {
    let s = default_server();
    let ok = modern_body(1, "tools/list", json!({}));
    let base = [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list")];
    // Foreign Host and Origin (DNS rebinding) are refused, and still carry security headers.
    let mut h = base.to_vec();
    h.push(("host", "evil.example.com"));
    let r = send(s.addr, "POST", &h, &ok);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    let mut h = base.to_vec();
    h.push(("origin", "http://evil.example.com"));
    assert_eq!(send(s.addr, "POST", &h, &ok).status, 403);
    let mut h = base.to_vec();
    h.push(("origin", "http://localhost:5173"));
    assert_eq!(send(s.addr, "POST", &h, &ok).status, 200, "loopback origins are allowed");
    // Wrong content type, wrong Accept.
    let r = send(s.addr, "POST", &[("content-type", "text/plain"), ACCEPT], &ok);
    assert_error(&r, 415, -32600);
    let r = send(s.addr, "POST", &[JSON, ("accept", "text/html")], &ok);
    assert_error(&r, 406, -32600);
    // Malformed JSON, batch, bad envelope, too deep.
    assert_error(&send(s.addr, "POST", &[JSON, ACCEPT], b"{\"jsonrpc\":"), 400, -32700);
    assert_error(
        &send(s.addr, "POST", &[JSON, ACCEPT], b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"),
        400,
        -32600,
    );
    assert_error(
        &send(s.addr, "POST", &[JSON, ACCEPT], b"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"),
        400,
        -32600,
    );
    let deep = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"a\":{}{}}}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_error(&send(s.addr, "POST", &[JSON, ACCEPT], deep.as_bytes()), 400, -32600);
    // Unknown path, unsupported HTTP method.
    let r = send(s.addr, "PUT", &[JSON, ACCEPT], &ok);
    assert_eq!(r.status, 405);
    // The server is still serving.
    assert_eq!(send(s.addr, "POST", &base, &ok).status, 200);
}

#[test]
fn body_limit_is_413() {
    let cfg = mcp_transport::HttpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_message_size: 4096,
        ..Default::default()
    };
    let s = start(cfg, ServerSettings::default());
    let big = modern_body(1, "tools/call", json!({"name": "echo", "arguments": {"text": "x".repeat(8000)}}));
    let r = send(
        s.addr,
        "POST",
        &[JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "echo")],
        &big,
    );
    assert_error(&r, 413, -32600);
}

#[test]
fn modern_header_and_version_rules() {
    let s = default_server();
    let body = modern_body(7, "tools/list", json!({}));
    // Mcp-Method mismatch and absence.
    let r = send(
        s.addr,
        "POST",
        &[JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "prompts/list")],
        &body,
    );
    assert_error(&r, 400, -32020);
    assert_eq!(r.json()["id"], 7, "errors echo the request id");
    let r = send(s.addr, "POST", &[JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28")], &body);
    assert_error(&r, 400, -32020);
    // Mcp-Name mismatch.
    let r = modern(s.addr, "tools/call", Some("echo"), json!({"name": "calculate", "arguments": {}}));
    assert_error(&r, 400, -32020);
    // Unsupported version in header and _meta.
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let r = send(
        s.addr,
        "POST",
        &[JSON, ACCEPT, ("mcp-protocol-version", "2099-01-01"), ("mcp-method", "tools/list")],
        &serde_json::to_vec(&v).unwrap(),
    );
    assert_error(&r, 400, -32022);
    assert_eq!(r.json()["error"]["data"]["requested"], "2099-01-01");
    // Missing _meta.
    let r = send(
        s.addr,
        "POST",
        &[JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list")],
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
    );
    assert_error(&r, 400, -32602);
    // Legacy-only and unknown methods are 404 here; GET and DELETE are 405.
    assert_error(&modern(s.addr, "initialize", None, json!({})), 404, -32601);
    assert_error(&modern(s.addr, "nope/nope", None, json!({})), 404, -32601);
    let r = send(s.addr, "GET", &[ACCEPT, ("mcp-protocol-version", "2026-07-28")], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    // Unknown tool.
    assert_error(&modern(s.addr, "tools/call", Some("nope"), json!({"name": "nope"})), 400, -32602);
}

#[test]
fn discover_and_pagination() {
    let cfg = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    let s = start(cfg, ServerSettings { page_size: 2, ..Default::default() });
    let d = modern(s.addr, "server/discover", None, json!({})).json();
    assert_eq!(d["result"]["supportedVersions"], json!(["2026-07-28"]));
    assert_eq!(d["result"]["ttlMs"], 0);
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let params = cursor.as_ref().map_or(json!({}), |c| json!({"cursor": c}));
        let v = modern(s.addr, "tools/list", None, params).json();
        names.extend(v["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        match v["result"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["calculate", "echo", "restart_server"]);
    assert_error(&modern(s.addr, "tools/list", None, json!({"cursor": "garbage!"})), 400, -32602);
}

#[test]
fn legacy_session_lifecycle() {
    let s = default_server();
    let sid = initialize(s.addr);
    assert_eq!(sid.len(), 32);
    let r = legacy(s.addr, &sid, json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    assert_eq!(r.status, 202);
    let r = legacy(
        s.addr,
        &sid,
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate","arguments":{"a":6,"b":7,"op":"multiply"}}}),
    );
    assert_eq!(r.json()["result"]["structuredContent"]["result"], 42.0);
    // Errors inside a session keep HTTP 200 so the session survives.
    let r = legacy(s.addr, &sid, json!({"jsonrpc":"2.0","id":2,"method":"nope"}));
    assert_error(&r, 200, -32601);
    // Missing and unknown sessions.
    let r = send(s.addr, "POST", &[JSON, ACCEPT], br#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#);
    assert_eq!(r.status, 400);
    let r = legacy(s.addr, "00000000000000000000000000000000", json!({"jsonrpc":"2.0","id":4,"method":"tools/list"}));
    assert_eq!(r.status, 404);
    // DELETE ends it.
    let r = send(s.addr, "DELETE", &[("mcp-session-id", &sid)], b"");
    assert_eq!(r.status, 204);
    let r = legacy(s.addr, &sid, json!({"jsonrpc":"2.0","id":5,"method":"tools/list"}));
    assert_eq!(r.status, 404);
}

#[test]
fn session_cap_is_503() {
    let cfg = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    let sessions = SessionLimits { max_sessions: 2, ..Default::default() };
    let s = start(cfg, ServerSettings { sessions, ..Default::default() });
    initialize(s.addr);
    initialize(s.addr);
    let body = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let r = send(s.addr, "POST", &[JSON, ACCEPT], &serde_json::to_vec(&body).unwrap());
    assert_error(&r, 503, -32052);
}

#[test]
fn connection_cap_is_503() {
    let cfg = mcp_transport::HttpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_concurrent_connections: 2,
        ..Default::default()
    };
    let s = start(cfg, ServerSettings::default());
    let _a = TcpStream::connect(s.addr).unwrap();
    let _b = TcpStream::connect(s.addr).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    let r = parse(&raw);
    assert_error(&r, 503, -32052);
}

#[test]
fn cors_preflight_only_for_configured_origins() {
    let mut cfg = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    cfg.cors.allowed_origins = vec!["https://app.example.com".into()];
    let s = start(cfg, ServerSettings::default());
    let r = send(
        s.addr,
        "OPTIONS",
        &[("origin", "https://app.example.com"), ("access-control-request-method", "POST")],
        b"",
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example.com"));
    let r = send(
        s.addr,
        "OPTIONS",
        &[("origin", "https://other.example.com"), ("access-control-request-method", "POST")],
        b"",
    );
    assert_eq!(r.status, 403);
}

#[test]
fn input_required_state_is_integrity_protected() {
    // Uses the stateless era directly against a server with an elicitation tool.
    let s = default_server();
    // The demo server has no input tools; a forged requestState on any call must still be refused.
    let r = modern(
        s.addr,
        "tools/call",
        Some("echo"),
        json!({"name": "echo", "arguments": {"text": "hi"}, "requestState": "abc.def"}),
    );
    assert_error(&r, 400, -32602);
}

#[test]
fn stdio_both_eras_and_bad_lines() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let server = mcp_server::demo::add_demo(McpServer::builder("t", "1")).danger_allow_unauthenticated().build().unwrap();
        let input = [
            "not json".to_owned(),
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{}}}"#.to_owned(),
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_owned(),
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"calculate","arguments":{"a":1,"b":2,"op":"add"}}}"#.to_owned(),
            String::from_utf8(modern_body(4, "tools/call", json!({"name":"calculate","arguments":{"a":2,"b":2,"op":"multiply"}}))).unwrap(),
            String::from_utf8(modern_body(5, "logging/setLevel", json!({"level":"debug"}))).unwrap(),
        ]
        .join("\n")
            + "\n";
        let (out_w, mut out_r) = tokio::io::duplex(1 << 16);
        mcp_server::stdio::serve_io(server, input.as_bytes(), out_w).await.unwrap();
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut out_r, &mut out).await.unwrap();
        let msgs: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let by_id = |id: Value| msgs.iter().find(|m| m["id"] == id).cloned().unwrap_or_else(|| panic!("no answer for {id}: {out}"));
        assert_eq!(msgs.iter().find(|m| m["id"].is_null()).unwrap()["error"]["code"], -32700);
        assert_eq!(by_id(json!(1))["error"]["code"], -32600, "requests before initialize are refused");
        assert_eq!(by_id(json!(2))["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(by_id(json!(3))["result"]["structuredContent"]["result"], 3.0);
        assert_eq!(by_id(json!(4))["result"]["structuredContent"]["result"], 4.0);
        assert_eq!(by_id(json!(4))["result"]["resultType"], "complete");
        assert_eq!(by_id(json!(5))["error"]["code"], -32601, "logging/setLevel is gone in 2026-07-28");
    });
}

fn streaming_server() -> Server {
    use mcp_protocol::types::CallToolResult;
    use mcp_server::{HandlerError, RequestContext, ToolSpec};
    let cfg = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    start_with(cfg, || {
        McpServer::builder("stream", "1")
            .danger_allow_unauthenticated()
            .add_tool(ToolSpec::new("progress", "reports progress").raw_handler(|_, ctx: RequestContext| async move {
                for p in [1.0, 2.0] {
                    ctx.progress(p, Some(2.0), None).await;
                }
                Ok::<_, HandlerError>(CallToolResult::text("done"))
            }))
            .add_tool(ToolSpec::new("ask", "asks for a name").raw_handler(|_, ctx: RequestContext| async move {
                let schema = json!({"message": "name?", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}});
                let a = ctx.request_input("who", "elicitation/create", schema).await?;
                Ok(CallToolResult::text(format!("hello {}", a["content"]["name"].as_str().unwrap_or("?"))))
            }))
    })
}

#[test]
fn notifications_switch_the_answer_to_sse() {
    let s = streaming_server();
    let mut body: Value = serde_json::from_slice(&modern_body(9, "tools/call", json!({"name": "progress"}))).unwrap();
    body["params"]["_meta"]["progressToken"] = json!("tok");
    let h =
        [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "progress")];
    let r = send(s.addr, "POST", &h, &serde_json::to_vec(&body).unwrap());
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let msgs = r.sse();
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    assert_eq!(msgs[0]["method"], "notifications/progress");
    assert_eq!(msgs[0]["params"]["progressToken"], "tok");
    assert_eq!(msgs[1]["params"]["progress"], 2.0);
    assert_eq!(msgs[2]["id"], 9);
    assert_eq!(msgs[2]["result"]["content"][0]["text"], "done");
}

#[test]
fn input_required_round_trip_and_tampering() {
    let s = streaming_server();
    let mut caps = json!({"name": "ask"});
    let call = |params: &Value| {
        let mut body: Value = serde_json::from_slice(&modern_body(3, "tools/call", params.clone())).unwrap();
        body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({"elicitation": {}});
        let h =
            [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "ask")];
        send(s.addr, "POST", &h, &serde_json::to_vec(&body).unwrap()).json()
    };
    let first = call(&caps);
    assert_eq!(first["result"]["resultType"], "input_required");
    assert_eq!(first["result"]["inputRequests"]["who"]["method"], "elicitation/create");
    let state = first["result"]["requestState"].as_str().unwrap().to_owned();
    caps["inputResponses"] = json!({"who": {"action": "accept", "content": {"name": "Ada"}}});
    caps["requestState"] = json!(state);
    let done = call(&caps);
    assert_eq!(done["result"]["content"][0]["text"], "hello Ada");
    caps["requestState"] = json!(format!("{state}x"));
    assert_eq!(call(&caps)["error"]["code"], -32602, "a tampered state is refused");
    // A state is bound to its arguments: replaying it onto other arguments is refused.
    caps["requestState"] = json!(state);
    caps["arguments"] = json!({"other": 1});
    assert_eq!(call(&caps)["error"]["code"], -32602);
    // Without the elicitation capability the stateless era says which capability is missing.
    let h = [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/call"), ("mcp-name", "ask")];
    let r = send(s.addr, "POST", &h, &modern_body(4, "tools/call", json!({"name": "ask"})));
    assert_error(&r, 400, -32021);
    assert!(r.json()["error"]["data"]["requiredCapabilities"]["elicitation"].is_object());
}

/// Open a request and return the socket plus what arrived before `until` appeared.
fn open_stream(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8], until: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!("POST /mcp HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(until) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (s, String::from_utf8_lossy(&got).into_owned())
}

#[test]
fn listen_streams_ack_and_are_capped() {
    let cfg = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    let s = start(cfg, ServerSettings { max_listen_streams: 1, ..Default::default() });
    let h = [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "subscriptions/listen")];
    let body = modern_body(11, "subscriptions/listen", json!({"notifications": {"toolsListChanged": true}}));
    let (first, text) = open_stream(s.addr, &h, &body, "acknowledged");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"io.modelcontextprotocol/subscriptionId\":11"), "{text}");
    assert!(text.contains("\"toolsListChanged\":true"), "{text}");
    let r = send(s.addr, "POST", &h, &body);
    assert_error(&r, 503, -32052);
    // Closing the first stream gives its place back.
    drop(first);
    let mut ok = false;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(20));
        let (_s, text) = open_stream(s.addr, &h, &body, "\r\n\r\n");
        if text.starts_with("HTTP/1.1 200") {
            ok = true;
            break;
        }
    }
    assert!(ok, "the listen slot was not released after the client left");
}

/// A server with two API keys (`alice`, `bob`); returns it and both keys.
fn api_key_server() -> (Server, String, String) {
    use secrecy::ExposeSecret;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pepper = mcp_auth::generate_pepper().unwrap();
    let alice = mcp_auth::generate_api_key("alice", &pepper, &["tools"], &[], None).unwrap();
    let bob = mcp_auth::generate_api_key("bob", &pepper, &["tools"], &[], None).unwrap();
    let keys = (alice.key.expose_secret().to_owned(), bob.key.expose_secret().to_owned());
    let pepper_ref = mcp_auth::SecretRef::Secret("test/pepper".into());
    let cfg = mcp_auth::AuthConfig {
        methods: vec![mcp_auth::MethodName::ApiKey],
        api_keys: Some(mcp_auth::ApiKeysConfig {
            header: "X-API-Key".into(),
            pepper: pepper_ref.clone(),
            keys: vec![alice.entry, bob.entry],
        }),
        ..Default::default()
    };
    let auth = mcp_auth::CompositeAuthenticator::builder(cfg).secret(pepper_ref, pepper).build().unwrap();
    let http = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    let server = start_with(http, move || {
        mcp_server::demo::add_demo(McpServer::builder("auth", "1")).authenticator(std::sync::Arc::new(auth))
    });
    (server, keys.0, keys.1)
}

#[test]
fn api_keys_guard_every_request() {
    let (s, alice, _bob) = api_key_server();
    let body = modern_body(1, "tools/list", json!({}));
    let base = [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list")];
    // No key: 401 with a challenge, security headers, nothing about the tools.
    let r = send(s.addr, "POST", &base, &body);
    assert_error(&r, 401, -32050);
    assert!(r.header("www-authenticate").is_some(), "{r:?}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // Right key: served.
    let mut h = base.to_vec();
    h.push(("x-api-key", &alice));
    assert_eq!(send(s.addr, "POST", &h, &body).status, 200);
    // A key differing in its last byte: 401.
    let mut wrong = alice.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let mut h = base.to_vec();
    h.push(("x-api-key", &wrong));
    assert_error(&send(s.addr, "POST", &h, &body), 401, -32050);
    // A token in the query string is refused outright.
    let mut q = TcpStream::connect(s.addr).unwrap();
    let req = format!(
        "POST /mcp?access_token=abc HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\nx-api-key: {alice}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        s.addr
    );
    q.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    q.read_to_end(&mut raw).unwrap();
    assert_eq!(parse(&raw).status, 400);
    // Two Authorization headers: 400.
    let mut h = base.to_vec();
    h.push(("authorization", "Bearer a"));
    h.push(("authorization", "Bearer b"));
    assert_eq!(send(s.addr, "POST", &h, &body).status, 400);
}

#[test]
fn sessions_are_bound_to_their_principal() {
    let (s, alice, bob) = api_key_server();
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let r = send(s.addr, "POST", &[JSON, ACCEPT, ("x-api-key", &alice)], &serde_json::to_vec(&init).unwrap());
    assert_eq!(r.status, 200);
    let sid = r.header("mcp-session-id").unwrap().to_owned();
    let list = serde_json::to_vec(&json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).unwrap();
    let as_alice = send(s.addr, "POST", &[JSON, ACCEPT, ("x-api-key", &alice), ("mcp-session-id", &sid)], &list);
    assert_eq!(as_alice.status, 200);
    let as_bob = send(s.addr, "POST", &[JSON, ACCEPT, ("x-api-key", &bob), ("mcp-session-id", &sid)], &list);
    assert_eq!(as_bob.status, 404, "another principal cannot use alice's session");
}

/// Run the `mcp-server` binary with a private data dir; returns (success, stdout, stderr).
fn cli(data_dir: &std::path::Path, args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-server"))
        .args(args)
        .env("MCP_SERVER__DATA_DIR", data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn secrets_cli_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let value = "s3cr3t-value-for-the-cli-test";
    let (ok, out, err) = cli(d, &["secrets", "set", "github/token"], value.as_bytes());
    assert!(ok, "{out}{err}");
    let (ok, out, _) = cli(d, &["secrets", "list"], b"");
    assert!(ok && out.contains("github/token"), "{out}");
    let (ok, out, _) = cli(d, &["secrets", "get", "github/token"], b"");
    assert!(ok && !out.contains(value), "get without --reveal must not print the value: {out}");
    let (ok, out, _) = cli(d, &["secrets", "get", "github/token", "--reveal"], b"");
    assert!(ok && out.contains(value), "{out}");
    let (ok, out, err) = cli(d, &["secrets", "rotate-master-key"], b"");
    assert!(ok, "{out}{err}");
    let (_, out, _) = cli(d, &["secrets", "get", "github/token", "--reveal"], b"");
    assert!(out.contains(value), "values survive a master-key rotation: {out}");
    let (ok, _, _) = cli(d, &["secrets", "rotate", "github/token", "--alphanumeric", "40"], b"");
    assert!(ok);
    let (_, out, _) = cli(d, &["secrets", "get", "github/token", "--reveal"], b"");
    assert!(!out.contains(value), "rotation replaced the value");
    let (ok, _, err) = cli(d, &["secrets", "set", "../etc/passwd"], b"x");
    assert!(!ok && err.contains("not a secret name"), "{err}");
    let (ok, _, _) = cli(d, &["secrets", "delete", "github/token"], b"");
    assert!(ok);
    let (_, out, _) = cli(d, &["secrets", "list"], b"");
    assert!(!out.contains("github/token"));
}

#[test]
fn keys_new_cli_stores_only_a_digest() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) =
        cli(dir.path(), &["keys", "new", "--name", "client-1", "--permissions", "tools,resources"], b"");
    assert!(ok, "{out}{err}");
    let key = out.split_whitespace().find(|w| w.starts_with("mcp_")).unwrap().to_owned();
    let stored = std::fs::read_to_string(dir.path().join("api-keys.toml")).unwrap();
    assert!(stored.contains("client-1") && !stored.contains(&key), "{stored}");
    let (ok, _, err) = cli(dir.path(), &["keys", "new", "--name", "client-1"], b"");
    assert!(!ok && err.contains("exists already"), "{err}");
}

#[test]
fn tools_get_only_their_declared_secrets_and_outputs_are_masked() {
    use mcp_protocol::types::CallToolResult;
    use mcp_server::{HandlerError, RequestContext, ToolSpec};
    use secrecy::ExposeSecret;
    let cfg = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let secrets = rt.block_on(async {
        let c: mcp_secrets::SecretsConfig = serde_json::from_str(r#"{"backend": "memory"}"#).unwrap();
        let s = mcp_secrets::build(&c).await.unwrap();
        let name = mcp_core::traits::SecretName::parse("api/token").unwrap();
        s.store().write(&name, secrecy::SecretBox::new(Box::from(&b"tok-3f9a8b7c6d5e"[..]))).await.unwrap();
        s
    });
    let s = start_with(cfg, move || {
        let leak = |declared: &'static [&'static str], wanted: &'static str| {
            ToolSpec::new(if declared.is_empty() { "sneaky" } else { "leaky" }, "returns a secret")
                .secrets(declared)
                .raw_handler(move |_, ctx: RequestContext| async move {
                    let v = ctx.secret(wanted).await?;
                    let text = String::from_utf8_lossy(v.expose_secret()).into_owned();
                    Ok::<_, HandlerError>(CallToolResult::text(format!("the token is {text}")))
                })
        };
        McpServer::builder("secrets", "1")
            .danger_allow_unauthenticated()
            .secret_store(secrets)
            .add_tool(leak(&["api/token"], "api/token"))
            .add_tool(leak(&[], "api/token"))
    });
    let r = modern(s.addr, "tools/call", Some("leaky"), json!({"name": "leaky"}));
    assert!(!r.body.contains("tok-3f9a8b7c6d5e"), "the value never reaches the client: {}", r.body);
    assert_eq!(r.json()["result"]["content"][0]["text"], "the token is [REDACTED:api/token]");
    let r = modern(s.addr, "tools/call", Some("sneaky"), json!({"name": "sneaky"}));
    assert_eq!(r.json()["result"]["isError"], true);
    assert!(!r.body.contains("tok-3f9a8b7c6d5e"), "{}", r.body);
}

mod audit_crash;
mod authz_runtime;
mod cli_audit;
mod gdpr_purge;
mod monitor_alerts;
#[cfg(feature = "otel")]
mod otel;
mod protection;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_blocks;
mod rotation_grace;
