//! The configuration file: one TOML document, `deny_unknown_fields` everywhere, layered with
//! `MCP_`-prefixed environment variables (`MCP_HTTP__LISTEN=0.0.0.0:9000` sets `http.listen`).

use std::path::Path;
use std::time::Duration;

use mcp_transport::HttpConfig;
use serde::Deserialize;

use crate::error::ServerError;
use crate::server::ServerSettings;
use crate::session::SessionLimits;

/// The embedded default configuration (what `mcp-server serve` runs with no `--config`).
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// The standard authorization policy (TOML of the `[authorization]` section).
pub const STANDARD_POLICY: &str = include_str!("standard-policy.toml");

/// The standard authorization policy, parsed.
pub fn standard_policy() -> mcp_authz::AuthorizationConfig {
    // Parsed by a unit test on every build, so this cannot fail at run time.
    toml::from_str(STANDARD_POLICY).unwrap_or_default()
}

/// Whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Protocol settings.
    pub server: ServerSection,
    /// HTTP listener.
    pub http: HttpConfig,
    /// Process logging.
    pub logging: LoggingSection,
    /// TLS of every outbound call (identity provider, secret backends).
    pub outbound_tls: mcp_transport::outbound::OutboundTlsConfig,
    /// Authentication. Absent: API keys kept in `server.data_dir` (created on first start).
    pub auth: Option<mcp_auth::AuthConfig>,
    /// Switches that weaken security, each off by default.
    pub danger: DangerSection,
    /// The secret store (default: the local encrypted store in `server.data_dir`).
    pub secrets: Option<mcp_secrets::SecretsConfig>,
    /// Authorization. Absent: the standard policy ([`STANDARD_POLICY`]: roles `admin`, `user`,
    /// `readonly`, `default_role = "user"`, the `mcp:*` scopes).
    pub authorization: Option<mcp_authz::AuthorizationConfig>,
    /// Rate limits (on by default: per IP, per client, per client for tool calls).
    pub rate_limit: mcp_ratelimit::RateLimitConfig,
    /// The tamper-evident audit log (on by default, in `<data_dir>/audit/`).
    pub audit_log: mcp_audit::AuditLogConfig,
    /// Bounds on tool schemas.
    pub schema_validation: mcp_validate::SchemaLimits,
    /// Sizes and types of content leaving the server (and arriving embedded in requests).
    pub content_validation: mcp_validate::ContentConfig,
    /// Prompt-injection guard on prompt arguments (and tool arguments where enabled).
    pub prompt_security: mcp_validate::PromptSecurityConfig,
    /// GDPR behaviour: retention, erasure, portability, consent.
    pub gdpr: crate::compliance::GdprSection,
    /// HIPAA requirements checked at startup.
    pub hipaa: crate::compliance::HipaaSection,
    /// Security monitoring: failed-attempt blocking, alerts, anomalies, metrics (on by default;
    /// blocks persist in `<data_dir>/blocks.json` unless `monitoring.blocking.file` says else).
    pub monitoring: mcp_monitor::MonitoringConfig,
    /// OpenTelemetry export of request spans and security metrics (off by default; needs the
    /// `otel` cargo feature).
    pub telemetry: mcp_audit::TelemetryConfig,
}

/// `[danger]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DangerSection {
    /// Serve every HTTP caller as `anonymous`, without authentication. Refused on a
    /// non-loopback listen address.
    pub allow_unauthenticated: bool,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Name announced to clients.
    pub name: String,
    /// Where the server keeps its own state (the default API keys). `~/` means `$HOME/`.
    pub data_dir: std::path::PathBuf,
    /// Instructions for the model.
    pub instructions: Option<String>,
    /// Items per page of list results (1..=1000).
    pub page_size: usize,
    /// Longest a handler may run, seconds.
    pub handler_timeout_secs: u64,
    /// Longest to wait for the client's answer to an input request, seconds.
    pub input_timeout_secs: u64,
    /// Lifetime of an input-required `requestState`, seconds.
    pub request_state_ttl_secs: u64,
    /// `ttlMs` on cacheable results (stateless era).
    pub cache_ttl_ms: u64,
    /// Deepest accepted JSON nesting.
    pub max_json_depth: usize,
    /// Most `subscriptions/listen` streams open at once.
    pub max_listen_streams: usize,
    /// Legacy session caps.
    pub sessions: SessionsSection,
    /// Roles of the stdio caller (`serve --stdio`: the local user who started the process).
    pub stdio_roles: Vec<String>,
    /// How often the secrets `[auth]` reads from the store are checked for a new version
    /// (then the authenticator is rebuilt without a restart), seconds.
    pub secret_poll_secs: u64,
    /// A tool replaced at runtime with a changed definition: `"audit"` (accept and record
    /// `tool_definition_changed`, default) or `"refuse"` (keep the old one, record the attempt).
    pub pin_tool_definitions: crate::PinMode,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            name: "mcp-secure".into(),
            data_dir: "~/.local/share/mcp-secure".into(),
            instructions: None,
            page_size: 100,
            handler_timeout_secs: 30,
            input_timeout_secs: 60,
            request_state_ttl_secs: 600,
            cache_ttl_ms: 0,
            max_json_depth: 64,
            max_listen_streams: 1000,
            sessions: SessionsSection::default(),
            stdio_roles: vec!["admin".into()],
            secret_poll_secs: 30,
            pin_tool_definitions: crate::PinMode::default(),
        }
    }
}

/// `[server.sessions]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsSection {
    /// Most sessions alive at once.
    pub max_sessions: usize,
    /// Most sessions per principal.
    pub max_per_principal: usize,
    /// Idle sessions end after this many seconds.
    pub idle_timeout_secs: u64,
}

impl Default for SessionsSection {
    fn default() -> Self {
        let d = SessionLimits::default();
        Self {
            max_sessions: d.max_sessions,
            max_per_principal: d.max_per_principal,
            idle_timeout_secs: d.idle_timeout.as_secs(),
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// `[logging]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingSection {
    /// `tracing` filter, e.g. `info` or `mcp_server=debug,info`.
    pub level: String,
    /// `human` or `json`.
    pub format: LogFormat,
}

impl Default for LoggingSection {
    fn default() -> Self {
        Self { level: "info".into(), format: LogFormat::Human }
    }
}

impl Config {
    /// Parse TOML text, then apply `MCP_*` variables from `env`.
    ///
    /// ```
    /// let cfg = mcp_server::Config::parse("[http]\nmax_message_size = 4096\n", [("MCP_SERVER__PAGE_SIZE", "5")]).unwrap();
    /// assert_eq!(cfg.http.max_message_size, 4096);
    /// assert_eq!(cfg.server.page_size, 5);
    /// let e = mcp_server::Config::parse("[http]\nmax_mesage_size = 1\n", []).unwrap_err();
    /// assert!(e.to_string().contains("http"));
    /// ```
    pub fn parse<'a>(text: &str, env: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ServerError> {
        let mut doc: toml::Table =
            toml::from_str(text).map_err(|e| ServerError::Config(format!("not valid TOML: {e}")))?;
        for (k, v) in env {
            // Every key lives in a section, so an override always has a `__`; single-segment
            // names such as `MCP_LOG` are not config keys.
            let Some(path) = k.strip_prefix("MCP_").filter(|p| p.contains("__")) else { continue };
            let keys: Vec<String> = path.split("__").map(|s| s.to_ascii_lowercase()).collect();
            if keys.iter().any(String::is_empty) {
                return Err(ServerError::Config(format!(
                    "environment variable {k}: empty key segment (use MCP_SECTION__KEY)"
                )));
            }
            set_path(&mut doc, &keys, parse_env_value(v))
                .map_err(|why| ServerError::Config(format!("environment variable {k}: {why}")))?;
        }
        let de = toml::Value::Table(doc);
        let cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ServerError::Config(format!(
                "key `{path}`: {} (see docs/configuration.md)",
                hide_values(e.inner().message())
            ))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Read a file (or the embedded default when `path` is `None`) and the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ServerError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| {
                ServerError::Config(format!("cannot read {}: {e} (check the path given to --config)", p.display()))
            })?,
            None => DEFAULT_CONFIG.to_owned(),
        };
        let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("MCP_")).collect();
        Self::parse(&text, env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    fn validate(&self) -> Result<(), ServerError> {
        self.http.validate().map_err(|e| match e {
            mcp_transport::TransportError::Config { key, reason } => {
                ServerError::Config(format!("key `http.{key}`: {reason}"))
            }
            other => ServerError::Config(other.to_string()),
        })?;
        let bad = |key: &str, why: &str| Err(ServerError::Config(format!("key `{key}`: {why}")));
        let s = &self.server;
        if !(1..=1000).contains(&s.page_size) {
            return bad("server.page_size", "must be between 1 and 1000");
        }
        if !(1..=512).contains(&s.max_json_depth) {
            return bad("server.max_json_depth", "must be between 1 and 512");
        }
        for (k, v) in [
            ("server.handler_timeout_secs", s.handler_timeout_secs),
            ("server.input_timeout_secs", s.input_timeout_secs),
            ("server.request_state_ttl_secs", s.request_state_ttl_secs),
            ("server.sessions.idle_timeout_secs", s.sessions.idle_timeout_secs),
        ] {
            if v == 0 || v > 86_400 {
                return bad(k, "must be between 1 and 86400 seconds");
            }
        }
        if s.max_listen_streams == 0 {
            return bad("server.max_listen_streams", "must be at least 1");
        }
        if s.sessions.max_sessions == 0 || s.sessions.max_per_principal == 0 {
            return bad("server.sessions", "max_sessions and max_per_principal must be at least 1");
        }
        mcp_transport::outbound::client_config(&self.outbound_tls, None).map_err(|e| match e {
            mcp_transport::TransportError::Config { key, reason } => {
                ServerError::Config(format!("key `{key}`: {reason}"))
            }
            other => ServerError::Config(other.to_string()),
        })?;
        if let Some(a) = &self.auth {
            a.validate().map_err(|e| ServerError::Config(format!("key `auth`: {e}")))?;
            if a.methods.is_empty() {
                return bad(
                    "auth.methods",
                    "lists no method; name at least one, or remove [auth] to use the data-dir API keys",
                );
            }
        }
        if let Some(sc) = &self.secrets {
            sc.validate().map_err(|e| ServerError::Config(format!("key `secrets`: {e}")))?;
        }
        if self.danger.allow_unauthenticated {
            if self.auth.is_some() {
                return bad("danger.allow_unauthenticated", "cannot be combined with [auth]; remove one of them");
            }
            if !self.http.listen.ip().is_loopback() {
                return bad("danger.allow_unauthenticated", "is refused on a non-loopback listen address");
            }
        }
        crate::telemetry::check_config(&self.telemetry)?;
        if tracing_subscriber::EnvFilter::try_new(&self.logging.level).is_err() {
            return bad("logging.level", "not a valid filter (try \"info\" or \"mcp_server=debug,info\")");
        }
        Ok(())
    }

    /// The protocol settings this config describes.
    /// The validation sections.
    pub fn validation(&self) -> crate::ValidationConfig {
        crate::ValidationConfig {
            schema: self.schema_validation,
            content: self.content_validation.clone(),
            prompt: self.prompt_security.clone(),
        }
    }

    /// The `[authorization]` policy in force.
    pub fn authorization(&self) -> mcp_authz::AuthorizationConfig {
        self.authorization.clone().unwrap_or_else(standard_policy)
    }

    /// The protocol settings of `[server]`.
    pub fn server_settings(&self) -> ServerSettings {
        let s = &self.server;
        ServerSettings {
            page_size: s.page_size,
            handler_timeout: Duration::from_secs(s.handler_timeout_secs),
            input_timeout: Duration::from_secs(s.input_timeout_secs),
            request_state_ttl: Duration::from_secs(s.request_state_ttl_secs),
            cache_ttl_ms: s.cache_ttl_ms,
            limits: mcp_protocol::Limits { max_size: self.http.max_message_size, max_depth: s.max_json_depth },
            sessions: SessionLimits {
                max_sessions: s.sessions.max_sessions,
                max_per_principal: s.sessions.max_per_principal,
                idle_timeout: Duration::from_secs(s.sessions.idle_timeout_secs),
            },
            max_listen_streams: s.max_listen_streams,
            stdio_roles: s.stdio_roles.clone(),
            pin_tool_definitions: s.pin_tool_definitions,
        }
    }
}

/// A deserializer message without the offending value: serde quotes what it found
/// (``unknown variant `VALUE` ``, ``invalid value: string "VALUE"``), and a misplaced secret
/// must not end up in an error message. What was expected stays.
fn hide_values(msg: &str) -> String {
    let mut out = msg.to_owned();
    for (marker, open, close) in
        [("unknown variant `", "`", '`'), ("unknown field `", "`", '`'), ("string \"", "\"", '"')]
    {
        if let Some(start) = out.find(marker) {
            let from = start + marker.len();
            if let Some(len) = out[from..].find(close) {
                out.replace_range(start + marker.len() - open.len()..from + len + 1, "(value not shown)");
            }
        }
    }
    out
}

fn parse_env_value(v: &str) -> toml::Value {
    // A TOML literal (number, bool, array, quoted string) when it parses as one, else a string.
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_owned()))
}

fn set_path(doc: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().ok_or("no key")?;
    let mut t = doc;
    for k in parents {
        let entry = t.entry(k.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry.as_table_mut().ok_or_else(|| format!("`{k}` is not a section"))?;
    }
    t.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_do_not_echo_values() {
        let text =
            "[auth.jwt]\nissuer = \"i\"\nalgorithms = [\"HS256\"]\nkeys = [{ hmac_secret = \"s3cr3t-literal\" }]\n";
        let e = Config::parse(text, []).unwrap_err().to_string();
        assert!(!e.contains("s3cr3t-literal") && e.contains("hmac_secret") && e.contains("expected"), "{e}");
        let e = Config::parse("[server]\nname = 5\n", []).unwrap_err().to_string();
        assert!(e.contains("server.name"), "{e}");
    }

    #[test]
    fn standard_policy_parses_and_compiles() {
        let p: mcp_authz::AuthorizationConfig = toml::from_str(STANDARD_POLICY).unwrap();
        assert_eq!(p, standard_policy());
        assert_eq!(p.default_role.as_deref(), Some("user"));
        mcp_authz::Policy::compile(&p, &mcp_authz::CodeRules::new()).unwrap();
    }

    #[test]
    fn default_config_parses() {
        let c = Config::parse(DEFAULT_CONFIG, []).unwrap();
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8765");
        assert_eq!(c.http.path, "/mcp");
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse("[server]\npage_size = \"x\"\n", []).unwrap_err().to_string();
        assert!(e.contains("server.page_size"), "{e}");
        let e = Config::parse("[server]\npage_size = 0\n", []).unwrap_err().to_string();
        assert!(e.contains("server.page_size"), "{e}");
        let e = Config::parse("[nope]\n", []).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let e = Config::parse("", [("MCP_HTTP__LISTEN", "0.0.0.0:80")]).unwrap_err().to_string();
        assert!(e.contains("http.listen"), "{e}");
        let e = Config::parse("", [("MCP_HTTP__MAX_MESSAGE_SIZE", "abc")]).unwrap_err().to_string();
        assert!(e.contains("http.max_message_size"), "{e}");
    }

    #[test]
    fn env_layering() {
        let c = Config::parse(
            "",
            [("MCP_HTTP__LISTEN", "127.0.0.1:9999"), ("MCP_LOGGING__FORMAT", "json"), ("OTHER", "x")],
        )
        .unwrap();
        assert_eq!(c.http.listen.port(), 9999);
        assert_eq!(c.logging.format, LogFormat::Json);
    }
}
