//! The `[gdpr]` and `[hipaa]` sections.

use serde::Deserialize;

/// `[gdpr]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GdprSection {
    /// Turn the GDPR behaviour on.
    pub enabled: bool,
    /// Audit records (and other personal data the server keeps) older than this many days are
    /// purged daily and by `mcp-server gdpr purge`. 0 keeps everything.
    pub data_retention_days: u32,
    /// `mcp-server gdpr erase --client ID` is allowed.
    pub right_to_deletion: bool,
    /// `mcp-server gdpr export --client ID` is allowed.
    pub data_portability: bool,
    /// Consent records per client and purpose; tools and resources may require a purpose.
    pub consent_tracking: bool,
}

/// A HIPAA requirement switch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// Checked at startup; a deployment that does not meet it refuses to start.
    Required,
    /// Not checked.
    #[default]
    Optional,
}

/// Where `breach_suspected` events go.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationTarget {
    /// POST the event as JSON to this URL (https, or http to a loopback host).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Run this program with the event as JSON on stdin (no shell; argv as a list).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Timeout of one delivery, milliseconds.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_timeout() -> u64 {
    5000
}

/// `[hipaa]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HipaaSection {
    /// Turn the requirements below into startup checks.
    pub enabled: bool,
    /// TLS on every listener (1.2 minimum, AEAD suites only), encrypted secret store, audit
    /// files encrypted at rest or on a volume the operator declares encrypted.
    pub encryption: Requirement,
    /// The operator declares the audit directory is on an encrypted volume.
    pub audit_volume_encrypted: bool,
    /// Audit log on, `fail_closed`, every event class, `fsync` not `none`.
    pub audit_trail: Requirement,
    /// Every resource read and tool call is recorded with its principal.
    pub access_log: Requirement,
    /// A notification target receives `breach_suspected` events.
    pub breach_notification: Requirement,
    /// The target of breach notifications.
    pub notification: Option<NotificationTarget>,
    /// Authorization failures on PHI-tagged tools or resources within a minute that make a
    /// `breach_suspected` event.
    pub phi_denials_per_minute: u32,
}
