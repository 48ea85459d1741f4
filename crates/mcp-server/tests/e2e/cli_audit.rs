//! The audit log written by a real `mcp-server serve` run, then `audit verify`, the GDPR
//! commands, the block list and `authz explain` on it.

use std::process::{Child, Command, Stdio};

use super::*;

/// `mcp-server serve` on a free port with its own data dir; killed (SIGKILL) on drop.
pub(super) struct Serve {
    pub(super) child: Child,
    pub(super) addr: SocketAddr,
}

impl Serve {
    /// `mcp-server serve` on a free port with the data dir `data` and the default config.
    fn start(data: &std::path::Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let env = [("MCP_SERVER__DATA_DIR", data.as_os_str()), ("MCP_LOGGING__LEVEL", "warn".as_ref())];
        Self::spawn(&["serve", "--listen", &addr], &env, port, Stdio::null())
    }

    /// `mcp-server ARGS` (a server that will listen on `port`), stderr to `stderr`; waits until
    /// it accepts connections.
    pub(super) fn spawn(args: &[&str], env: &[(&str, &std::ffi::OsStr)], port: u16, stderr: Stdio) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mcp-server"))
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let serve = Self { child, addr };
        for _ in 0..200 {
            if TcpStream::connect(addr).is_ok() {
                return serve;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("mcp-server {args:?} did not start");
    }

    /// SIGTERM and wait: the server drains and closes its audit log.
    pub(super) fn stop(mut self) {
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

pub(super) fn new_key(data: &std::path::Path, name: &str, roles: &str) -> String {
    let (ok, out, err) = cli(data, &["keys", "new", "--name", name, "--roles", roles], b"");
    assert!(ok, "{out}{err}");
    out.split_whitespace().find(|w| w.starts_with("mcp_")).unwrap().to_owned()
}

/// The headers of a stateless-era `tools/call calculate` carrying the API key `key`.
pub(super) fn calculate_headers(key: &str) -> [(&str, &str); 6] {
    [
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "calculate"),
        ("x-api-key", key),
    ]
}

/// `calculate` of `a + 1` with the API key `key`.
pub(super) fn call(addr: SocketAddr, key: &str, a: u32) -> Resp {
    let args = json!({"name": "calculate", "arguments": {"a": a, "b": 1, "op": "add"}});
    send(addr, "POST", &calculate_headers(key), &modern_body(1, "tools/call", args))
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
    // Under [hipaa] the broken chain is also a breach notification.
    let sink = d.join("breach.json");
    let cfg = d.join("hipaa.toml");
    std::fs::write(
        &cfg,
        format!("[server]\ndata_dir = {d:?}\n[hipaa]\nenabled = true\nnotification = {{ command = [\"sh\", \"-c\", \"cat > {}\"] }}\n", sink.display()),
    )
    .unwrap();
    let (ok, _, _) = cli(d, &["audit", "verify", "--config", cfg.to_str().unwrap()], b"");
    assert!(!ok);
    let note = std::fs::read_to_string(&sink).unwrap();
    assert!(note.contains("breach_suspected") && note.contains("audit log chain"), "{note}");
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

/// An HS256 JWT for `secret`.
pub(super) fn hs256(secret: &[u8], claims: &Value) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let input = format!("{}.{}", b64(br#"{"alg":"HS256","typ":"JWT"}"#), b64(claims.to_string().as_bytes()));
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// `key` stored as `jwt/hmac` in the data dir `d`, and `mcp-server serve` accepting HS256 JWTs
/// signed with it (`extra` TOML sections, `jwt_extra` keys of `[auth.jwt]`, `env` more `MCP_*`
/// variables); returns the server and its resource URI.
pub(super) fn jwt_server(
    d: &std::path::Path,
    key: &str,
    extra: &str,
    jwt_extra: &str,
    env: &[(&str, &str)],
    stderr: Stdio,
) -> (Serve, String) {
    let (ok, out, err) = cli(d, &["secrets", "set", "jwt/hmac"], key.as_bytes());
    assert!(ok, "{out}{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let resource = format!("http://127.0.0.1:{port}/mcp");
    let config = d.join("server.toml");
    let text = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n\
         [auth]\nmethods = [\"jwt\"]\nresource = \"{resource}\"\n[auth.jwt]\nissuer = \"https://issuer.test\"\n\
         algorithms = [\"HS256\"]\n{jwt_extra}keys = [{{ hmac_secret = {{ secret = \"jwt/hmac\" }} }}]\n{extra}"
    );
    std::fs::write(&config, text).unwrap();
    let mut vars = vec![("MCP_SERVER__DATA_DIR", d.as_os_str())];
    vars.extend(env.iter().map(|(k, v)| (*k, std::ffi::OsStr::new(*v))));
    (Serve::spawn(&["serve", "--config", config.to_str().unwrap()], &vars, port, stderr), resource)
}

/// A known secret (the JWT signing key, kept in the secret store) never shows up in the server's
/// log (at debug level), its audit files or any response — even when a client sends it.
#[test]
fn canary_secret_never_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let canary = "CANARY-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e";
    let log = d.join("server.log");
    let (server, resource) =
        jwt_server(d, canary, "[logging]\nlevel = \"debug\"\n", "", &[], std::fs::File::create(&log).unwrap().into());
    let addr = server.addr;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"iss": "https://issuer.test", "aud": resource, "sub": "canary-client", "iat": now, "exp": now + 600, "roles": ["user"]});
    let good = hs256(canary.as_bytes(), &claims);
    let forged = hs256(b"not-the-key-but-long-enough-for-hs256!!", &claims);
    let mut bodies = Vec::new();
    for (token, text) in [(&good, canary), (&good, "hello"), (&forged, canary)] {
        let bearer = format!("Bearer {token}");
        let h = [
            JSON,
            ACCEPT,
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
            ("authorization", &bearer),
        ];
        let r =
            send(addr, "POST", &h, &modern_body(1, "tools/call", json!({"name": "echo", "arguments": {"text": text}})));
        bodies.push(format!("{r:?}"));
    }
    assert!(bodies[1].contains("hello"), "the valid token works: {}", bodies[1]);
    assert!(bodies[0].contains("REDACTED"), "an echoed secret is masked: {}", bodies[0]);
    assert!(bodies[2].contains("401"), "a forged token is refused: {}", bodies[2]);
    server.stop();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("canary-client"), "the log has the run: {logged}");
    let audit: String = std::fs::read_dir(d.join("audit"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(audit.contains("canary-client"), "the audit log has the run");
    for (what, text) in [("log", &logged), ("audit", &audit), ("responses", &bodies.concat())] {
        assert!(!text.contains(canary), "the secret leaked into the {what}");
    }
}

#[test]
fn security_check_and_hipaa_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The embedded default: no failure (exit 0), warnings that --strict turns into a failure.
    let (ok, out, _) = cli(d, &["security-check"], b"");
    assert!(ok && out.contains("WARN") && !out.contains("FAIL"), "{out}");
    let (ok, _, _) = cli(d, &["security-check", "--strict"], b"");
    assert!(!ok);
    let (ok, out, _) = cli(d, &["security-check", "--format", "json"], b"");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(ok && v["summary"]["fail"] == 0, "{out}");
    // The hardened example passes strictly.
    let hardened = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hardened.toml");
    let (ok, out, err) = cli(d, &["security-check", "--strict", "--config", hardened], b"");
    assert!(ok, "{out}{err}");
    // A literal secret in the file fails, naming the key and never printing the value.
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "[auth]\nmethods = [\"jwt\"]\nresource = \"http://127.0.0.1:1/mcp\"\n[auth.jwt]\nissuer = \"i\"\nalgorithms = [\"HS256\"]\nkeys = [{ hmac_secret = \"literal-secret-value-0123456789abcdef\" }]\n").unwrap();
    let (ok, out, err) = cli(d, &["security-check", "--config", bad.to_str().unwrap()], b"");
    assert!(
        !ok && out.contains("hmac_secret") && !format!("{out}{err}").contains("literal-secret-value"),
        "{out}{err}"
    );
    // HIPAA: a plain-HTTP listener refuses to start, naming the setting.
    let cfg = d.join("hipaa.toml");
    std::fs::write(&cfg, "[hipaa]\nenabled = true\nencryption = \"required\"\n").unwrap();
    let (ok, _, err) = cli(d, &["serve", "--config", cfg.to_str().unwrap()], b"");
    assert!(!ok && err.contains("hipaa.encryption") && err.contains("http.tls"), "{err}");
}

/// A JWT key rotated in the store by another process (`mcp-server secrets set`) is picked up by
/// the running server: tokens signed with the new key work, the old key's stop working.
#[test]
fn rotated_jwt_key_is_used_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (old, new) = ("first-key-0123456789abcdef0123456789ab", "second-key-fedcba9876543210fedcba98765");
    let extra = "[monitoring.blocking]\nblock_after = 1000\n";
    let poll = [("MCP_SERVER__SECRET_POLL_SECS", "1"), ("MCP_SECRETS__ROTATION_GRACE_SECS", "0")];
    let (server, resource) = jwt_server(d, old, extra, "cache_capacity = 0\n", &poll, Stdio::null());
    let addr = server.addr;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims =
        json!({"iss": "https://issuer.test", "aud": resource, "sub": "rotating", "iat": now, "exp": now + 600});
    let status = |key: &str| {
        let bearer = format!("Bearer {}", hs256(key.as_bytes(), &claims));
        let h = [
            JSON,
            ACCEPT,
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
            ("authorization", &bearer),
        ];
        send(addr, "POST", &h, &modern_body(1, "tools/list", json!({}))).status
    };
    assert_eq!((status(old), status(new)), (200, 401));
    let (ok, out, err) = cli(d, &["secrets", "set", "jwt/hmac"], new.as_bytes());
    assert!(ok, "{out}{err}");
    let mut switched = false;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        if status(new) == 200 {
            switched = true;
            break;
        }
    }
    let old_after = status(old);
    drop(server);
    assert!(switched, "the new key was not picked up");
    assert_eq!(old_after, 401, "the old key still works after the rotation");
}
