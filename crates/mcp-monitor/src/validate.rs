//! Validation of [`MonitoringConfig`]: every error names the setting and the accepted range.

use mcp_core::SecurityEventKind;

use crate::config::{AlertsConfig, AnomalyConfig, BlockingConfig, MonitoringConfig};
use crate::error::MonitorError;
use crate::kinds::{self, KindSet};

/// Largest accepted `block_after` (each tracked key keeps up to this many timestamps).
pub(crate) const MAX_BLOCK_AFTER: u32 = 1000;

fn bad(msg: String) -> MonitorError {
    MonitorError::Config(msg)
}

pub(crate) fn check(c: &MonitoringConfig) -> Result<(), MonitorError> {
    blocking(&c.blocking)?;
    alerts(&c.alerts)?;
    anomaly(&c.anomaly)
}

/// The set of kinds that count as failures. Kinds the monitor emits itself are refused, so a
/// block can never feed back into the counter that caused it.
pub(crate) fn count_kinds(c: &BlockingConfig) -> Result<KindSet, MonitorError> {
    let mut out = Vec::with_capacity(c.count_kinds.len());
    for name in &c.count_kinds {
        let kind = kinds::parse(name).ok_or_else(|| {
            bad(format!(
                "blocking.count_kinds: unknown event kind {name:?} (use snake_case names like \"authenticate_fail\")"
            ))
        })?;
        if matches!(kind, SecurityEventKind::ClientBlocked | SecurityEventKind::Alert | SecurityEventKind::Anomaly) {
            return Err(bad(format!(
                "blocking.count_kinds: {name:?} is emitted by the monitor itself and cannot count"
            )));
        }
        out.push(kind);
    }
    Ok(KindSet::of(out))
}

fn blocking(c: &BlockingConfig) -> Result<(), MonitorError> {
    count_kinds(c)?;
    if c.block_after == 0 || c.block_after > MAX_BLOCK_AFTER {
        return Err(bad(format!("blocking.block_after must be 1..={MAX_BLOCK_AFTER}, got {}", c.block_after)));
    }
    positive("blocking.window_secs", c.window_secs)?;
    positive("blocking.block_secs", c.block_secs)?;
    positive("blocking.reload_interval_secs", c.reload_interval_secs)?;
    if c.max_block_secs < c.block_secs {
        return Err(bad(format!(
            "blocking.max_block_secs ({}) must be at least blocking.block_secs ({})",
            c.max_block_secs, c.block_secs
        )));
    }
    if c.max_block_secs > 10 * 365 * 86_400 {
        return Err(bad("blocking.max_block_secs must be at most ten years".into()));
    }
    positive("blocking.max_tracked", c.max_tracked as u64)?;
    positive("blocking.max_blocks", c.max_blocks as u64)?;
    if c.redis_key_prefix.is_empty() || c.redis_key_prefix.len() > 64 {
        return Err(bad("blocking.redis_key_prefix must be 1 to 64 bytes".into()));
    }
    if !(1..=128).contains(&c.ipv6_prefix_len) {
        return Err(bad(format!("blocking.ipv6_prefix_len must be 1..=128, got {}", c.ipv6_prefix_len)));
    }
    Ok(())
}

fn alerts(c: &AlertsConfig) -> Result<(), MonitorError> {
    positive("alerts.window_secs", c.window_secs)?;
    positive("alerts.timeout_ms", c.timeout_ms)?;
    positive("alerts.queue_capacity", c.queue_capacity as u64)?;
    if c.retries > 10 {
        return Err(bad(format!("alerts.retries must be 0..=10, got {}", c.retries)));
    }
    if c.backoff_ms > 60_000 {
        return Err(bad(format!("alerts.backoff_ms must be at most 60000, got {}", c.backoff_ms)));
    }
    if let Some(url) = &c.webhook_url {
        #[cfg(feature = "webhook")]
        crate::webhook::check_url(url)?;
        #[cfg(not(feature = "webhook"))]
        {
            let _ = url;
            return Err(MonitorError::FeatureNotCompiled { what: "alerts.webhook_url", feature: "webhook" });
        }
    }
    Ok(())
}

fn anomaly(c: &AnomalyConfig) -> Result<(), MonitorError> {
    positive("anomaly.bucket_secs", c.bucket_secs)?;
    positive("anomaly.max_clients", c.max_clients as u64)?;
    if !(c.alpha > 0.0 && c.alpha <= 1.0) {
        return Err(bad(format!("anomaly.alpha must be in (0, 1], got {}", c.alpha)));
    }
    if !(c.anomaly_factor.is_finite() && c.anomaly_factor > 1.0) {
        return Err(bad(format!("anomaly.anomaly_factor must be a finite number above 1, got {}", c.anomaly_factor)));
    }
    if !(c.failure_margin > 0.0 && c.failure_margin < 1.0) {
        return Err(bad(format!("anomaly.failure_margin must be in (0, 1), got {}", c.failure_margin)));
    }
    if !(c.min_rate.is_finite() && c.min_rate >= 0.0) {
        return Err(bad(format!("anomaly.min_rate must be a finite number >= 0, got {}", c.min_rate)));
    }
    Ok(())
}

fn positive(name: &str, v: u64) -> Result<(), MonitorError> {
    if v == 0 {
        return Err(bad(format!("{name} must be greater than 0")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> MonitoringConfig {
        toml::from_str(toml_text).expect("toml")
    }

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let c = parse("");
        c.validate().expect("defaults valid");
        assert_eq!(c.blocking.block_after, 5);
        assert_eq!(c.blocking.window_secs, 300);
        assert_eq!(c.alerts.thresholds.auth_failures, 10);
        assert_eq!(c.alerts.timeout_ms, 2000);
        assert_eq!(c.anomaly.anomaly_factor, 5.0);
        let set = count_kinds(&c.blocking).expect("kinds");
        assert!(set.contains(SecurityEventKind::AuthenticateFail));
        assert!(set.contains(SecurityEventKind::AuthorizeFail));
    }

    #[test]
    fn full_section_parses() {
        let c = parse(
            r#"
            [blocking]
            count_kinds = ["authenticate_fail", "validation_fail"]
            block_after = 3
            file = "/var/lib/mcp/blocks.json"
            [alerts]
            webhook_url = "https://hooks.example/abc"
            retries = 1
            [alerts.thresholds]
            auth_failures = 0
            [anomaly]
            anomaly_factor = 8.0
            "#,
        );
        #[cfg(feature = "webhook")]
        c.validate().expect("valid");
        #[cfg(not(feature = "webhook"))]
        assert!(c.validate().expect_err("no webhook feature").to_string().contains("--features webhook"));
        assert!(count_kinds(&c.blocking).expect("kinds").contains(SecurityEventKind::ValidationFail));
        assert_eq!(c.alerts.thresholds.auth_failures, 0);
        assert_eq!(format!("{:?}", c.alerts.webhook_url), "Some(WebhookUrl([REDACTED]))");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(toml::from_str::<MonitoringConfig>("[blocking]\nblock_aftr = 3").is_err());
        for (text, needle) in [
            ("[blocking]\nblock_after = 0", "block_after"),
            ("[blocking]\ncount_kinds = [\"alert\"]", "emitted by the monitor"),
            ("[blocking]\ncount_kinds = [\"nope\"]", "unknown event kind"),
            ("[blocking]\nblock_secs = 600\nmax_block_secs = 60", "max_block_secs"),
            ("[blocking]\nipv6_prefix_len = 0", "ipv6_prefix_len"),
            ("[alerts]\nwindow_secs = 0", "alerts.window_secs"),
            ("[alerts]\nretries = 99", "alerts.retries"),
            ("[anomaly]\nalpha = 0.0", "anomaly.alpha"),
            ("[anomaly]\nanomaly_factor = 1.0", "anomaly_factor"),
            ("[anomaly]\nfailure_margin = 1.5", "failure_margin"),
        ] {
            let err = parse(text).validate().expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
