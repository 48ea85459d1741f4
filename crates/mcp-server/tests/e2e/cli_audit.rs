//! The audit log written by a real `mcp-server serve` run, then `audit verify`, the GDPR
//! commands, the block list and `authz explain` on it.

use std::process::{Child, Command, Stdio};

use super::*;

/// `mcp-server serve` on a free port with its own data dir; killed (SIGTERM) on drop.
struct Serve {
    child: Child,
    addr: SocketAddr,
}

impl Serve {
    fn start(data: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mcp-server"))
            .args(["serve", "--listen", &addr.to_string()])
            .env("MCP_SERVER__DATA_DIR", data)
            .env("MCP_LOGGING__LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let serve = Self { child, addr };
        for _ in 0..200 {
            if TcpStream::connect(addr).is_ok() {
                return serve;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("mcp-server serve did not start");
    }

    /// SIGTERM and wait: the server drains and closes its audit log.
    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn new_key(data: &std::path::Path, name: &str, roles: &str) -> String {
    let (ok, out, err) = cli(data, &["keys", "new", "--name", name, "--roles", roles], b"");
    assert!(ok, "{out}{err}");
    out.split_whitespace().find(|w| w.starts_with("mcp_")).unwrap().to_owned()
}

fn call(addr: SocketAddr, key: &str, a: u32) -> Resp {
    let h = [
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "calculate"),
        ("x-api-key", key),
    ];
    send(
        addr,
        "POST",
        &h,
        &modern_body(1, "tools/call", json!({"name": "calculate", "arguments": {"a": a, "b": 1, "op": "add"}})),
    )
}

#[test]
fn audit_log_of_a_real_run_verifies_and_gdpr_commands_keep_it_verifiable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let alice = new_key(d, "alice", "user");
    let bob = new_key(d, "bob", "user");
    let s = Serve::start(d);
    for i in 0..5 {
        assert_eq!(call(s.addr, &alice, i).status, 200);
        assert_eq!(call(s.addr, &bob, 100 + i).status, 200);
    }
    // A denied call is audited too.
    let h = [
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "restart_server"),
        ("x-api-key", &alice),
    ];
    assert_eq!(send(s.addr, "POST", &h, &modern_body(2, "tools/call", json!({"name": "restart_server"}))).status, 400);
    s.stop();

    let (ok, out, err) = cli(d, &["audit", "verify"], b"");
    assert!(ok, "{out}{err}");
    assert!(out.contains("audit log OK"), "{out}");
    // Parameters are never written, only their keyed digest.
    let log = std::fs::read_to_string(d.join("audit/audit.log")).unwrap();
    assert!(log.contains("params_hash") && !log.contains("\"op\""), "{log}");
    assert!(log.contains("denied"), "the refused call has its record: {log}");

    let (ok, out, err) =
        cli(d, &["gdpr", "consent", "give", "--client", "alice", "--purpose", "marketing", "--by", "dpo"], b"");
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(d, &["gdpr", "export", "--client", "alice"], b"");
    assert!(ok, "{err}");
    let export: Value = serde_json::from_str(&out).unwrap();
    assert!(export.to_string().matches("tools/call").count() >= 6, "{export}");
    assert_eq!(export["consent"][0]["purpose"], "marketing", "{export}");

    let (ok, out, err) = cli(d, &["gdpr", "erase", "--client", "alice"], b"");
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(d, &["audit", "verify"], b"");
    assert!(ok, "verify after erasure: {out}{err}");
    let (_, out, _) = cli(d, &["gdpr", "export", "--client", "alice"], b"");
    assert!(!out.contains("tools/call") && !out.contains("marketing"), "nothing left about alice: {out}");
    let (_, out, _) = cli(d, &["gdpr", "export", "--client", "bob"], b"");
    assert!(out.matches("tools/call").count() >= 5, "bob untouched: {out}");
    let all: String = std::fs::read_dir(d.join("audit"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(!all.contains("\"alice\""), "alice's id is gone from every audit file");

    // Tampering is found and reported with a non-zero exit.
    let path = d.join("audit/audit.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let tampered = text.replacen("\"bob\"", "\"eve\"", 1);
    assert_ne!(text, tampered);
    std::fs::write(&path, tampered).unwrap();
    let (ok, out, err) = cli(d, &["audit", "verify"], b"");
    assert!(!ok && err.contains("FAILED"), "{out}{err}");
}

#[test]
fn block_list_and_authz_explain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out, err) = cli(d, &["block", "add", "client:mallory", "--secs", "600", "--reason", "test"], b"");
    assert!(ok, "{out}{err}");
    let (_, out, _) = cli(d, &["block", "list"], b"");
    assert!(out.contains("client:mallory"), "{out}");
    let (ok, _, _) = cli(d, &["block", "remove", "client:mallory"], b"");
    assert!(ok);
    let (_, out, _) = cli(d, &["block", "list"], b"");
    assert!(!out.contains("mallory"), "{out}");
    let (ok, _, err) = cli(d, &["block", "remove", "client:mallory"], b"");
    assert!(!ok && err.contains("not blocked"), "{err}");

    // A user may not restart the server (exit 2 and the rule chain); an admin may.
    let (ok, out, _) = cli(d, &["authz", "explain", "--role", "user", "--call", "tools/call:restart_server"], b"");
    assert!(!ok && out.contains("restart_server"), "{out}");
    let (ok, out, err) = cli(d, &["authz", "explain", "--role", "admin", "--call", "tools/call:restart_server"], b"");
    assert!(ok, "{out}{err}");
    let (ok, out, _) = cli(
        d,
        &["authz", "explain", "--claims", r#"{"sub":"t","scope":"mcp:tools"}"#, "--call", "tools/call:restart_server"],
        b"",
    );
    assert!(!ok && out.contains("mcp:admin"), "the step-up scope is named: {out}");
}
