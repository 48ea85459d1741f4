//! `[telemetry]` of a real `mcp-server serve` run, exported to a real OTLP/HTTP receiver run by
//! the test (protobuf decoded with `opentelemetry-proto`): one span per request with method,
//! tool, principal, decision and result, never parameters; a span for the failed
//! authentication; the security counters and the latency histogram; flushed on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use super::*;

/// What the receiver got: (path, x-otlp-key header, body).
type Posts = Arc<Mutex<Vec<(String, Option<String>, Vec<u8>)>>>;

/// An OTLP/HTTP receiver on 127.0.0.1: every POST is kept and answered 200.
fn receiver() -> (SocketAddr, Posts) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let posts = Posts::default();
    let sink = posts.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let sink = sink.clone();
            std::thread::spawn(move || {
                let mut out = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    let (mut len, mut key) = (0, None);
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        let Some((k, v)) = h.trim_end().split_once(':') else { break };
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => len = v.trim().parse().unwrap(),
                            "x-otlp-key" => key = Some(v.trim().to_owned()),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    sink.lock().unwrap().push((path, key, body));
                    out.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
                    )
                    .unwrap();
                    line.clear();
                }
            });
        }
    });
    (addr, posts)
}

fn text<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attrs.iter().find(|a| a.key == key)?.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn counter(metrics: &[Metric], name: &str) -> i64 {
    let Some(m) = metrics.iter().rev().find(|m| m.name == name) else { return 0 };
    let Some(metric::Data::Sum(s)) = &m.data else { panic!("{name} is not a sum: {m:?}") };
    s.data_points
        .iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => v,
            _ => 0,
        })
        .sum()
}

fn tool_call(addr: SocketAddr, key: &str, tool: &str, args: Value) -> Resp {
    let h = [
        JSON,
        ACCEPT,
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", tool),
        ("x-api-key", key),
    ];
    send(addr, "POST", &h, &modern_body(1, "tools/call", json!({"name": tool, "arguments": args})))
}

#[test]
fn a_real_run_exports_spans_and_metrics_over_otlp_http() {
    let (otlp, posts) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, out, err) = cli(d, &["keys", "new", "--name", "alice", "--roles", "user"], b"");
    assert!(ok, "{out}{err}");
    let alice = out.split_whitespace().find(|w| w.starts_with("mcp_")).unwrap().to_owned();
    let config = d.join("otel.toml");
    std::fs::write(
        &config,
        format!(
            "[telemetry]\nenabled = true\notlp_endpoint = \"http://{otlp}\"\nservice_name = \"mcp-e2e\"\n\
             export_interval_ms = 60000\nheaders_from_env = {{ x-otlp-key = \"E2E_OTLP_KEY\" }}\n\
             [monitoring.alerts]\nlarge_message_bytes = 4096\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-server"))
        .args(["serve", "--config", config.to_str().unwrap(), "--listen", &addr.to_string()])
        .env("MCP_SERVER__DATA_DIR", d)
        .env("MCP_LOGGING__LEVEL", "warn")
        .env("E2E_OTLP_KEY", "otlp-key-5150")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        TcpStream::connect(addr).is_ok()
    });
    if !up {
        let _ = child.kill();
        panic!("mcp-server did not start: {:?}", child.wait_with_output().map(|o| o.stderr));
    }

    let marker = "PARAM-VALUE-7731";
    let r = tool_call(addr, &alice, "echo", json!({"text": marker}));
    assert_eq!(r.status, 200, "{r:?}");
    // Denied by authorization (the user role may not restart; hidden as unknown).
    let r = tool_call(addr, &alice, "restart_server", json!({"reason": marker}));
    assert_eq!(r.status, 400, "{r:?}");
    // Refused by schema validation (out of range): a tool-error result.
    let r = tool_call(addr, &alice, "calculate", json!({"a": 5000, "b": 1, "op": "add"}));
    assert_eq!(r.json()["result"]["isError"], true, "{r:?}");
    // A failed authentication.
    assert_eq!(tool_call(addr, "mcp_wrong_key", "echo", json!({"text": marker})).status, 401);
    // A message above monitoring.alerts.large_message_bytes (accepted).
    let big = "x".repeat(5000);
    assert_eq!(tool_call(addr, &alice, "echo", json!({"text": big})).status, 200);

    // SIGTERM: the server flushes what is still queued (the export interval is a minute).
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let posts = posts.lock().unwrap();
    assert!(!posts.is_empty(), "nothing exported; server said: {stderr}");
    for (path, key, body) in posts.iter() {
        assert_eq!(key.as_deref(), Some("otlp-key-5150"), "{path}: the header from the environment");
        let raw = String::from_utf8_lossy(body);
        assert!(!raw.contains(marker), "{path}: a parameter value was exported");
        assert!(!raw.contains(&alice), "{path}: the API key was exported");
    }
    let decode_traces = |b: &Vec<u8>| ExportTraceServiceRequest::decode(b.as_slice()).unwrap();
    let traces: Vec<ExportTraceServiceRequest> =
        posts.iter().filter(|p| p.0 == "/v1/traces").map(|p| decode_traces(&p.2)).collect();
    let resource = traces[0].resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(text(&resource.attributes, "service.name"), Some("mcp-e2e"));
    let spans: Vec<Span> =
        traces.into_iter().flat_map(|r| r.resource_spans).flat_map(|r| r.scope_spans).flat_map(|s| s.spans).collect();
    let calls: Vec<&Span> = spans.iter().filter(|s| s.name == "tools/call").collect();
    assert_eq!(calls.len(), 4, "{spans:#?}");
    let by_tool = |t: &'static str| -> Vec<&Span> {
        calls.iter().copied().filter(|s| text(&s.attributes, "mcp.tool.name") == Some(t)).collect()
    };
    let echo = by_tool("echo");
    assert_eq!(echo.len(), 2);
    for s in &echo {
        assert_eq!(text(&s.attributes, "mcp.method.name"), Some("tools/call"));
        assert_eq!(text(&s.attributes, "enduser.id"), Some("alice"));
        assert_eq!(text(&s.attributes, "mcp.decision"), Some("allow"));
        assert_eq!(text(&s.attributes, "mcp.result"), Some("ok"));
        assert!(s.end_time_unix_nano > s.start_time_unix_nano);
    }
    let denied = by_tool("restart_server")[0];
    assert_eq!(text(&denied.attributes, "enduser.id"), Some("alice"));
    assert_eq!(text(&denied.attributes, "mcp.decision"), Some("deny"));
    assert_eq!(text(&denied.attributes, "mcp.result"), Some("denied"));
    assert!(denied.events.iter().any(|e| e.name == "authorize_fail"), "{denied:?}");
    let invalid = by_tool("calculate")[0];
    assert_eq!(text(&invalid.attributes, "mcp.result"), Some("invalid"));
    assert!(invalid.events.iter().any(|e| e.name == "validation_fail"), "{invalid:?}");
    let authn = spans
        .iter()
        .find(|s| s.name == "mcp.security_event" && text(&s.attributes, "mcp.result") == Some("authenticate_fail"))
        .unwrap_or_else(|| panic!("no span for the failed authentication: {spans:#?}"));
    assert_eq!(text(&authn.attributes, "mcp.decision"), Some("deny"));
    assert_eq!(text(&authn.attributes, "client.address"), Some("127.0.0.1"));

    let metrics: Vec<Metric> = posts
        .iter()
        .filter(|p| p.0 == "/v1/metrics")
        .map(|p| ExportMetricsServiceRequest::decode(p.2.as_slice()).unwrap())
        .flat_map(|r| r.resource_metrics)
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .collect();
    assert_eq!(counter(&metrics, "mcp.security.auth_failures"), 1);
    assert_eq!(counter(&metrics, "mcp.security.authz_failures"), 1);
    assert_eq!(counter(&metrics, "mcp.security.validation_failures"), 1);
    assert_eq!(counter(&metrics, "mcp.security.large_messages"), 1);
    assert_eq!(counter(&metrics, "mcp.security.rate_limit_hits"), 0);
    let hist = metrics.iter().rev().find(|m| m.name == "mcp.server.request.duration").unwrap();
    let Some(metric::Data::Histogram(h)) = &hist.data else { panic!("{hist:?}") };
    assert_eq!(h.data_points.iter().map(|p| p.count).sum::<u64>(), 4, "one latency per decoded request");
}

#[test]
fn telemetry_config_is_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[telemetry]\nenabled = true\notlp_endpoint = \"http://u:p@127.0.0.1:1\"\n").unwrap();
    let (ok, _, err) = cli(dir.path(), &["check-config", config.to_str().unwrap()], b"");
    assert!(!ok && err.contains("telemetry.otlp_endpoint"), "{err}");
    std::fs::write(&config, "[telemetry]\nenabled = true\nheaders_from_env = { authorization = \"E2E_UNSET_VAR\" }\n")
        .unwrap();
    let (ok, _, err) =
        cli(dir.path(), &["serve", "--config", config.to_str().unwrap(), "--listen", "127.0.0.1:0"], b"");
    assert!(!ok && err.contains("E2E_UNSET_VAR"), "{err}");
}
