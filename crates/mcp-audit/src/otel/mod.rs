//! OpenTelemetry export over OTLP/HTTP (protobuf), cargo feature `otel`.
//!
//! [`OtelExporter`] turns what the server already knows about each request — the
//! [`AuditRecord`](mcp_core::AuditRecord) and the [`SecurityEvent`](mcp_core::SecurityEvent)s raised while it ran — into
//! one span per request (start = arrival, end = arrival + latency) carrying the method, the tool /
//! resource / prompt, the principal id, the decision and the result, with the security events as
//! span events. Security events outside any request (a failed authentication, a refused
//! transport) become spans of their own. Counters of failed authentications, failed
//! authorizations, rate-limit hits, large messages and validation failures, and a request
//! latency histogram, are exported periodically.
//!
//! Nothing here sees request parameters: attributes come from the audit record (which holds a
//! keyed digest, never the parameters) and from static event reasons and rule ids.
//!
//! Spans wait in a bounded queue drained by a background thread (a full queue drops spans, it
//! never blocks a request); metrics are collected and sent by another background thread every
//! `export_interval_ms`. [`OtelExporter::shutdown`] sends what is left.

mod record;

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider};

use crate::error::AuditError;
use crate::telemetry::TelemetryConfig;

pub use record::{RequestInfo, SecurityMetric};

/// Instrumentation scope of everything exported.
const SCOPE: &str = "mcp-secure";

/// Histogram bucket bounds of the request latency, seconds.
const LATENCY_BOUNDS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Sends request spans, security events and security metrics to an OTLP/HTTP receiver.
pub struct OtelExporter {
    tracer: SdkTracer,
    traces: SdkTracerProvider,
    meters: SdkMeterProvider,
    counters: [Counter<u64>; SecurityMetric::ALL.len()],
    latency: Histogram<f64>,
}

impl std::fmt::Debug for OtelExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The export headers may hold credentials: never shown.
        f.debug_struct("OtelExporter").finish_non_exhaustive()
    }
}

impl OtelExporter {
    /// Build the exporters for `cfg` (header values read through `env`) and start their
    /// background threads. `service_version` becomes `service.version`. Nothing is sent until
    /// there is something to send, so an unreachable receiver does not fail this.
    ///
    /// The exporter sends with reqwest over rustls: when the process's reqwest is built without
    /// a bundled crypto provider (`rustls-no-provider`, as in this workspace), install one first,
    /// e.g. `rustls::crypto::ring::default_provider().install_default()`; otherwise this returns
    /// an error saying the HTTP client could not be created.
    pub fn start(
        cfg: &TelemetryConfig,
        service_version: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, AuditError> {
        cfg.validate()?;
        let headers = cfg.headers(env)?;
        let timeout = Duration::from_millis(cfg.timeout_ms);
        let interval = Duration::from_millis(cfg.export_interval_ms);
        let failed =
            |what: &str, e: &dyn std::fmt::Display| AuditError::Telemetry(format!("cannot build the {what}: {e}"));
        let spans = SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(cfg.traces_url())
            .with_timeout(timeout)
            .with_headers(headers.clone())
            .build()
            .map_err(|e| failed("OTLP span exporter", &e))?;
        let metrics = MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(cfg.metrics_url())
            .with_timeout(timeout)
            .with_headers(headers)
            .build()
            .map_err(|e| failed("OTLP metric exporter", &e))?;
        let resource = Resource::builder()
            .with_service_name(cfg.service_name.clone())
            .with_attribute(KeyValue::new("service.version", service_version.to_owned()))
            .build();
        let batch = BatchConfigBuilder::default().with_scheduled_delay(interval).build();
        let traces = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(spans).with_batch_config(batch).build())
            .with_resource(resource.clone())
            .build();
        let meters = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics).with_interval(interval).build())
            .with_resource(resource)
            .build();
        let tracer = traces.tracer(SCOPE);
        let meter = meters.meter(SCOPE);
        let counters = SecurityMetric::ALL
            .map(|m| meter.u64_counter(m.name()).with_description(m.description()).with_unit("{event}").build());
        let latency = meter
            .f64_histogram("mcp.server.request.duration")
            .with_description("Time from decoding a request to its response")
            .with_unit("s")
            .with_boundaries(LATENCY_BOUNDS.to_vec())
            .build();
        Ok(Self { tracer, traces, meters, counters, latency })
    }

    /// Count one security metric.
    pub fn count(&self, metric: SecurityMetric) {
        self.counters[metric as usize].add(1, &[]);
    }

    /// Send what is queued now (blocks until the receiver answered or the timeout passed; call
    /// it from a thread that may block).
    pub fn flush(&self) -> Result<(), AuditError> {
        let t = self.traces.force_flush();
        let m = self.meters.force_flush();
        t.and(m).map_err(|e| AuditError::Telemetry(format!("flush failed: {e}")))
    }

    /// Send what is left and stop the background threads (blocks like [`Self::flush`]). Spans
    /// and metrics recorded afterwards are dropped.
    pub fn shutdown(&self) -> Result<(), AuditError> {
        let t = self.traces.shutdown();
        let m = self.meters.shutdown();
        t.and(m).map_err(|e| AuditError::Telemetry(format!("shutdown failed: {e}")))
    }
}

#[cfg(test)]
mod tests;
