//! Authorization changes while the server runs: the `[authorization]` policy reloaded on SIGHUP
//! by the real binary, and a tool replaced through the server handle, both audited.

use std::process::{Command, Stdio};

use mcp_protocol::types::CallToolResult;
use mcp_server::{Config, HandlerError, PinMode, ToolReplaced, ToolSpec};

use super::*;

/// `mcp-server serve` with stderr to a file; SIGTERM on `stop`, killed on drop.
struct Binary {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Binary {
    fn spawn(data: &std::path::Path, config: &std::path::Path, stderr: std::fs::File) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mcp-server"))
            .args(["serve", "--config", config.to_str().unwrap(), "--listen", &addr.to_string()])
            .env("MCP_SERVER__DATA_DIR", data)
            .env("MCP_LOGGING__LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap();
        let b = Self { child, addr };
        for _ in 0..200 {
            if TcpStream::connect(addr).is_ok() {
                return b;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("mcp-server serve did not start");
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success());
    }

    /// SIGTERM and wait: the server drains and closes its audit log.
    fn stop(mut self) {
        self.signal("-TERM");
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const VIEWER_LISTS: &str = "[authorization.roles.viewer]\npermissions = [\"tools:list\"]\n";
const VIEWER_CALCULATES: &str =
    "[authorization.roles.viewer]\npermissions = [\"tools:list\", \"tools:execute:calculate\"]\n";

/// `calculate` of 4 + 1: allowed when the answer is 5.
fn calculate(addr: SocketAddr, key: &str) -> Resp {
    super::cli_audit::call(addr, key, 4)
}

fn allowed(r: &Resp) -> bool {
    r.status == 200 && r.json()["result"]["structuredContent"]["result"] == 5.0
}

/// The binary reloads `[authorization]` on SIGHUP: a denied call becomes allowed once the role
/// gains the permission; a broken file is refused with a message naming the problem and the
/// previous policy stays; both reloads are in the audit log with digests, not content.
#[test]
fn sighup_reloads_the_policy_and_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out, err) = cli(d, &["keys", "new", "--name", "carol", "--roles", "viewer"], b"");
    assert!(ok, "{out}{err}");
    let key = out.split_whitespace().find(|w| w.starts_with("mcp_")).unwrap().to_owned();
    let cfg = d.join("server.toml");
    std::fs::write(&cfg, VIEWER_LISTS).unwrap();
    let s = Binary::spawn(d, &cfg, std::fs::File::create(d.join("stderr.log")).unwrap());

    let denied = calculate(s.addr, &key);
    assert_error(&denied, 400, -32602); // hidden as an unknown tool
    std::fs::write(&cfg, VIEWER_CALCULATES).unwrap();
    s.signal("-HUP");
    let mut now_allowed = false;
    for _ in 0..100 {
        if allowed(&calculate(s.addr, &key)) {
            now_allowed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(now_allowed, "the reloaded policy was not applied");

    // Broken: the viewer loses the permission but inherits a role that does not exist.
    let broken = "[authorization.roles.viewer]\npermissions = [\"tools:list\"]\ninherits = [\"ghost\"]\n";
    std::fs::write(&cfg, broken).unwrap();
    s.signal("-HUP");
    let stderr = d.join("stderr.log");
    let mut refused = String::new();
    for _ in 0..100 {
        refused = std::fs::read_to_string(&stderr).unwrap();
        if refused.contains("configuration refused") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(refused.contains("configuration refused") && refused.contains("ghost"), "{refused}");
    assert!(allowed(&calculate(s.addr, &key)), "the previous policy stays in force");
    // Not TOML at all: refused the same way.
    std::fs::write(&cfg, "[authorization\n").unwrap();
    s.signal("-HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(allowed(&calculate(s.addr, &key)), "the previous policy stays in force");
    s.stop();

    let audit = std::fs::read_to_string(d.join("audit/audit.log")).unwrap();
    let events: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v.get("body").cloned().unwrap_or(v))
        .filter(|b| b["event"] == "config_change")
        .collect();
    let reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert_eq!(
        reasons,
        ["authorization policy reloaded", "authorization reload refused", "configuration reload refused"],
        "{audit}"
    );
    let old: mcp_authz::AuthorizationConfig = toml::from_str(VIEWER_LISTS).map(authz).unwrap();
    let new: mcp_authz::AuthorizationConfig = toml::from_str(VIEWER_CALCULATES).map(authz).unwrap();
    let digests = format!("sha256:{}->sha256:{}", mcp_authz::hex(&old.digest()), mcp_authz::hex(&new.digest()));
    assert_eq!(events[0]["rule"], digests.as_str(), "{audit}");
    assert_eq!(events[0]["target"], "authorization");
    let recorded = serde_json::to_string(&events).unwrap();
    assert!(!recorded.contains("tools:execute") && !recorded.contains("viewer"), "digests, not the policy: {recorded}");
    let (ok, out, err) = cli(d, &["audit", "verify"], b"");
    assert!(ok && out.contains("audit log OK"), "{out}{err}");
}

fn authz(t: toml::Table) -> mcp_authz::AuthorizationConfig {
    t["authorization"].clone().try_into().unwrap()
}

fn echo_v2() -> ToolSpec {
    ToolSpec::new("echo", "Returns the text it is given, optionally shouted")
        .input_schema(json!({
            "type": "object",
            "properties": {"text": {"type": "string"}, "shout": {"type": "boolean"}},
            "required": ["text"]
        }))
        .raw_handler(|args, _ctx| async move {
            let text = args["text"].as_str().unwrap_or_default().to_owned();
            let text = if args["shout"] == true { text.to_uppercase() } else { text };
            Ok::<_, HandlerError>(CallToolResult::text(text))
        })
}

/// A served demo server with an audit log in `data`; returns the handle, the listener, and the
/// audit log to close.
fn audited_server(data: &std::path::Path, pin: PinMode) -> (Server, McpServer, std::sync::mpsc::Receiver<()>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let (closed_tx, closed_rx) = std::sync::mpsc::channel();
    let text = format!("[server]\ndata_dir = {:?}\n", data.display().to_string());
    let cfg = Config::parse(&text, []).unwrap();
    let http = mcp_transport::HttpConfig { listen: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
    let settings = ServerSettings { pin_tool_definitions: pin, ..Default::default() };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let b = mcp_server::demo::add_demo(McpServer::builder("t", "1").settings(settings));
            let (b, log) = b.danger_allow_unauthenticated().audit_from_config(&cfg).unwrap();
            let server = b.build().unwrap();
            tx.send(server.clone()).unwrap();
            let listener = mcp_transport::http::HttpServer::bind(http.clone()).await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            mcp_server::serve_on(server, listener, &http.path, async {
                let _ = stop_rx.await;
            })
            .await;
            let log = log.unwrap();
            tokio::task::spawn_blocking(move || log.writer.shutdown()).await.unwrap().unwrap();
            closed_tx.send(()).unwrap();
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let server = rx.recv().unwrap();
    (Server { addr, stop: Some(stop_tx), thread: Some(thread) }, server, closed_rx)
}

fn listed_hash(addr: SocketAddr, tool: &str) -> String {
    let v = modern(addr, "tools/list", None, json!({})).json();
    let t = v["result"]["tools"].as_array().unwrap().iter().find(|t| t["name"] == tool).unwrap().clone();
    t["_meta"]["io.mcp-secure/definitionHash"].as_str().unwrap().to_owned()
}

fn security_events(data: &std::path::Path, kind: &str) -> Vec<Value> {
    let audit = std::fs::read_to_string(data.join("audit/audit.log")).unwrap();
    audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v.get("body").cloned().unwrap_or(v))
        .filter(|b| b["event"] == kind)
        .collect()
}

/// Replacing a tool with a changed schema through the server handle: `tools/list` shows the new
/// hash, calls reach the new handler, listeners hear `notifications/tools/list_changed`, and
/// the audit log has `tool_definition_changed` with both hashes.
#[test]
fn replaced_tool_definition_is_listed_notified_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (s, server, closed) = audited_server(dir.path(), PinMode::Audit);
    let before = listed_hash(s.addr, "echo");
    let h = [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "subscriptions/listen")];
    let listen = modern_body(11, "subscriptions/listen", json!({"notifications": {"toolsListChanged": true}}));
    let (mut stream, text) = open_stream(s.addr, &h, &listen, "acknowledged");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    let replaced = server.replace_tool(echo_v2()).unwrap();
    let after = listed_hash(s.addr, "echo");
    assert_ne!(before, after);
    assert_eq!(replaced, ToolReplaced::DefinitionChanged { old_hash: before.clone(), new_hash: after.clone() });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("notifications/tools/list_changed") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(String::from_utf8_lossy(&got).contains("notifications/tools/list_changed"));
    drop(stream);
    let r =
        modern(s.addr, "tools/call", Some("echo"), json!({"name": "echo", "arguments": {"text": "hi", "shout": true}}));
    assert_eq!(r.json()["result"]["content"][0]["text"], "HI", "{}", r.body);
    let r = modern(s.addr, "tools/call", Some("echo"), json!({"name": "echo", "arguments": {"shout": true}}));
    assert_eq!(r.json()["result"]["isError"], true, "the new schema is enforced: {}", r.body);
    // The same definition again: no event. An unknown tool cannot be "replaced".
    assert_eq!(server.replace_tool(echo_v2()).unwrap(), ToolReplaced::SameDefinition);
    let stranger = ToolSpec::new("not_registered", "x")
        .raw_handler(|_, _| async { Ok::<_, HandlerError>(CallToolResult::text("x")) });
    assert!(server.replace_tool(stranger).unwrap_err().to_string().contains("not registered"));
    drop(s);
    closed.recv_timeout(Duration::from_secs(10)).unwrap();

    let events = security_events(dir.path(), "tool_definition_changed");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["target"], "echo");
    assert_eq!(events[0]["reason"], "tool definition changed");
    assert_eq!(events[0]["rule"], format!("sha256:{before}->sha256:{after}").as_str());
}

/// With `pin_tool_definitions = "refuse"` a changed definition is refused, the old one stays in
/// service, and the attempt is audited.
#[test]
fn pinned_tool_definitions_refuse_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let (s, server, closed) = audited_server(dir.path(), PinMode::Refuse);
    let before = listed_hash(s.addr, "echo");
    let e = server.replace_tool(echo_v2()).unwrap_err().to_string();
    assert!(e.contains("pin_tool_definitions") && e.contains(&before), "{e}");
    assert_eq!(listed_hash(s.addr, "echo"), before);
    let r = modern(s.addr, "tools/call", Some("echo"), json!({"name": "echo", "arguments": {"text": "hi"}}));
    assert_eq!(r.json()["result"]["content"][0]["text"], "hi", "{}", r.body);
    drop(s);
    closed.recv_timeout(Duration::from_secs(10)).unwrap();
    let events = security_events(dir.path(), "tool_definition_changed");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["reason"], "tool definition change refused");
}
