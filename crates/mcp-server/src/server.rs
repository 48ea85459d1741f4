//! The server value: a compiled, immutable registry shared by every transport.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mcp_core::traits::{AuditSink, BackendError};
use mcp_core::{BoxFuture, SecurityEvent, SecurityEventKind};
use mcp_protocol::types::Implementation;

use crate::error::ServerError;
use crate::handler::{PromptSpec, ResourceSpec, ResourceTemplateSpec, ToolSpec};
use crate::session::SessionStore;
use crate::state::StateKey;
use crate::subscriptions::Hub;

/// Protocol-level settings (the `[server]` config section).
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Items per page of the list methods.
    pub page_size: usize,
    /// Longest a handler may run.
    pub handler_timeout: Duration,
    /// Longest to wait for the client's answer to sampling / elicitation / roots.
    pub input_timeout: Duration,
    /// How long an input-required `requestState` stays valid.
    pub request_state_ttl: Duration,
    /// `ttlMs` advertised on cacheable results (stateless era).
    pub cache_ttl_ms: u64,
    /// Largest accepted message (bytes) and nesting depth.
    pub limits: mcp_protocol::Limits,
    /// Session caps (legacy era).
    pub sessions: crate::session::SessionLimits,
    /// Most `subscriptions/listen` streams open at once (stateless era).
    pub max_listen_streams: usize,
    /// Roles of the stdio caller (the local user who started the process).
    pub stdio_roles: Vec<String>,
    /// What [`McpServer::replace_tool`] does with a changed tool definition.
    pub pin_tool_definitions: crate::replace::PinMode,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            page_size: 100,
            handler_timeout: Duration::from_secs(30),
            input_timeout: Duration::from_secs(60),
            request_state_ttl: Duration::from_secs(600),
            cache_ttl_ms: 0,
            limits: mcp_protocol::Limits::default(),
            sessions: crate::session::SessionLimits::default(),
            max_listen_streams: 1000,
            stdio_roles: vec!["admin".into()],
            pin_tool_definitions: crate::replace::PinMode::default(),
        }
    }
}

/// The default security event sink: structured `tracing` records at WARN.
#[derive(Debug, Default)]
pub struct TracingSink;

impl AuditSink for TracingSink {
    fn record(&self, e: SecurityEvent) -> Result<(), BackendError> {
        // Fields are only formatted when the level is enabled: authentications are per request.
        let peer = e.peer.as_ref().map(tracing::field::display);
        if e.kind == SecurityEventKind::Authenticated {
            tracing::info!(target: "mcp_security", kind = e.kind.as_str(), principal = e.principal.as_deref(), peer, method = e.method.as_deref(), "authenticated");
            return Ok(());
        }
        tracing::warn!(
            target: "mcp_security",
            kind = e.kind.as_str(),
            reason = e.reason,
            principal = e.principal.as_deref(),
            peer,
            method = e.method.as_deref(),
            resource = e.resource.as_deref(),
            rule = e.rule.as_deref(),
            "security event"
        );
        Ok(())
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async { Ok(()) })
    }
}

pub(crate) struct Inner {
    pub(crate) info: Implementation,
    /// `{"io.modelcontextprotocol/serverInfo": {...}}`, serialized once: the `_meta` of a
    /// stateless-era result that has none of its own.
    pub(crate) result_meta: Option<Box<serde_json::value::RawValue>>,
    pub(crate) instructions: Option<String>,
    /// The tool registry, swapped whole when a tool is replaced.
    pub(crate) tools: arc_swap::ArcSwap<crate::tools::ToolTable>,
    /// Pinned tool-definition hashes; also the lock serializing tool replacements.
    pub(crate) pins: std::sync::Mutex<mcp_authz::ToolPins>,
    pub(crate) resources: Vec<ResourceSpec>,
    pub(crate) resource_index: HashMap<String, usize>,
    pub(crate) templates: Vec<ResourceTemplateSpec>,
    pub(crate) prompts: Vec<PromptSpec>,
    pub(crate) prompt_index: HashMap<String, usize>,
    pub(crate) settings: ServerSettings,
    pub(crate) state_key: StateKey,
    pub(crate) sessions: SessionStore,
    pub(crate) hub: Arc<Hub>,
    pub(crate) events: Arc<dyn AuditSink>,
    pub(crate) listeners: Arc<std::sync::atomic::AtomicUsize>,
    pub(crate) auth: crate::auth::AuthMode,
    pub(crate) secrets: Option<mcp_secrets::Secrets>,
    /// Authorization; `None` only when the builder was told to skip it.
    pub(crate) authz: Option<crate::guard::Authz>,
    /// The audit log: one record per decoded request.
    pub(crate) audit: Option<Arc<dyn AuditSink>>,
    /// Rate limits (per IP, per client, per tool).
    pub(crate) ratelimit: Option<Arc<mcp_ratelimit::RateLimitEngine>>,
    /// Security monitoring: blocks, alerts, anomalies, metrics.
    pub(crate) monitor: Option<Arc<mcp_monitor::SecurityMonitor>>,
    /// Schemas, content rules, prompt safety.
    pub(crate) validation: Option<crate::validation::Validation>,
    /// GDPR consent records, when tracked.
    pub(crate) consent: Option<Arc<crate::compliance::ConsentStore>>,
    /// Accepted messages larger than this are counted as large (`monitoring.alerts`).
    pub(crate) large_message_bytes: u64,
    /// OpenTelemetry export (`[telemetry]`).
    pub(crate) telemetry: crate::telemetry::Telemetry,
}

/// An MCP server: build it once, then serve it over HTTP and/or stdio.
///
/// ```
/// use mcp_server::{McpServer, ToolSpec, HandlerError};
/// use mcp_protocol::types::CallToolResult;
/// let server = McpServer::builder("demo", "1.0.0")
///     .add_tool(ToolSpec::new("hello", "Says hello").raw_handler(|_args, _ctx| async {
///         Ok::<_, HandlerError>(CallToolResult::text("hello"))
///     }))
///     .danger_allow_unauthenticated()
///     .build()
///     .unwrap();
/// assert_eq!(server.tool_names(), vec!["hello"]);
/// ```
#[derive(Clone)]
pub struct McpServer(pub(crate) Arc<Inner>);

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("name", &self.0.info.name)
            .field("tools", &self.tools().specs.len())
            .finish_non_exhaustive()
    }
}

impl McpServer {
    /// Start building a server that introduces itself as `name` `version`.
    pub fn builder(name: impl Into<String>, version: impl Into<String>) -> ServerBuilder {
        ServerBuilder {
            info: Implementation { name: name.into(), version: version.into(), title: None },
            instructions: None,
            tools: Vec::new(),
            resources: Vec::new(),
            templates: Vec::new(),
            prompts: Vec::new(),
            settings: ServerSettings::default(),
            events: Arc::new(TracingSink),
            auth: None,
            secrets: None,
            authz: None,
            audit: None,
            ratelimit: None,
            monitor: None,
            authz_config: None,
            validation: crate::validation::ValidationConfig::default(),
            consent: None,
            large_message_bytes: 1 << 20,
            telemetry: Default::default(),
        }
    }

    /// The compiled authorization policy (for `authz explain` and configuration checks);
    /// `None` with a custom authorizer or without authorization.
    pub fn authorization_policy(&self) -> Option<Arc<mcp_authz::Policy>> {
        self.0.authz.as_ref()?.policy.as_ref().map(|p| p.policy())
    }

    /// URIs of the registered resources and resource templates.
    pub fn resource_uris(&self) -> Vec<&str> {
        let fixed = self.0.resources.iter().map(|r| r.resource.uri.as_str());
        fixed.chain(self.0.templates.iter().map(|t| t.template.uri_template.as_str())).collect()
    }

    /// Tool names and resource URIs tagged as protected health information.
    pub fn phi_targets(&self) -> std::collections::HashSet<String> {
        let table = self.tools();
        let tools = table.specs.iter().filter(|t| t.phi).map(|t| t.tool.name.clone());
        tools.chain(self.0.resources.iter().filter(|r| r.phi).map(|r| r.resource.uri.clone())).collect()
    }

    /// The security monitor, when one is configured.
    pub fn monitor(&self) -> Option<&Arc<mcp_monitor::SecurityMonitor>> {
        self.0.monitor.as_ref()
    }

    /// Names of the registered prompts.
    pub fn prompt_names(&self) -> Vec<&str> {
        self.0.prompts.iter().map(|p| p.prompt.name.as_str()).collect()
    }

    /// Names of the registered tools, in registration order.
    pub fn tool_names(&self) -> Vec<String> {
        self.tools().specs.iter().map(|t| t.tool.name.clone()).collect()
    }

    /// Tell subscribers that a resource changed (`notifications/resources/updated`).
    pub fn notify_resource_updated(&self, uri: &str) {
        self.0.hub.resource_updated(uri);
    }

    /// Tell subscribers that the tool list changed.
    pub fn notify_tools_changed(&self) {
        self.0.hub.list_changed(crate::subscriptions::ListKind::Tools);
    }

    /// Tell subscribers that the prompt list changed.
    pub fn notify_prompts_changed(&self) {
        self.0.hub.list_changed(crate::subscriptions::ListKind::Prompts);
    }

    /// Where this server's security events go (log, audit, monitor).
    pub(crate) fn event_sink(&self) -> Arc<dyn AuditSink> {
        self.0.events.clone()
    }

    /// Record a security event with every subscriber.
    pub(crate) fn emit(&self, e: SecurityEvent) {
        let _ = self.0.events.record(e);
    }

    /// Record a security event.
    pub(crate) fn event(
        &self,
        kind: SecurityEventKind,
        reason: &'static str,
        peer: Option<std::net::SocketAddr>,
        method: Option<&str>,
    ) {
        let mut e = SecurityEvent::new(kind, reason, std::time::SystemTime::now());
        e.peer = peer;
        e.method = method.map(Into::into);
        self.emit(e);
    }

    /// The settings in force.
    pub fn settings(&self) -> &ServerSettings {
        &self.0.settings
    }
}

/// Builds an [`McpServer`].
#[derive(Debug)]
pub struct ServerBuilder {
    pub(crate) info: Implementation,
    instructions: Option<String>,
    tools: Vec<ToolSpec>,
    resources: Vec<ResourceSpec>,
    templates: Vec<ResourceTemplateSpec>,
    prompts: Vec<PromptSpec>,
    settings: ServerSettings,
    pub(crate) events: Arc<dyn AuditSink>,
    auth: Option<crate::auth::AuthMode>,
    pub(crate) secrets: Option<mcp_secrets::Secrets>,
    authz: Option<crate::guard::Authz>,
    audit: Option<Arc<dyn AuditSink>>,
    ratelimit: Option<Arc<mcp_ratelimit::RateLimitEngine>>,
    pub(crate) monitor: Option<Arc<mcp_monitor::SecurityMonitor>>,
    authz_config: Option<mcp_authz::AuthorizationConfig>,
    validation: crate::validation::ValidationConfig,
    consent: Option<Arc<crate::compliance::ConsentStore>>,
    large_message_bytes: u64,
    pub(crate) telemetry: crate::telemetry::Telemetry,
}

impl ServerBuilder {
    /// Accepted messages larger than `bytes` are counted by the monitor as large messages
    /// (default 1 MiB; `monitoring.alerts.large_message_bytes`).
    #[must_use]
    pub fn large_message_bytes(mut self, bytes: u64) -> Self {
        self.large_message_bytes = bytes;
        self
    }

    /// Track GDPR consent in `store`: tools declaring [`crate::ToolSpec::requires_consent`] are
    /// refused for callers without a current consent for the purpose.
    #[must_use]
    pub fn consent(mut self, store: Arc<crate::compliance::ConsentStore>) -> Self {
        self.consent = Some(store);
        self
    }

    /// Replace the validation settings (defaults: schema bounds, 1 MiB text / 10 MiB binary
    /// content, the built-in prompt-injection patterns on prompt arguments).
    #[must_use]
    pub fn validation(mut self, config: crate::validation::ValidationConfig) -> Self {
        self.validation = config;
        self
    }

    /// Authorize with the `[authorization]` policy `config`, compiled at [`Self::build`] together
    /// with the `access` rules of the registered tools, resources and prompts. Without this (or
    /// [`Self::authorizer`]) an authenticated server uses the empty policy: only permissions
    /// granted directly to a principal (API-key `permissions`) allow anything.
    #[must_use]
    pub fn authorization(mut self, config: mcp_authz::AuthorizationConfig) -> Self {
        self.authz_config = Some(config);
        self
    }

    /// Publish every security event to `monitor`, refuse the callers it blocks before any
    /// work, feed it every request, and serve its counters at `GET /metrics` (to callers with
    /// `admin:metrics`).
    #[must_use]
    pub fn monitor(mut self, monitor: Arc<mcp_monitor::SecurityMonitor>) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Enforce `limits`: per IP before authentication, per client before dispatch (HTTP 429 +
    /// `Retry-After`), per tool after decoding (JSON-RPC `-32056` with `retry_after_ms`).
    #[must_use]
    pub fn rate_limits(mut self, limits: Arc<mcp_ratelimit::RateLimitEngine>) -> Self {
        self.ratelimit = Some(limits);
        self
    }

    /// Record one audit record per decoded request (and every security event) in `sink`. When
    /// the sink reports it is failing closed, requests answer 503 (`-32057`) before any work.
    #[must_use]
    pub fn audit_log(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    /// Authorize every request with `authorizer`. With `hide_forbidden`, a caller denied by
    /// roles gets the same answer as for an unknown tool / resource / prompt, so names do not
    /// leak; OAuth scope denials always answer 403 `insufficient_scope`.
    #[must_use]
    pub fn authorizer(mut self, authorizer: Arc<dyn mcp_core::traits::Authorizer>, hide_forbidden: bool) -> Self {
        self.authz = Some(crate::guard::Authz { authorizer, policy: None, hide_forbidden, source: None });
        self
    }

    /// Authenticate every HTTP request with `auth` (stdio callers are the local user).
    #[must_use]
    pub fn authenticator(mut self, auth: Arc<mcp_auth::CompositeAuthenticator>) -> Self {
        self.auth = Some(crate::auth::AuthMode::Required(Arc::new(arc_swap::ArcSwap::new(auth))));
        self
    }

    /// The secret store tools read their declared secrets from; every value it loads is masked
    /// in tool results.
    #[must_use]
    pub fn secret_store(mut self, secrets: mcp_secrets::Secrets) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Serve every caller as `anonymous`, without authentication. Only for loopback testing and
    /// fixtures: anyone who can reach the port can call every tool.
    #[must_use]
    pub fn danger_allow_unauthenticated(mut self) -> Self {
        self.auth = Some(crate::auth::AuthMode::Unauthenticated);
        self
    }

    /// Register a tool.
    #[must_use]
    pub fn add_tool(mut self, tool: ToolSpec) -> Self {
        self.tools.push(tool);
        self
    }

    /// Register a static resource.
    #[must_use]
    pub fn add_resource(mut self, r: ResourceSpec) -> Self {
        self.resources.push(r);
        self
    }

    /// Register a resource template.
    #[must_use]
    pub fn add_resource_template(mut self, t: ResourceTemplateSpec) -> Self {
        self.templates.push(t);
        self
    }

    /// Register a prompt.
    #[must_use]
    pub fn add_prompt(mut self, p: PromptSpec) -> Self {
        self.prompts.push(p);
        self
    }

    /// Instructions for the model, returned by `initialize` / `server/discover`.
    #[must_use]
    pub fn instructions(mut self, text: impl Into<String>) -> Self {
        self.instructions = Some(text.into());
        self
    }

    /// Replace the protocol settings.
    #[must_use]
    pub fn settings(mut self, s: ServerSettings) -> Self {
        self.settings = s;
        self
    }

    /// Send security events to `sink` instead of the log.
    #[must_use]
    pub fn security_events(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.events = sink;
        self
    }

    /// The `access` rules registered in code. A template's rule covers every URI it expands to
    /// (its literal prefix followed by `*`).
    fn code_rules(&self) -> mcp_authz::CodeRules {
        let mut rules = mcp_authz::CodeRules::new();
        for t in &self.tools {
            rules.serves(mcp_authz::TargetKind::Tool, t.tool.name.clone());
            if let Some(r) = &t.access {
                rules.tool(t.tool.name.clone(), r.clone());
            }
        }
        for r in &self.resources {
            if let Some(a) = &r.access {
                rules.resource(r.resource.uri.clone(), a.clone());
            }
        }
        for t in &self.templates {
            if let Some(a) = &t.access {
                let tpl = &t.template.uri_template;
                let prefix = tpl.split('{').next().unwrap_or(tpl);
                rules.resource(format!("{prefix}*"), a.clone());
            }
        }
        for p in &self.prompts {
            rules.serves(mcp_authz::TargetKind::Prompt, p.prompt.name.clone());
            if let Some(a) = &p.access {
                rules.prompt(p.prompt.name.clone(), a.clone());
            }
        }
        rules
    }

    /// Check names and schemas, index everything, and produce the server.
    pub fn build(self) -> Result<McpServer, ServerError> {
        let mut resource_index = HashMap::new();
        for (i, r) in self.resources.iter().enumerate() {
            if resource_index.insert(r.resource.uri.clone(), i).is_some() {
                return Err(ServerError::Registration(format!("resource {:?} registered twice", r.resource.uri)));
            }
        }
        let mut prompt_index = HashMap::new();
        for (i, p) in self.prompts.iter().enumerate() {
            if prompt_index.insert(p.prompt.name.clone(), i).is_some() {
                return Err(ServerError::Registration(format!("prompt {:?} registered twice", p.prompt.name)));
            }
        }
        if self.consent.is_none()
            && let Some(t) = self.tools.iter().find(|t| t.consent.is_some())
        {
            return Err(ServerError::Registration(format!(
                "tool {:?} requires consent but consent is not tracked: set [gdpr] consent_tracking = true (or call .consent(..))",
                t.tool.name
            )));
        }
        let code_rules = self.code_rules();
        let validation = crate::validation::Validation::compile(&self.validation)?;
        // Each listing carries the SHA-256 of the tool's canonical definition, so clients (and
        // operators) can pin it and notice a changed description or schema.
        let (tools, pins) = crate::tools::build_table(self.tools, &validation, self.secrets.as_ref())?;
        let auth = self.auth.ok_or_else(|| {
            ServerError::Registration(
                "no authentication configured: call .authenticator(..), or for local testing only .danger_allow_unauthenticated()".into(),
            )
        })?;
        let authz = match (self.authz, &self.authz_config, &auth) {
            (Some(a), _, _) => Some(a),
            // No identities to authorize: the danger switch already opened everything.
            (None, None, crate::auth::AuthMode::Unauthenticated) => None,
            (None, config, _) => {
                let config = config.clone().unwrap_or_else(crate::config::standard_policy);
                let policy = mcp_authz::Policy::compile(&config, &code_rules)
                    .map_err(|e| ServerError::Config(format!("[authorization]: {e}")))?;
                let hide = policy.hide_forbidden();
                if !policy.enabled() {
                    tracing::warn!(
                        "authorization is disabled ([authorization] enabled = false): every caller may do everything"
                    );
                }
                let policy = Arc::new(mcp_authz::PolicyAuthorizer::new(policy));
                let source = Some(Arc::new(crate::reload::PolicySource::new(code_rules, &config)));
                Some(crate::guard::Authz {
                    authorizer: policy.clone(),
                    policy: Some(policy),
                    hide_forbidden: hide,
                    source,
                })
            }
        };
        let state_key = StateKey::random(self.settings.request_state_ttl)
            .map_err(|_| ServerError::Registration("the system random generator failed".into()))?;
        let sessions = SessionStore::new(self.settings.sessions.clone());
        let events: Arc<dyn AuditSink> = Arc::new(crate::events::Fanout {
            log: self.events,
            audit: self.audit.clone(),
            monitor: self.monitor.clone(),
            telemetry: self.telemetry.clone(),
        });
        if let Some(rl) = &self.ratelimit {
            let sink = events.clone();
            rl.set_event_sink(Arc::new(move |e| {
                let _ = sink.record(e);
            }));
        }
        let result_meta = crate::answer::result_meta(&self.info);
        Ok(McpServer(Arc::new(Inner {
            result_meta,
            info: self.info,
            instructions: self.instructions,
            tools: arc_swap::ArcSwap::from_pointee(tools),
            pins: std::sync::Mutex::new(pins),
            resources: self.resources,
            resource_index,
            templates: self.templates,
            prompts: self.prompts,
            prompt_index,
            settings: self.settings,
            state_key,
            sessions,
            hub: Arc::default(),
            events,
            listeners: Arc::default(),
            auth,
            secrets: self.secrets,
            authz,
            audit: self.audit,
            ratelimit: self.ratelimit,
            monitor: self.monitor,
            validation: Some(validation),
            consent: self.consent,
            large_message_bytes: self.large_message_bytes,
            telemetry: self.telemetry,
        })))
    }
}
