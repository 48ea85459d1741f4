//! The exporter against a real OTLP/HTTP receiver run by the test: protobuf over HTTP/1.1,
//! decoded with `opentelemetry-proto`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mcp_core::{AuditOutcome, AuditRecord, AuthMethod, SecurityEvent, SecurityEventKind};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use super::*;

/// One POST the receiver got.
struct Post {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A minimal OTLP/HTTP receiver: answers every POST with 200 and keeps what it got.
fn receiver() -> (SocketAddr, Arc<Mutex<Vec<Post>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let sink = sink.clone();
            std::thread::spawn(move || serve(conn, &sink));
        }
    });
    (addr, got)
}

fn serve(conn: TcpStream, sink: &Mutex<Vec<Post>>) {
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        sink.lock().unwrap().push(Post { path, headers, body });
        out.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n").unwrap();
    }
}

fn spans(got: &Mutex<Vec<Post>>) -> Vec<Span> {
    let got = got.lock().unwrap();
    let traces = got.iter().filter(|p| p.path == "/v1/traces");
    let reqs = traces.map(|p| ExportTraceServiceRequest::decode(p.body.as_slice()).unwrap());
    reqs.flat_map(|r| r.resource_spans).flat_map(|r| r.scope_spans).flat_map(|s| s.spans).collect()
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs.iter().find(|a| a.key == key)?.value.as_ref()?.value.as_ref()
}

fn text<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn record(outcome: AuditOutcome, code: Option<i64>) -> AuditRecord {
    AuditRecord {
        at: SystemTime::now() - Duration::from_millis(5),
        request_id: Some("7".into()),
        principal: "client-1".into(),
        auth_method: AuthMethod::ApiKey,
        peer: Some("127.0.0.9:4000".parse().unwrap()),
        method: "tools/call".into(),
        target: Some("calculate".into()),
        params_hash: Some([7; 32]),
        outcome,
        error_code: code,
        latency: Duration::from_millis(3),
        always: false,
    }
}

#[test]
fn spans_events_and_metrics_reach_a_real_receiver() {
    // reqwest is built with `rustls-no-provider` in this workspace: the process picks the provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (addr, got) = receiver();
    let cfg = TelemetryConfig {
        enabled: true,
        otlp_endpoint: format!("http://{addr}/"),
        service_name: "otel-unit".into(),
        headers_from_env: [("x-api-key".to_owned(), "UNIT_OTLP_KEY".to_owned())].into(),
        ..TelemetryConfig::default()
    };
    let env = |v: &str| (v == "UNIT_OTLP_KEY").then(|| "k-123".to_owned());
    let x = OtelExporter::start(&cfg, "9.9.9", &env).unwrap();

    let ok = record(AuditOutcome::Ok, None);
    x.request(&RequestInfo { record: &ok, method: "tools/call", target: Some("calculate"), events: &[] });
    let denial = SecurityEvent::new(SecurityEventKind::AuthorizeFail, "no permission", SystemTime::now())
        .with_principal("client-1")
        .with_rule("role:readonly");
    x.security_event(&denial);
    let denied = record(AuditOutcome::Denied, Some(-32002));
    let events = [denial];
    x.request(&RequestInfo { record: &denied, method: "tools/call", target: Some("calculate"), events: &events });
    let authn = SecurityEvent::new(SecurityEventKind::AuthenticateFail, "invalid api key", SystemTime::now())
        .with_principal("claimed-id")
        .with_peer(Some("127.0.0.8:1".parse().unwrap()));
    x.security_event(&authn);
    x.event_span(&authn);
    x.count(SecurityMetric::LargeMessage);
    x.shutdown().unwrap();

    let got_spans = spans(&got);
    assert_eq!(got_spans.len(), 3, "one span per request and one for the failed authentication");
    let calls: Vec<&Span> = got_spans.iter().filter(|s| s.name == "tools/call").collect();
    assert_eq!(calls.len(), 2);
    for s in &calls {
        assert_eq!(text(&s.attributes, "mcp.method.name"), Some("tools/call"));
        assert_eq!(text(&s.attributes, "mcp.tool.name"), Some("calculate"));
        assert_eq!(text(&s.attributes, "enduser.id"), Some("client-1"));
        assert_eq!(text(&s.attributes, "mcp.auth.method"), Some("api_key"));
        assert_eq!(text(&s.attributes, "client.address"), Some("127.0.0.9"));
        assert_eq!(s.end_time_unix_nano - s.start_time_unix_nano, 3_000_000, "span length is the latency");
        assert!(s.parent_span_id.is_empty(), "request spans are roots");
    }
    let allowed = calls.iter().find(|s| text(&s.attributes, "mcp.result") == Some("ok")).unwrap();
    assert_eq!(text(&allowed.attributes, "mcp.decision"), Some("allow"));
    assert!(allowed.events.is_empty());
    let refused = calls.iter().find(|s| text(&s.attributes, "mcp.result") == Some("denied")).unwrap();
    assert_eq!(text(&refused.attributes, "mcp.decision"), Some("deny"));
    assert_eq!(attr(&refused.attributes, "rpc.jsonrpc.error_code"), Some(&any_value::Value::IntValue(-32002)));
    assert_eq!(refused.events.len(), 1);
    assert_eq!(refused.events[0].name, "authorize_fail");
    assert_eq!(text(&refused.events[0].attributes, "mcp.event.rule"), Some("role:readonly"));
    let authn_span = got_spans.iter().find(|s| s.name == "mcp.security_event").unwrap();
    assert_eq!(text(&authn_span.attributes, "mcp.result"), Some("authenticate_fail"));
    assert_eq!(text(&authn_span.attributes, "mcp.decision"), Some("deny"));
    assert_eq!(text(&authn_span.attributes, "client.address"), Some("127.0.0.8"));
    assert_eq!(text(&authn_span.attributes, "enduser.id"), None, "an unproven id is not reported");
    assert_eq!(authn_span.events[0].name, "authenticate_fail");

    let posts = got.lock().unwrap();
    for p in posts.iter() {
        assert!(p.headers.contains(&("x-api-key".to_owned(), "k-123".to_owned())), "{:?}", p.headers);
        assert!(p.headers.iter().any(|(k, v)| k == "content-type" && v == "application/x-protobuf"));
    }
    let metrics: Vec<_> = posts
        .iter()
        .filter(|p| p.path == "/v1/metrics")
        .map(|p| ExportMetricsServiceRequest::decode(p.body.as_slice()).unwrap())
        .flat_map(|r| r.resource_metrics)
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .collect();
    let sum = |name: &str| {
        let m = metrics.iter().rev().find(|m| m.name == name)?;
        match m.data.as_ref()? {
            metric::Data::Sum(s) => match s.data_points.first()?.value? {
                number_data_point::Value::AsInt(v) => Some(v),
                number_data_point::Value::AsDouble(_) => None,
            },
            _ => None,
        }
    };
    assert_eq!(sum("mcp.security.auth_failures"), Some(1));
    assert_eq!(sum("mcp.security.authz_failures"), Some(1));
    assert_eq!(sum("mcp.security.large_messages"), Some(1));
    assert_eq!(sum("mcp.security.rate_limit_hits"), None, "nothing counted, nothing sent");
    let hist = metrics.iter().rev().find(|m| m.name == "mcp.server.request.duration").unwrap();
    let Some(metric::Data::Histogram(h)) = &hist.data else { panic!("not a histogram: {hist:?}") };
    let total: u64 = h.data_points.iter().map(|p| p.count).sum();
    assert_eq!(total, 2);
    assert_eq!(hist.unit, "s");
}

#[test]
fn a_missing_header_variable_refuses_to_start() {
    let cfg = TelemetryConfig {
        enabled: true,
        headers_from_env: [("authorization".to_owned(), "UNSET_OTLP_VAR".to_owned())].into(),
        ..TelemetryConfig::default()
    };
    let e = OtelExporter::start(&cfg, "1", &|_| None).unwrap_err().to_string();
    assert!(e.contains("UNSET_OTLP_VAR"), "{e}");
}

#[test]
fn classification() {
    assert_eq!(SecurityMetric::of(SecurityEventKind::PromptInjectionBlocked), Some(SecurityMetric::ValidationFailure));
    assert_eq!(SecurityMetric::of(SecurityEventKind::RateLimitExceeded), Some(SecurityMetric::RateLimitHit));
    assert_eq!(SecurityMetric::of(SecurityEventKind::Authenticated), None);
    assert_eq!(record::decision(AuditOutcome::RateLimited), "deny");
    assert_eq!(record::decision(AuditOutcome::ToolError), "allow");
    for (i, m) in SecurityMetric::ALL.iter().enumerate() {
        assert_eq!(*m as usize, i);
    }
}
