//! OpenTelemetry (`[telemetry]`, cargo feature `otel`): every decoded request becomes a span
//! built from its audit record, the security events it raised become span events, security
//! events outside any request become spans of their own, and the security counters and latency
//! histogram are exported — whether or not the audit log is enabled.
//!
//! Without the feature this is an empty shell whose every call does nothing, and a
//! configuration with `telemetry.enabled = true` is refused, naming the feature.

use std::cell::RefCell;
use std::future::Future;

use mcp_core::{AuditRecord, SecurityEvent};

use crate::{Config, McpServer, ServerBuilder, ServerError};

/// Most security events kept for one request's span.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
const MAX_EVENTS_PER_REQUEST: usize = 64;

tokio::task_local! {
    /// The security events raised by the request running on this task.
    static REQUEST_EVENTS: RefCell<Vec<SecurityEvent>>;
}

/// The exporter, when telemetry is on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Telemetry {
    #[cfg(feature = "otel")]
    exporter: Option<std::sync::Arc<mcp_audit::otel::OtelExporter>>,
}

/// The running exporter: shut it down after serving (sends what is still queued).
#[derive(Debug)]
pub struct TelemetryHandle {
    #[cfg(feature = "otel")]
    exporter: std::sync::Arc<mcp_audit::otel::OtelExporter>,
}

impl TelemetryHandle {
    /// Send the spans and metrics still queued and stop the export threads.
    pub async fn shutdown(self) {
        #[cfg(feature = "otel")]
        {
            let x = self.exporter;
            match tokio::task::spawn_blocking(move || x.shutdown()).await {
                Ok(Ok(())) => tracing::info!("telemetry flushed"),
                Ok(Err(e)) => tracing::warn!(error = %e, "telemetry could not be flushed at shutdown"),
                Err(e) => tracing::error!(error = %e, "the telemetry shutdown panicked"),
            }
        }
    }
}

/// Check `[telemetry]`: its values, and that this binary can export at all.
pub(crate) fn check_config(cfg: &mcp_audit::TelemetryConfig) -> Result<(), ServerError> {
    cfg.validate().map_err(|e| ServerError::Config(e.to_string()))?;
    if cfg.enabled && !cfg!(feature = "otel") {
        return Err(ServerError::Config(
            "key `telemetry.enabled`: this binary was built without OpenTelemetry: rebuild with `--features otel` \
             (crate mcp-server), or set enabled = false"
                .into(),
        ));
    }
    Ok(())
}

impl Telemetry {
    /// True when spans and metrics are exported.
    pub(crate) fn is_on(&self) -> bool {
        #[cfg(feature = "otel")]
        return self.exporter.is_some();
        #[cfg(not(feature = "otel"))]
        false
    }

    /// Run one request, collecting the security events it raises for its span.
    pub(crate) async fn collect<T>(&self, fut: impl Future<Output = T>) -> (T, Vec<SecurityEvent>) {
        if !self.is_on() {
            return (fut.await, Vec::new());
        }
        let run = async {
            let out = fut.await;
            (out, REQUEST_EVENTS.try_with(RefCell::take).unwrap_or_default())
        };
        REQUEST_EVENTS.scope(RefCell::new(Vec::new()), run).await
    }

    /// A security event: counted, then kept for the running request's span, or exported as a
    /// span of its own when no request is running on this task.
    pub(crate) fn event(&self, e: &SecurityEvent) {
        #[cfg(feature = "otel")]
        if let Some(x) = &self.exporter {
            x.security_event(e);
            if mcp_monitor::AlertClass::of(e) == Some(mcp_monitor::AlertClass::LargeMessages) {
                x.count(mcp_audit::otel::SecurityMetric::LargeMessage);
            }
            // Every request's span already says who authenticated.
            if e.kind == mcp_core::SecurityEventKind::Authenticated {
                return;
            }
            let kept = REQUEST_EVENTS.try_with(|v| {
                if let Ok(mut v) = v.try_borrow_mut()
                    && v.len() < MAX_EVENTS_PER_REQUEST
                {
                    v.push(e.clone());
                }
            });
            if kept.is_err() {
                x.event_span(e);
            }
        }
        #[cfg(not(feature = "otel"))]
        let _ = e;
    }

    /// An accepted message above the large-message size.
    pub(crate) fn large_message(&self) {
        #[cfg(feature = "otel")]
        if let Some(x) = &self.exporter {
            x.count(mcp_audit::otel::SecurityMetric::LargeMessage);
        }
    }

    /// The span of one finished request.
    pub(crate) fn request(&self, server: &McpServer, record: &AuditRecord, events: &[SecurityEvent]) {
        #[cfg(feature = "otel")]
        if let Some(x) = &self.exporter {
            let method = method_label(&record.method);
            let target = record.target.as_deref().map(|t| target_label(server, method, t));
            x.request(&mcp_audit::otel::RequestInfo { record, method, target, events });
        }
        #[cfg(not(feature = "otel"))]
        let _ = (server, record, events);
    }
}

/// A method the server knows, or `(unknown)`: span names and metric labels stay few.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
fn method_label(m: &str) -> &str {
    crate::dispatch::known_method(m).map_or("(unknown)", |k| k.name)
}

/// The registered tool / prompt name, resource URI or resource template a target names, or
/// `(unregistered)`: never client-chosen text, nor the values a template URI carries.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
fn target_label<'a>(server: &'a McpServer, method: &str, target: &'a str) -> &'a str {
    let s = &server.0;
    let found = match method {
        // A registered tool is indexed by its exact name, so the target is that name.
        "tools/call" => s.tools.load().index.contains_key(target).then_some(target),
        "prompts/get" => s.prompt_index.get(target).map(|&i| s.prompts[i].prompt.name.as_str()),
        _ => s.resource_index.get(target).map(|&i| s.resources[i].resource.uri.as_str()).or_else(|| {
            s.templates.iter().find(|t| t.matches(target).is_some()).map(|t| t.template.uri_template.as_str())
        }),
    };
    found.unwrap_or("(unregistered)")
}

impl ServerBuilder {
    /// Export request spans, security events and security metrics with `exporter`.
    #[cfg(feature = "otel")]
    #[must_use]
    pub fn telemetry(mut self, exporter: std::sync::Arc<mcp_audit::otel::OtelExporter>) -> Self {
        self.telemetry = Telemetry { exporter: Some(exporter) };
        self
    }

    /// Apply `[telemetry]`: start the OTLP exporter when enabled (header values are read from
    /// the environment). The returned handle must be shut down after serving.
    pub fn telemetry_from_config(self, cfg: &Config) -> Result<(Self, Option<TelemetryHandle>), ServerError> {
        check_config(&cfg.telemetry)?;
        if !cfg.telemetry.enabled {
            return Ok((self, None));
        }
        #[cfg(feature = "otel")]
        {
            let env = |v: &str| std::env::var(v).ok();
            let x = mcp_audit::otel::OtelExporter::start(&cfg.telemetry, &self.info.version, &env)
                .map_err(|e| ServerError::Config(e.to_string()))?;
            let x = std::sync::Arc::new(x);
            tracing::info!(endpoint = %cfg.telemetry.otlp_endpoint, "exporting telemetry over OTLP/HTTP");
            Ok((self.telemetry(x.clone()), Some(TelemetryHandle { exporter: x })))
        }
        #[cfg(not(feature = "otel"))]
        Err(ServerError::Config("telemetry needs the `otel` feature".into()))
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn enabling_telemetry_needs_the_feature() {
        let r = Config::parse("[telemetry]\nenabled = true\n", []);
        if cfg!(feature = "otel") {
            assert!(r.unwrap().telemetry.enabled);
        } else {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("--features otel") && e.contains("telemetry.enabled"), "{e}");
        }
        // Off, it parses everywhere; unknown keys are refused like in every section.
        assert!(!Config::parse("[telemetry]\nservice_name = \"x\"\n", []).unwrap().telemetry.enabled);
        let e = Config::parse("[telemetry]\nendpoint = \"http://x\"\n", []).unwrap_err().to_string();
        assert!(e.contains("telemetry"), "{e}");
        let e = Config::parse("[telemetry]\ntimeout_ms = 1\n", []).unwrap_err().to_string();
        assert!(e.contains("telemetry.timeout_ms"), "{e}");
    }
}
