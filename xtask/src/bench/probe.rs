//! The requests the benchmark sends, and a one-shot HTTP/1.1 client (std only) to check a server
//! answers them correctly before it is loaded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::util::Result;

/// The modern protocol revision (stateless, `_meta` in every request).
const MODERN: &str = "2026-07-28";
/// The legacy protocol revision (sessions, `initialize` first).
const LEGACY: &str = "2025-11-25";
const ACCEPT: &str = "application/json, text/event-stream";
/// What a correct `calculate` answer (2 + 3) contains.
pub const EXPECTED: &str = r#""structuredContent":{"result":5.0}"#;

/// One POST /mcp: headers (besides Host and Content-Length) and body.
#[derive(Debug, Clone)]
pub struct Call {
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Call {
    fn new(extra: &[(&'static str, &str)], body: &str) -> Self {
        let mut headers = vec![("content-type", "application/json".to_string()), ("accept", ACCEPT.to_string())];
        headers.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        Self { headers, body: body.to_string() }
    }
}

/// `tools/call calculate` on the modern era (mirrored `Mcp-Method` / `Mcp-Name` headers).
pub fn modern_call() -> Call {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"calculate","arguments":{{"a":2,"b":3,"op":"add"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"{MODERN}","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
    );
    Call::new(&[("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "calculate")], &body)
}

/// `tools/call calculate` inside a legacy session.
pub fn legacy_call(session: &str) -> Call {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculate","arguments":{"a":2,"b":3,"op":"add"}}}"#;
    Call::new(&[("mcp-session-id", session), ("mcp-protocol-version", LEGACY)], body)
}

/// A legacy `initialize` (no protocol-version header): opens a session.
pub fn initialize() -> Call {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{LEGACY}","capabilities":{{}},"clientInfo":{{"name":"bench","version":"1"}}}}}}"#
    );
    Call::new(&[], &body)
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    head: String,
    pub body: String,
}

impl Reply {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Send `call` to `addr` on a fresh connection (`Connection: close`) and read the whole reply.
pub fn send(addr: SocketAddr, call: &Call) -> Result<Reply> {
    let mut req = format!("POST /mcp HTTP/1.1\r\nhost: {addr}\r\n");
    for (k, v) in &call.headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n{}", call.body.len(), call.body));
    let io = |e: std::io::Error| format!("request to {addr}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(io)?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(io)?;
    stream.write_all(req.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    parse(&String::from_utf8_lossy(&raw))
}

fn parse(raw: &str) -> Result<Reply> {
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(|| format!("malformed HTTP response: {raw:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("malformed status line: {head:?}"))?;
    Ok(Reply { status, head: head.to_string(), body: body.to_string() })
}

/// Fail unless `call` gets a 200 carrying the expected `calculate` result; the error says what
/// came back (with the `WWW-Authenticate` challenge when the credential was refused).
pub fn check(addr: SocketAddr, call: &Call) -> Result {
    let reply = send(addr, call)?;
    if reply.status == 200 && reply.body.contains(EXPECTED) {
        return Ok(());
    }
    let challenge = match reply.header("www-authenticate") {
        Some(c) => format!("\nwww-authenticate: {c} (the credential was refused)"),
        None => String::new(),
    };
    Err(format!(
        "answered the check request wrongly (want 200 and {EXPECTED}):\nstatus {}{challenge}\n{}",
        reply.status, reply.body
    ))
}

/// Open a legacy session with `init` (an [`initialize`] call); its `mcp-session-id`.
pub fn open_session(addr: SocketAddr, init: &Call) -> Result<String> {
    let reply = send(addr, init)?;
    match (reply.status, reply.header("mcp-session-id")) {
        (200, Some(id)) if !id.is_empty() => Ok(id.to_string()),
        _ => Err(format!("initialize at {addr} gave no session: status {}\n{}", reply.status, reply.body)),
    }
}
