//! The `[telemetry]` configuration: where request spans, security events and security metrics
//! are exported over OTLP/HTTP. Always compiled, so a configuration can be parsed and checked by
//! a binary built without the `otel` feature (which then refuses to start with it enabled).

use std::collections::BTreeMap;
use std::collections::HashMap;

use serde::Deserialize;

use crate::error::AuditError;

/// `[telemetry]`: OpenTelemetry export (cargo feature `otel`).
///
/// ```
/// let c: mcp_audit::TelemetryConfig = toml::from_str(r#"
///     enabled = true
///     otlp_endpoint = "http://collector.internal:4318"
///     headers_from_env = { authorization = "OTLP_AUTHORIZATION" }
/// "#).unwrap();
/// c.validate().unwrap();
/// assert_eq!(c.traces_url(), "http://collector.internal:4318/v1/traces");
/// assert_eq!(c.metrics_url(), "http://collector.internal:4318/v1/metrics");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Export spans and metrics (off by default).
    pub enabled: bool,
    /// Base URL of the OTLP/HTTP receiver; `/v1/traces` and `/v1/metrics` are appended.
    pub otlp_endpoint: String,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// How often metrics are exported, and the longest a finished span waits in the batch
    /// queue, milliseconds.
    pub export_interval_ms: u64,
    /// Longest one export request may take, milliseconds.
    pub timeout_ms: u64,
    /// Headers sent with every export (for example an API key of a hosted collector): header
    /// name → name of the environment variable holding its value. Values never go in this file.
    pub headers_from_env: BTreeMap<String, String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            otlp_endpoint: "http://127.0.0.1:4318".into(),
            service_name: "mcp-secure".into(),
            export_interval_ms: 10_000,
            timeout_ms: 5_000,
            headers_from_env: BTreeMap::new(),
        }
    }
}

impl TelemetryConfig {
    /// Check every key; the error names the key and what is wrong (never a header value).
    pub fn validate(&self) -> Result<(), AuditError> {
        let bad = |key: &str, why: &str| Err(AuditError::Telemetry(format!("key `telemetry.{key}`: {why}")));
        let e = self.otlp_endpoint.as_str();
        let Some(rest) = e.strip_prefix("http://").or_else(|| e.strip_prefix("https://")) else {
            return bad("otlp_endpoint", "must start with http:// or https://");
        };
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return bad("otlp_endpoint", "names no host");
        }
        if authority.contains('@') {
            return bad("otlp_endpoint", "must not carry credentials; send them as a header (headers_from_env)");
        }
        if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("otlp_endpoint", "must be a base URL without query, fragment or spaces");
        }
        if self.service_name.trim().is_empty() || self.service_name.len() > 255 {
            return bad("service_name", "must be 1 to 255 characters");
        }
        if !(100..=3_600_000).contains(&self.export_interval_ms) {
            return bad("export_interval_ms", "must be between 100 and 3600000");
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            return bad("timeout_ms", "must be between 100 and 120000");
        }
        for (name, var) in &self.headers_from_env {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
                return bad("headers_from_env", "header names are letters, digits, '-' and '_'");
            }
            if var.is_empty() || var.contains(['=', '\0']) {
                return bad("headers_from_env", "each value must be the name of an environment variable");
            }
        }
        Ok(())
    }

    /// Where spans are sent: the endpoint followed by `/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.otlp_endpoint.trim_end_matches('/'))
    }

    /// Where metrics are sent: the endpoint followed by `/v1/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("{}/v1/metrics", self.otlp_endpoint.trim_end_matches('/'))
    }

    /// The export headers with their values read through `env`. A missing variable, or a value
    /// that cannot be a header, is an error naming the variable (never the value).
    pub fn headers(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<HashMap<String, String>, AuditError> {
        let mut out = HashMap::with_capacity(self.headers_from_env.len());
        for (name, var) in &self.headers_from_env {
            let value = env(var).ok_or_else(|| {
                AuditError::Telemetry(format!(
                    "environment variable {var} (header `{name}` of telemetry.headers_from_env) is not set"
                ))
            })?;
            if value.is_empty() || value.bytes().any(|b| b.is_ascii_control()) {
                return Err(AuditError::Telemetry(format!(
                    "environment variable {var} (header `{name}`) is empty or holds control characters"
                )));
            }
            out.insert(name.to_ascii_lowercase(), value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TelemetryConfig, String> {
        let c: TelemetryConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_are_off_and_valid() {
        let c = parse("").unwrap();
        assert!(!c.enabled);
        assert_eq!(c.traces_url(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(c.metrics_url(), "http://127.0.0.1:4318/v1/metrics");
    }

    #[test]
    fn trailing_slash_and_path_prefix() {
        let c = parse("otlp_endpoint = \"https://otel.example/otlp/\"").unwrap();
        assert_eq!(c.traces_url(), "https://otel.example/otlp/v1/traces");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key) in [
            ("otlp_endpoint = \"ftp://x\"", "otlp_endpoint"),
            ("otlp_endpoint = \"http://\"", "otlp_endpoint"),
            ("otlp_endpoint = \"http://user:pw@host:4318\"", "otlp_endpoint"),
            ("otlp_endpoint = \"http://host:4318/?a=b\"", "otlp_endpoint"),
            ("service_name = \"\"", "service_name"),
            ("export_interval_ms = 5", "export_interval_ms"),
            ("timeout_ms = 0", "timeout_ms"),
            ("headers_from_env = { \"bad header\" = \"V\" }", "headers_from_env"),
            ("headers_from_env = { h = \"\" }", "headers_from_env"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
        let e = parse("endpoint = \"http://x\"").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn headers_come_from_the_environment_and_errors_hide_values() {
        let c = parse("headers_from_env = { Authorization = \"OTLP_AUTH\", x-tenant = \"OTLP_TENANT\" }").unwrap();
        let env = |v: &str| match v {
            "OTLP_AUTH" => Some("Bearer s3cret".to_owned()),
            "OTLP_TENANT" => Some("blue".to_owned()),
            _ => None,
        };
        let h = c.headers(&env).unwrap();
        assert_eq!(h.get("authorization").map(String::as_str), Some("Bearer s3cret"));
        assert_eq!(h.get("x-tenant").map(String::as_str), Some("blue"));
        let e = c.headers(&|_| None).unwrap_err().to_string();
        assert!(e.contains("OTLP_AUTH") && e.contains("not set"), "{e}");
        let bad = |v: &str| (v == "OTLP_AUTH").then(|| "s3cret\r\nx: y".to_owned()).or(Some("t".into()));
        let e = c.headers(&bad).unwrap_err().to_string();
        assert!(e.contains("OTLP_AUTH") && !e.contains("s3cret"), "{e}");
    }
}
