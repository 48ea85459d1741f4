//! The grace period after a rotation of the JWT HMAC secret, through a real `mcp-server serve`
//! whose secret is rotated in its store by another process.

use std::process::Stdio;
use std::time::Instant;

use super::cli_audit::{hs256, jwt_server};
use super::*;

/// Tokens signed with the previous key keep working until the new key is `[secrets]
/// rotation_grace_secs` old, each such request is audited as a straggler, and once the grace
/// is over they are refused and the end of the grace is recorded.
#[test]
fn previous_jwt_key_is_accepted_during_the_grace_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (old, new) = ("grace-old-key-0123456789abcdef0123456789", "grace-new-key-fedcba9876543210fedcba9876");
    let extra = "[monitoring.blocking]\nblock_after = 1000\n";
    let env = [("MCP_SERVER__SECRET_POLL_SECS", "1"), ("MCP_SECRETS__ROTATION_GRACE_SECS", "3")];
    let (server, resource) = jwt_server(d, old, extra, "cache_capacity = 0\n", &env, Stdio::null());
    let addr = server.addr;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims =
        json!({"iss": "https://issuer.test", "aud": resource, "sub": "straggler", "iat": now, "exp": now + 600});
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
    let mut switched = None;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        if status(new) == 200 {
            switched = Some(Instant::now());
            break;
        }
    }
    let switched = switched.expect("the new key was not picked up");
    let old_within = status(old);
    let within_at = switched.elapsed();
    std::thread::sleep(Duration::from_millis(3500).saturating_sub(switched.elapsed()));
    let (old_after, new_after) = (status(old), status(new));
    server.stop();
    assert!(within_at < Duration::from_secs(2), "the check within the grace came too late: {within_at:?}");
    assert_eq!(old_within, 200, "the previous key is refused within the grace period");
    assert_eq!((old_after, new_after), (401, 200), "after the grace period");
    let audit: String = std::fs::read_dir(d.join("audit"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    let stragglers = audit.lines().filter(|l| l.contains(mcp_server::PREVIOUS_SECRET_RULE)).count();
    assert_eq!(stragglers, 1, "one request was accepted with the previous key: {audit}");
    assert!(audit.contains("straggler"), "the straggler's principal is named");
    assert!(audit.contains("rotation grace period over"), "the end of the grace is recorded: {audit}");
    for key in [old, new] {
        assert!(!audit.contains(key), "a key leaked into the audit log");
    }
}

/// `[audit_log] key_secret`: rotating that secret while the server runs switches the audit log
/// to the new key (a new file, its anchor naming the new key id) without a restart, and `audit
/// verify` checks the whole log with the versions the store keeps; tampering is still found.
#[test]
fn audit_key_rotation_without_restart_and_verify_across_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (k1, k2) = ("audit-key-one-0123456789abcdef0123456789", "audit-key-two-fedcba9876543210fedcba9876");
    let (ok, out, err) = cli(d, &["secrets", "set", "audit/hmac"], k1.as_bytes());
    assert!(ok, "{out}{err}");
    let extra = "[audit_log]\nkey_secret = \"audit/hmac\"\n";
    let env = [("MCP_SERVER__SECRET_POLL_SECS", "1")];
    let jwt_key = "jwt-key-for-the-audit-rotation-test-0123456";
    let log = std::fs::File::create(d.join("server.log")).unwrap();
    let (server, resource) = jwt_server(d, jwt_key, extra, "", &env, log.into());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"iss": "https://issuer.test", "aud": resource, "sub": "auditor", "iat": now, "exp": now + 600});
    let bearer = format!("Bearer {}", hs256(jwt_key.as_bytes(), &claims));
    let list = |id: u64| {
        let h = [
            JSON,
            ACCEPT,
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
            ("authorization", bearer.as_str()),
        ];
        send(server.addr, "POST", &h, &modern_body(id, "tools/list", json!({}))).status
    };
    for i in 0..3 {
        assert_eq!(list(i), 200);
    }
    let (ok, out, err) = cli(d, &["secrets", "set", "audit/hmac"], k2.as_bytes());
    assert!(ok, "{out}{err}");
    let audit_dir = d.join("audit");
    let count = || mcp_audit::log_files(&audit_dir.join("audit.log")).unwrap().len();
    let mut rotated = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        if count() >= 2 {
            rotated = true;
            break;
        }
    }
    for i in 3..6 {
        assert_eq!(list(i), 200);
    }
    server.stop();
    let logged = std::fs::read_to_string(d.join("server.log")).unwrap();
    assert!(rotated, "the audit log did not switch to the rotated key: {logged}");
    for k in [k1, k2] {
        assert!(!logged.contains(k), "an audit key leaked into the server log");
    }
    let config = d.join("server.toml");
    let config = config.to_str().unwrap();
    let (ok, out, err) = cli(d, &["audit", "verify", "--config", config], b"");
    assert!(ok && out.contains("audit log OK") && out.contains("in 2 files"), "{out}{err}");
    let files = mcp_audit::log_files(&audit_dir.join("audit.log")).unwrap();
    let key_id = |p: &std::path::Path| {
        let first = std::fs::read_to_string(p).unwrap().lines().next().unwrap().to_owned();
        serde_json::from_str::<Value>(&first).unwrap()["body"]["key_id"].as_str().unwrap().to_owned()
    };
    assert_ne!(key_id(&files[0]), key_id(&files[1]), "each file names its own key");
    let text = std::fs::read_to_string(&files[1]).unwrap();
    assert!(text.contains("audit key rotated"), "the switch is recorded in the new file");
    for k in [k1, k2] {
        let all: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
        assert!(!all.contains(k), "an audit key leaked into the log");
    }
    // Tampering with the file written under the old key is found.
    let old = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&files[0], old.replacen("\"auditor\"", "\"mallory\"", 1)).unwrap();
    let (ok, out, err) = cli(d, &["audit", "verify", "--config", config], b"");
    assert!(!ok && err.contains("FAILED"), "{out}{err}");
}

/// An API-key pepper kept in the secret store and rotated while the server runs: a key whose
/// digest was made with the previous pepper works during the grace period, then is refused.
#[test]
fn api_keys_of_the_previous_pepper_work_during_the_grace_only() {
    use secrecy::ExposeSecret;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (p1, p2) = ("pepper-one-0123456789abcdef0123456789abcdef", "pepper-two-fedcba9876543210fedcba9876543210");
    let (ok, out, err) = cli(d, &["secrets", "set", "auth/pepper"], p1.as_bytes());
    assert!(ok, "{out}{err}");
    let pepper = secrecy::SecretBox::new(Box::from(p1.as_bytes()));
    let key = mcp_auth::generate_api_key("peppered", &pepper, &["tools"], &[], None).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = d.join("server.toml");
    let text = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[monitoring.blocking]\nblock_after = 1000\n\
         [auth]\nmethods = [\"api_key\"]\n[auth.api_keys]\npepper = {{ secret = \"auth/pepper\" }}\n{}",
        key.config_toml
    );
    std::fs::write(&config, text).unwrap();
    let vars = [
        ("MCP_SERVER__DATA_DIR", d.as_os_str()),
        ("MCP_SERVER__SECRET_POLL_SECS", "1".as_ref()),
        ("MCP_SECRETS__ROTATION_GRACE_SECS", "2".as_ref()),
    ];
    let server =
        super::cli_audit::Serve::spawn(&["serve", "--config", config.to_str().unwrap()], &vars, port, Stdio::null());
    let status = || {
        let h = [
            JSON,
            ACCEPT,
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
            ("x-api-key", key.key.expose_secret()),
        ];
        send(server.addr, "POST", &h, &modern_body(1, "tools/list", json!({}))).status
    };
    assert_eq!(status(), 200);
    let (ok, out, err) = cli(d, &["secrets", "set", "auth/pepper"], p2.as_bytes());
    assert!(ok, "{out}{err}");
    let set_at = Instant::now();
    // Through the poll interval and the rebuild the key keeps working (current or previous pepper) ...
    let mut during = Vec::new();
    while set_at.elapsed() < Duration::from_millis(1500) {
        during.push(status());
        std::thread::sleep(Duration::from_millis(100));
    }
    // ... and once the new pepper is older than the grace period it is refused.
    let mut refused = false;
    for _ in 0..60 {
        if status() == 401 {
            refused = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
    assert!(during.iter().all(|s| *s == 200), "refused within the grace period: {during:?}");
    assert!(refused, "the key of the previous pepper still works after the grace period");
    let audit: String = std::fs::read_dir(d.join("audit"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(audit.contains(mcp_server::PREVIOUS_SECRET_RULE), "the stragglers are audited");
    assert!(!audit.contains(p1) && !audit.contains(p2), "a pepper leaked into the audit log");
}
