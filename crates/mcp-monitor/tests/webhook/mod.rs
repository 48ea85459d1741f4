//! The alert webhook against a real HTTP server on 127.0.0.1 that records what it receives and
//! answers with scripted statuses.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_core::SystemClock;
use mcp_monitor::{MonitorError, MonitoringConfig, SecurityMonitor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::auth_fail;

/// Requests received: (request line, JSON body).
type Log = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// Start a server answering the given statuses in order, then 200 forever.
async fn hook_server(statuses: &[u16]) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log: Log = Arc::default();
    let script = Arc::new(Mutex::new(statuses.iter().copied().collect::<VecDeque<u16>>()));
    let log2 = Arc::clone(&log);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { break };
            let log = Arc::clone(&log2);
            let script = Arc::clone(&script);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, len) = loop {
                    let n = sock.read(&mut chunk).await.expect("read");
                    assert!(n > 0, "client closed early");
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().expect("length"));
                        break (p + 4, len);
                    }
                };
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.expect("read body");
                    buf.extend_from_slice(&chunk[..n]);
                }
                let line = String::from_utf8_lossy(&buf[..head_end]).lines().next().unwrap_or_default().to_owned();
                let body = serde_json::from_slice(&buf[head_end..head_end + len]).expect("json body");
                log.lock().expect("log").push((line, body));
                let status = script.lock().expect("script").pop_front().unwrap_or(200);
                let resp = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                sock.write_all(resp.as_bytes()).await.expect("write");
            });
        }
    });
    (addr, log)
}

fn monitor(addr: SocketAddr, extra: &str) -> SecurityMonitor {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let text = format!(
        "[blocking]\nenabled = false\n[alerts]\nwebhook_url = \"http://{addr}/hook\"\nbackoff_ms = 20\n{extra}"
    );
    let cfg: MonitoringConfig = toml::from_str(&text).expect("config");
    SecurityMonitor::new(&cfg, Arc::new(SystemClock)).expect("monitor")
}

fn raise_auth_alert(m: &SecurityMonitor) {
    for _ in 0..11 {
        m.publish(&auth_fail(None, Some("192.0.2.1:5")));
    }
}

async fn wait_for(log: &Log, n: usize) {
    let start = Instant::now();
    while log.lock().expect("log").len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "webhook got {} of {n} requests",
            log.lock().expect("log").len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_retries_until_success() {
    let (addr, log) = hook_server(&[500, 500]).await;
    let m = monitor(addr, "");
    raise_auth_alert(&m);
    wait_for(&log, 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = log.lock().expect("log").clone();
    assert_eq!(log.len(), 3, "two failures, then success: no fourth attempt");
    for (line, body) in &log {
        assert_eq!(line, "POST /hook HTTP/1.1");
        assert_eq!(body["alert"], "auth_failures");
        assert_eq!(body["count"], 11);
        assert_eq!(body["window_secs"], 60);
        assert_eq!(body["threshold"], 10);
        assert!(body["at"].as_u64().is_some_and(|t| t > 1_600_000_000_000));
    }
    assert_eq!(m.metrics().webhook_failures_total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_gives_up_after_retries_and_counts() {
    let (addr, log) = hook_server(&[503, 503, 503, 503]).await;
    let m = monitor(addr, "retries = 1");
    raise_auth_alert(&m);
    wait_for(&log, 2).await;
    let start = Instant::now();
    while m.metrics().webhook_failures_total() == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "failure never counted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(log.lock().expect("log").len(), 2, "one try plus one retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_client_error_is_not_retried() {
    let (addr, log) = hook_server(&[404]).await;
    let m = monitor(addr, "");
    raise_auth_alert(&m);
    wait_for(&log, 1).await;
    let start = Instant::now();
    while m.metrics().webhook_failures_total() == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "failure never counted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.lock().expect("log").len(), 1);
}

#[test]
fn webhook_config_is_checked_without_echoing_the_url() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg: MonitoringConfig =
        toml::from_str("[alerts]\nwebhook_url = \"https://hooks.example/secret-token\"").expect("cfg");
    let err = SecurityMonitor::new(&cfg, Arc::new(SystemClock)).expect_err("no runtime");
    assert!(matches!(err, MonitorError::NoRuntime), "{err}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    rt.block_on(async {
        for url in ["http://hooks.example/secret-token", "ftp://127.0.0.1/secret-token", "not a url secret-token"] {
            let cfg: MonitoringConfig = toml::from_str(&format!("[alerts]\nwebhook_url = {url:?}")).expect("cfg");
            let err = SecurityMonitor::new(&cfg, Arc::new(SystemClock)).expect_err(url).to_string();
            assert!(err.contains("alerts.webhook_url") && !err.contains("secret-token"), "{err}");
        }
    });
}
