//! What one request or one security event becomes: span, span events, attributes, counters.

use std::time::SystemTime;

use mcp_core::{AuditOutcome, AuditRecord, SecurityEvent, SecurityEventKind};
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry::{Context, KeyValue};

use super::OtelExporter;

/// One finished request as telemetry reports it.
///
/// `method` and `target` are given separately from the record because span names and metric
/// attributes must stay few: pass a known method name (or a placeholder for unknown ones) and a
/// registered tool / prompt name, resource URI or resource *template* — never client-chosen text
/// or the values a template URI carries.
#[derive(Clone, Copy, Debug)]
pub struct RequestInfo<'a> {
    /// The request's audit record (principal, outcome, error code, arrival, latency, peer).
    pub record: &'a AuditRecord,
    /// The method to report.
    pub method: &'a str,
    /// The tool name, prompt name, resource URI or template to report, when there is one.
    pub target: Option<&'a str>,
    /// The security events raised while the request ran, in order.
    pub events: &'a [SecurityEvent],
}

/// The security counters exported as metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityMetric {
    /// A failed authentication.
    AuthFailure,
    /// A failed authorization.
    AuthzFailure,
    /// A request refused by a rate limit.
    RateLimitHit,
    /// A message above the large-message size (1 MiB unless configured otherwise).
    LargeMessage,
    /// Input that failed validation (schema, content rules, prompt safety).
    ValidationFailure,
}

impl SecurityMetric {
    /// Every metric, in index order.
    pub const ALL: [Self; 5] =
        [Self::AuthFailure, Self::AuthzFailure, Self::RateLimitHit, Self::LargeMessage, Self::ValidationFailure];

    /// The exported metric name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::AuthFailure => "mcp.security.auth_failures",
            Self::AuthzFailure => "mcp.security.authz_failures",
            Self::RateLimitHit => "mcp.security.rate_limit_hits",
            Self::LargeMessage => "mcp.security.large_messages",
            Self::ValidationFailure => "mcp.security.validation_failures",
        }
    }

    /// The exported metric description.
    pub const fn description(self) -> &'static str {
        match self {
            Self::AuthFailure => "Failed authentications",
            Self::AuthzFailure => "Failed authorizations",
            Self::RateLimitHit => "Requests refused by a rate limit",
            Self::LargeMessage => "Messages above the large-message size",
            Self::ValidationFailure => "Inputs refused by validation or prompt safety",
        }
    }

    /// The counter an event adds to, by its kind. Large messages are not recognizable by kind
    /// alone: the caller counts them with [`OtelExporter::count`].
    pub fn of(kind: SecurityEventKind) -> Option<Self> {
        match kind {
            SecurityEventKind::AuthenticateFail => Some(Self::AuthFailure),
            SecurityEventKind::AuthorizeFail => Some(Self::AuthzFailure),
            SecurityEventKind::RateLimitExceeded => Some(Self::RateLimitHit),
            SecurityEventKind::ValidationFail | SecurityEventKind::PromptInjectionBlocked => {
                Some(Self::ValidationFailure)
            }
            _ => None,
        }
    }
}

/// `deny` when a protection stage refused the request, `allow` when it reached its handler.
pub(crate) fn decision(o: AuditOutcome) -> &'static str {
    match o {
        AuditOutcome::Denied | AuditOutcome::RateLimited | AuditOutcome::Invalid => "deny",
        _ => "allow",
    }
}

/// Whether an event of `kind` refused something (its span then says `mcp.decision = deny`).
fn refuses(kind: SecurityEventKind) -> bool {
    use SecurityEventKind as K;
    matches!(
        kind,
        K::TransportRejected
            | K::MalformedMessage
            | K::HeaderMismatch
            | K::UnsupportedVersion
            | K::SessionRejected
            | K::CapacityExceeded
            | K::StateTampered
            | K::AuthenticateFail
            | K::AuthorizeFail
            | K::RateLimitExceeded
            | K::ValidationFail
            | K::PromptInjectionBlocked
            | K::ClientBlocked
    )
}

/// The attribute naming the target of `method`.
fn target_key(method: &str) -> &'static str {
    match method {
        "tools/call" => "mcp.tool.name",
        "prompts/get" => "mcp.prompt.name",
        m if m.starts_with("resources/") => "mcp.resource.uri",
        _ => "mcp.target",
    }
}

/// Attributes of a request span.
pub(crate) fn request_attributes(r: &RequestInfo<'_>) -> Vec<KeyValue> {
    let rec = r.record;
    let mut a = Vec::with_capacity(8);
    a.push(KeyValue::new("mcp.method.name", r.method.to_owned()));
    if let Some(t) = r.target {
        a.push(KeyValue::new(target_key(r.method), t.to_owned()));
    }
    a.push(KeyValue::new("enduser.id", rec.principal.to_string()));
    a.push(KeyValue::new("mcp.auth.method", rec.auth_method.as_str()));
    a.push(KeyValue::new("mcp.decision", decision(rec.outcome)));
    a.push(KeyValue::new("mcp.result", rec.outcome.as_str()));
    if let Some(code) = rec.error_code {
        a.push(KeyValue::new("rpc.jsonrpc.error_code", code));
    }
    if let Some(p) = rec.peer {
        a.push(KeyValue::new("client.address", p.ip().to_string()));
    }
    a
}

/// Attributes of a span event (and of a security event's own span, with `own` set).
pub(crate) fn event_attributes(e: &SecurityEvent, own: bool) -> Vec<KeyValue> {
    let mut a = vec![KeyValue::new("mcp.event.reason", e.reason)];
    if let Some(rule) = &e.rule {
        a.push(KeyValue::new("mcp.event.rule", rule.to_string()));
    }
    if own {
        a.push(KeyValue::new("mcp.event.kind", e.kind.as_str()));
        if refuses(e.kind) {
            a.push(KeyValue::new("mcp.decision", "deny"));
        }
        a.push(KeyValue::new("mcp.result", e.kind.as_str()));
        // The id a failed authentication names is unproven: it is not reported as the user.
        if let Some(p) = e.principal.as_ref().filter(|_| e.kind != SecurityEventKind::AuthenticateFail) {
            a.push(KeyValue::new("enduser.id", p.to_string()));
        }
        if let Some(peer) = e.peer {
            a.push(KeyValue::new("client.address", peer.ip().to_string()));
        }
    }
    a
}

impl OtelExporter {
    /// One span for a finished request, its security events as span events, and its latency in
    /// the histogram. Never blocks: a full span queue drops the span.
    pub fn request(&self, r: &RequestInfo<'_>) {
        let rec = r.record;
        let end = rec.at.checked_add(rec.latency).unwrap_or(rec.at);
        let mut span = self
            .tracer
            .span_builder(r.method.to_owned())
            .with_kind(SpanKind::Server)
            .with_start_time(rec.at)
            .with_attributes(request_attributes(r))
            .start_with_context(&self.tracer, &Context::new());
        for e in r.events {
            span.add_event_with_timestamp(e.kind.as_str(), e.at, event_attributes(e, false));
        }
        span.set_status(match rec.outcome {
            AuditOutcome::Ok => Status::Ok,
            o => Status::error(o.as_str()),
        });
        span.end_with_timestamp(end);
        let labels =
            [KeyValue::new("mcp.method.name", r.method.to_owned()), KeyValue::new("mcp.result", rec.outcome.as_str())];
        self.latency.record(rec.latency.as_secs_f64(), &labels);
    }

    /// Count a security event in its metric, if it has one.
    pub fn security_event(&self, e: &SecurityEvent) {
        if let Some(m) = SecurityMetric::of(e.kind) {
            self.count(m);
        }
    }

    /// A span of its own for a security event raised outside any request (a failed
    /// authentication, a refused transport, a blocked caller), the event as its span event.
    pub fn event_span(&self, e: &SecurityEvent) {
        let at: SystemTime = e.at;
        let mut span = self
            .tracer
            .span_builder("mcp.security_event")
            .with_kind(SpanKind::Server)
            .with_start_time(at)
            .with_attributes(event_attributes(e, true))
            .start_with_context(&self.tracer, &Context::new());
        span.add_event_with_timestamp(e.kind.as_str(), at, event_attributes(e, false));
        if refuses(e.kind) {
            span.set_status(Status::error(e.kind.as_str()));
        }
        span.end_with_timestamp(at);
    }
}
