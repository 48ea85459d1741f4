//! Threshold alerts and anomalies of the monitor through the real `mcp-server` binary: bad
//! credentials over HTTP raise an `auth_failures` alert that reaches a webhook run by the test
//! (without the credential), `/metrics`, the log and the audit log; a burst above a client's
//! baseline raises an anomaly, seen in `/metrics`, the log and the audit log.

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::mpsc;

use super::cli_audit::{Serve, new_key};
use super::*;

/// A webhook receiver on a free loopback port: answers 200 to each request and hands over its
/// head and body. Stops after `max` requests or when the test ends.
fn webhook(max: usize) -> (u16, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(max) {
            let Ok(mut s) = conn else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let Ok(n) = s.read(&mut buf) else { break (String::new(), String::new()) };
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= len || n == 0 {
                        break (head.to_owned(), body.to_owned());
                    }
                } else if n == 0 {
                    break (text, String::new());
                }
            };
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send((head, body)).is_err() {
                break;
            }
        }
    });
    (port, rx)
}

fn get_metrics(addr: SocketAddr, key: &str) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let req = format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nx-api-key: {key}\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse(&raw)
}

fn call_as(addr: SocketAddr, key: &str, id: u64) -> Resp {
    let h = [JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", "tools/list"), ("x-api-key", key)];
    send(addr, "POST", &h, &modern_body(id, "tools/list", json!({})))
}

/// The value of the sample `name` (with its labels) in a Prometheus text body.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn bad_credentials_raise_an_alert_at_the_webhook_metrics_and_logs_and_a_burst_an_anomaly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let admin = new_key(d, "ops", "admin");
    let user = new_key(d, "bursty", "user");
    let (hook_port, hook) = webhook(8);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = d.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = {d:?}\n[http]\nlisten = \"127.0.0.1:{port}\"\n[logging]\nlevel = \"warn\"\n\
             [rate_limit]\nenabled = false\n\
             [monitoring.blocking]\nblock_after = 100\n\
             [monitoring.alerts]\nwebhook_url = \"http://127.0.0.1:{hook_port}/hook\"\nretries = 0\n\
             [monitoring.alerts.thresholds]\nauth_failures = 2\n\
             [monitoring.anomaly]\nbucket_secs = 2\nmin_observations = 1\nmin_rate = 1.0\nanomaly_factor = 3.0\n"
        ),
    )
    .unwrap();
    let log = d.join("server.log");
    let stderr: Stdio = std::fs::File::create(&log).unwrap().into();
    let server = Serve::spawn(&["serve", "--config", config.to_str().unwrap()], &[], port, stderr);
    let addr = server.addr;

    // The anomaly baseline: one request in a first bucket of `bucket_secs`.
    assert_eq!(call_as(addr, &user, 1).status, 200);

    // Three bad credentials: more than the threshold of 2 within the window.
    let credential = "mcp_CANARYcredential0123456789abcdefghijklmnop";
    for _ in 0..3 {
        assert_eq!(call_as(addr, credential, 2).status, 401);
    }
    let (head, body) = hook.recv_timeout(Duration::from_secs(10)).expect("the webhook got no alert");
    assert!(head.starts_with("POST /hook "), "{head}");
    let alert: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(alert["alert"], "auth_failures", "{alert}");
    assert_eq!((alert["count"].as_u64(), alert["threshold"].as_u64()), (Some(3), Some(2)), "{alert}");
    assert!(alert["window_secs"].as_u64() == Some(60) && alert["at"].as_u64().is_some(), "{alert}");
    assert!(!head.contains("CANARY") && !body.contains("CANARY"), "the credential reached the webhook");
    // One alert per crossing: a fourth failure raises no second one.
    assert_eq!(call_as(addr, credential, 3).status, 401);
    assert!(hook.recv_timeout(Duration::from_millis(500)).is_err(), "a second alert for the same crossing");

    // The burst: the first request of a later bucket folds the baseline (1 request per bucket);
    // more than 3x that within the bucket is an anomaly. Each bucket is 2 s, and 8 requests take
    // well under that; a burst split by a bucket boundary still has 4 or more on one side.
    std::thread::sleep(Duration::from_millis(2100));
    for id in 10..18 {
        assert_eq!(call_as(addr, &user, id).status, 200);
    }

    let m = get_metrics(addr, &admin);
    assert_eq!(m.status, 200, "{m:?}");
    assert_eq!(sample(&m.body, "mcp_alerts_total{class=\"auth_failures\"}"), Some(1.0), "{}", m.body);
    assert_eq!(sample(&m.body, "mcp_auth_failures_total"), Some(4.0), "{}", m.body);
    assert_eq!(sample(&m.body, "mcp_anomalies_total"), Some(1.0), "{}", m.body);
    assert_eq!(sample(&m.body, "mcp_alert_webhook_failures_total"), Some(0.0), "{}", m.body);
    // A user may not read the metrics.
    assert_eq!(get_metrics(addr, &user).status, 403);
    server.stop();

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("mcp_security_alert") && logged.contains("auth_failures"), "{logged}");
    assert!(logged.contains("mcp_security_anomaly") && logged.contains("bursty"), "{logged}");
    let audit: String = std::fs::read_dir(d.join("audit"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    for (what, text) in [("log", &logged), ("audit log", &audit)] {
        assert!(!text.contains("CANARY"), "the credential reached the {what}");
    }
    // The monitor's own events reach the audit log too (the docs promise alerts and anomalies
    // under `security_event`).
    let has = |needles: &[&str]| audit.lines().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(has(&["\"event\":\"alert\"", "\"rule\":\"alert:auth_failures\""]), "no alert record: {audit}");
    assert!(has(&["\"event\":\"anomaly\"", "\"client_id\":\"bursty\"", "anomaly:rate"]), "no anomaly record");
}

/// A role without `prompts:list` gets an empty list (hidden); listing is routine client
/// behaviour and does not get the client blocked. Asking for a hidden tool by name does.
#[test]
fn hidden_list_denials_do_not_block_hidden_calls_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = new_key(d, "toolclient", "toolsonly");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = d.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = {d:?}\n[http]\nlisten = \"127.0.0.1:{port}\"\n[logging]\nlevel = \"warn\"\n\
             [rate_limit]\nenabled = false\n[monitoring.blocking]\nblock_after = 3\n\
             [authorization]\nhide_forbidden = true\n\
             [authorization.roles.toolsonly]\npermissions = [\"tools:list\", \"tools:execute\"]\n"
        ),
    )
    .unwrap();
    let server = Serve::spawn(&["serve", "--config", config.to_str().unwrap()], &[], port, Stdio::null());
    let h = |method: &'static str, name: Option<&'static str>| {
        let mut h = vec![JSON, ACCEPT, ("mcp-protocol-version", "2026-07-28"), ("mcp-method", method)];
        h.extend(name.map(|n| ("mcp-name", n)));
        h.push(("x-api-key", key.as_str()));
        h
    };
    for i in 0..6 {
        let r = send(server.addr, "POST", &h("prompts/list", None), &modern_body(i, "prompts/list", json!({})));
        assert_eq!(r.status, 200, "list {i}: {r:?}");
        assert_eq!(r.json()["result"]["prompts"], json!([]), "hidden: an empty list");
    }
    let call = modern_body(9, "tools/call", json!({"name": "restart_server"}));
    for _ in 0..3 {
        let r = send(server.addr, "POST", &h("tools/call", Some("restart_server")), &call);
        assert_eq!(r.status, 400, "a hidden tool looks unknown: {r:?}");
    }
    let r = send(server.addr, "POST", &h("tools/list", None), &modern_body(10, "tools/list", json!({})));
    assert_eq!(r.status, 403, "three probes of a hidden tool block the client: {r:?}");
}
