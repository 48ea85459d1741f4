//! Method routing: one decoded request in, one result or JSON-RPC error out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use mcp_core::{Action, Principal, SecurityEventKind};
use mcp_protocol::types::{CallToolResult, Content};
use mcp_protocol::{Era, ErrorObject, ProtocolVersion, codes};
use serde_json::{Map, Value, json};

use crate::McpServer;
use crate::context::{Cancel, Inner as CtxInner, InputMode, LogLevel, PendingRequests, RequestContext};
use crate::handler::{HandlerError, HandlerErrorKind};
use crate::session::{MAX_SUBSCRIPTIONS, Session};

/// `_meta` key: protocol version of a stateless-era request.
pub(crate) const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key: client capabilities of a stateless-era request.
pub(crate) const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key: minimum log level the client wants (stateless era).
pub(crate) const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key of a `tools/list` entry: hex SHA-256 of the tool's canonical definition (name,
/// description, inputSchema, outputSchema).
pub(crate) const META_DEFINITION_HASH: &str = "io.mcp-secure/definitionHash";
/// `_meta` key: server identity on results (stateless era).
pub(crate) const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// One request, ready to route.
pub(crate) struct Call {
    pub(crate) id: Option<mcp_protocol::RequestId>,
    pub(crate) method: std::borrow::Cow<'static, str>,
    pub(crate) params: Value,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) principal: Arc<Principal>,
    pub(crate) client_capabilities: Value,
    pub(crate) log_level: Option<LogLevel>,
    pub(crate) out: Option<crate::context::Out>,
    pub(crate) live: Option<Arc<PendingRequests>>,
    pub(crate) cancel: Cancel,
    pub(crate) session: Option<Arc<Session>>,
    pub(crate) peer: Option<std::net::SocketAddr>,
    /// What the protection stages decided, for the audit record (see [`Verdict`]).
    pub(crate) verdict: Verdict,
}

/// The audit outcome a protection stage set while the request ran (denied, invalid, limited)
/// and whether a rule asks for the request to be audited whatever the event filter says.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    outcome: std::sync::atomic::AtomicU8,
    forced: std::sync::atomic::AtomicBool,
}

impl Verdict {
    pub(crate) fn set(&self, o: mcp_core::AuditOutcome) {
        let code = match o {
            mcp_core::AuditOutcome::Denied => 1,
            mcp_core::AuditOutcome::RateLimited => 2,
            mcp_core::AuditOutcome::Invalid => 3,
            _ => 0,
        };
        self.outcome.store(code, Ordering::Relaxed);
    }

    pub(crate) fn force_audit(&self) {
        self.forced.store(true, Ordering::Relaxed);
    }

    pub(crate) fn forced(&self) -> bool {
        self.forced.load(Ordering::Relaxed)
    }

    /// The outcome to record for `result`.
    pub(crate) fn outcome(&self, result: &Outcome) -> mcp_core::AuditOutcome {
        use mcp_core::AuditOutcome as O;
        match self.outcome.load(Ordering::Relaxed) {
            1 => O::Denied,
            2 => O::RateLimited,
            3 => O::Invalid,
            _ => match result {
                Ok(r) if r.is_tool_error() => O::ToolError,
                Ok(_) => O::Ok,
                Err(_) => O::Error,
            },
        }
    }
}

/// A result: JSON, or a tool's result kept typed until it is serialized (checked, masked and
/// written without building a `Value` tree for it).
#[derive(Debug)]
pub(crate) enum Reply {
    Json(Value),
    Tool(CallToolResult),
}

impl Reply {
    /// A tool result with `isError: true`.
    pub(crate) fn is_tool_error(&self) -> bool {
        match self {
            Self::Json(v) => v.get("isError") == Some(&Value::Bool(true)),
            Self::Tool(r) => r.is_error,
        }
    }
}

/// The answer to a request.
pub(crate) type Outcome = Result<Reply, ErrorObject>;

/// The answer of every method but a successful `tools/call`.
type Answer = Result<Value, ErrorObject>;

pub(crate) fn err(code: i64, msg: &'static str) -> ErrorObject {
    ErrorObject::new(code, msg)
}

/// A method the server knows: which era routes it, and whether its stateless-era result carries
/// `ttlMs` / `cacheScope`.
pub(crate) struct KnownMethod {
    pub(crate) name: &'static str,
    /// Routed in the stateless era (`initialize`, sessions, `ping`, `logging/setLevel` and
    /// `resources/(un)subscribe` are gone there).
    pub(crate) modern: bool,
    /// Routed by [`McpServer::dispatch`] in the legacy era (`initialize` and
    /// `notifications/initialized` belong to the session layer).
    pub(crate) legacy: bool,
    pub(crate) cacheable: bool,
}

const fn known(name: &'static str, modern: bool, legacy: bool, cacheable: bool) -> KnownMethod {
    KnownMethod { name, modern, legacy, cacheable }
}

/// Every method name the server knows, once: the routers, the era checks, caching hints, metric
/// labels and [`method_name`] all read this table.
pub(crate) const METHODS: [KnownMethod; 16] = [
    known("tools/call", true, true, false),
    known("tools/list", true, true, true),
    known("resources/read", true, true, true),
    known("resources/list", true, true, true),
    known("resources/templates/list", true, true, true),
    known("resources/subscribe", false, true, false),
    known("resources/unsubscribe", false, true, false),
    known("prompts/get", true, true, false),
    known("prompts/list", true, true, true),
    known("completion/complete", true, true, false),
    known("server/discover", true, false, true),
    known("subscriptions/listen", true, false, false),
    known("logging/setLevel", false, true, false),
    known("ping", false, true, false),
    known("initialize", false, false, false),
    known("notifications/initialized", false, false, false),
];

/// The table entry of a known method.
pub(crate) fn known_method(m: &str) -> Option<&'static KnownMethod> {
    METHODS.iter().find(|k| k.name == m)
}

/// The method name for a [`Call`]: a known method borrows its static name (no allocation per
/// request); any other is copied.
pub(crate) fn method_name(m: std::borrow::Cow<'_, str>) -> std::borrow::Cow<'static, str> {
    match known_method(&m) {
        Some(k) => std::borrow::Cow::Borrowed(k.name),
        None => std::borrow::Cow::Owned(m.into_owned()),
    }
}

/// Methods of the stateless era.
pub(crate) fn is_modern_method(m: &str) -> bool {
    known_method(m).is_some_and(|k| k.modern)
}

/// Methods of the legacy era handled by [`McpServer::dispatch`].
pub(crate) fn is_legacy_method(m: &str) -> bool {
    known_method(m).is_some_and(|k| k.legacy)
}

/// Methods whose results carry `ttlMs` / `cacheScope` in the stateless era.
pub(crate) fn is_cacheable(m: &str) -> bool {
    known_method(m).is_some_and(|k| k.cacheable)
}

fn str_param<'v>(params: &'v Value, key: &str) -> Result<&'v str, ErrorObject> {
    params
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| err(codes::INVALID_PARAMS, "Invalid params: missing or non-string field"))
}

impl McpServer {
    /// Capabilities this server declares.
    pub(crate) fn capabilities(&self, era: Era) -> Value {
        let mut caps = Map::new();
        if !self.tools().specs.is_empty() {
            caps.insert("tools".into(), json!({"listChanged": true}));
        }
        if !self.0.resources.is_empty() || !self.0.templates.is_empty() {
            caps.insert("resources".into(), json!({"listChanged": false, "subscribe": true}));
        }
        if !self.0.prompts.is_empty() {
            caps.insert("prompts".into(), json!({"listChanged": true}));
        }
        caps.insert("completions".into(), json!({}));
        if era == Era::Legacy {
            caps.insert("logging".into(), json!({}));
        }
        Value::Object(caps)
    }

    /// Result of `initialize` for the negotiated revision.
    pub(crate) fn initialize_result(&self, version: ProtocolVersion) -> Value {
        let mut r = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.capabilities(Era::Legacy),
            "serverInfo": self.0.info,
        });
        if let Some(i) = &self.0.instructions {
            r["instructions"] = json!(i);
        }
        r
    }

    fn discover_result(&self) -> Value {
        let mut r = json!({
            "supportedVersions": [ProtocolVersion::LATEST.as_str()],
            "capabilities": self.capabilities(Era::Modern),
        });
        if let Some(i) = &self.0.instructions {
            r["instructions"] = json!(i);
        }
        r
    }

    /// Handle one decoded request: audit it around authorization and routing.
    pub(crate) async fn dispatch(&self, call: Call) -> Outcome {
        if self.0.audit.is_none() && self.0.monitor.is_none() && !self.0.telemetry.is_on() {
            return self.authorize_and_route(&call).await;
        }
        if self.0.audit.as_ref().is_some_and(|a| a.is_failing_closed()) {
            return Err(audit_unavailable());
        }
        let started = std::time::Instant::now();
        let (outcome, events) = self.0.telemetry.collect(self.authorize_and_route(&call)).await;
        let latency = started.elapsed();
        let ok =
            matches!(call.verdict.outcome(&outcome), mcp_core::AuditOutcome::Ok | mcp_core::AuditOutcome::ToolError);
        self.observe(&call.principal, &call.method, ok, latency);
        if self.0.audit.is_none() && !self.0.telemetry.is_on() {
            return outcome;
        }
        // The wall-clock start, read only here: it goes into audit records and spans alone.
        let at = std::time::SystemTime::now().checked_sub(latency).unwrap_or(std::time::UNIX_EPOCH);
        // The events fan-out digests parameters with the audit log's key, when there is one.
        let record = crate::audit::record(self.0.events.as_ref(), &call, at, latency, &outcome);
        self.0.telemetry.request(self, &record, &events);
        let Some(audit) = &self.0.audit else { return outcome };
        let recorded = if audit.durable_mode() { audit.audit_durable(record).await } else { audit.audit(record) };
        match recorded {
            Ok(()) => outcome,
            Err(_) => Err(audit_unavailable()),
        }
    }

    /// Authorize a request, then run it.
    async fn authorize_and_route(&self, call: &Call) -> Outcome {
        if let Some(action) = crate::guard::action_for(&call.method, &call.params) {
            let list = matches!(action, Action::ListTools | Action::ListResources | Action::ListPrompts);
            match self.authorize_call(call, action) {
                Ok(granted) => {
                    if granted.audit {
                        call.verdict.force_audit();
                    }
                }
                Err((e, audit)) => {
                    if audit {
                        call.verdict.force_audit();
                    }
                    // A hidden list is an empty list, as if nothing were registered.
                    let hide = self.0.authz.as_ref().is_some_and(crate::guard::Authz::hides);
                    if !(list && hide && e.code != codes::INSUFFICIENT_SCOPE) {
                        call.verdict.set(mcp_core::AuditOutcome::Denied);
                        return Err(e);
                    }
                    return self.route(call, false).await;
                }
            }
        }
        self.route(call, true).await
    }

    /// Run an authorized request. `show` false: list methods answer an empty page.
    async fn route(&self, call: &Call, show: bool) -> Outcome {
        let era = call.protocol.era();
        let method = &*call.method;
        let p = &call.principal;
        let answer: Answer = match method {
            "ping" => Ok(json!({})),
            "server/discover" if era == Era::Modern => Ok(self.discover_result()),
            "tools/list" => self.list(
                &call.params,
                &self.tools().specs,
                "tools",
                |t| show && self.may(p, Action::CallTool(t.tool.name.as_str().into())),
                |t| t.listing.clone(),
            ),
            "resources/list" => self.list(
                &call.params,
                &self.0.resources,
                "resources",
                |r| show && self.may(p, Action::ReadResource(r.resource.uri.as_str().into())),
                |r| json!(r.resource),
            ),
            "resources/templates/list" => self.list(
                &call.params,
                &self.0.templates,
                "resourceTemplates",
                |t| show && self.may(p, Action::ReadResource(t.template.uri_template.as_str().into())),
                |t| json!(t.template),
            ),
            "prompts/list" => self.list(
                &call.params,
                &self.0.prompts,
                "prompts",
                |x| show && self.may(p, Action::GetPrompt(x.prompt.name.as_str().into())),
                |x| json!(x.prompt),
            ),
            "tools/call" => return self.call_tool(call).await,
            "resources/read" => self.read_resource(call).await,
            "prompts/get" => self.get_prompt(call).await,
            "completion/complete" => self.complete(&call.params),
            "logging/setLevel" if era == Era::Legacy => self.set_level(call),
            "resources/subscribe" if era == Era::Legacy => self.subscribe(call, true),
            "resources/unsubscribe" if era == Era::Legacy => self.subscribe(call, false),
            _ => Err(err(codes::METHOD_NOT_FOUND, "Method not found")),
        };
        answer.map(Reply::Json)
        // The stateless era's additions to the result are written while encoding it
        // (`McpServer::encode_answer`).
    }

    /// One page of the items `visible` lets through; the cursor counts visible items, so pages
    /// stay consistent after filtering.
    fn list<T>(
        &self,
        params: &Value,
        items: &[T],
        key: &str,
        visible: impl Fn(&T) -> bool,
        show: impl Fn(&T) -> Value,
    ) -> Answer {
        let start = match params.get("cursor") {
            None | Some(Value::Null) => 0,
            Some(Value::String(c)) => {
                decode_cursor(c).ok_or_else(|| err(codes::INVALID_PARAMS, "Invalid params: bad cursor"))?
            }
            Some(_) => return Err(err(codes::INVALID_PARAMS, "Invalid params: bad cursor")),
        };
        if start > items.len() {
            return Err(err(codes::INVALID_PARAMS, "Invalid params: bad cursor"));
        }
        let mut seen = items.iter().filter(|t| visible(t)).skip(start);
        let page: Vec<Value> = seen.by_ref().take(self.0.settings.page_size).map(show).collect();
        let end = start + page.len();
        let more = seen.next().is_some();
        let mut r = Map::new();
        r.insert(key.into(), Value::Array(page));
        if more {
            r.insert("nextCursor".into(), json!(B64.encode(format!("o:{end}"))));
        }
        Ok(Value::Object(r))
    }

    fn context(&self, call: &Call, input: InputMode) -> RequestContext {
        let progress_token = call.params.get("_meta").and_then(|m| m.get("progressToken")).cloned();
        RequestContext(Arc::new(CtxInner {
            principal: call.principal.clone(),
            protocol: call.protocol,
            progress_token,
            log_level: call.log_level,
            out: call.out.clone(),
            client_capabilities: call.client_capabilities.clone(),
            input,
            cancel: call.cancel.clone(),
            input_timeout: self.0.settings.input_timeout,
            hub: self.0.hub.clone(),
            secrets: None,
        }))
    }

    /// A tool-error result (masked like any result).
    fn tool_error(&self, message: String) -> Value {
        let mut v = json!({"content": [{"type": "text", "text": message}], "isError": true});
        self.mask(&mut v);
        v
    }

    /// Mask every loaded secret value in a message.
    fn mask_text(&self, text: String) -> String {
        match &self.0.secrets {
            Some(s) => match s.redactor().redact(&text) {
                std::borrow::Cow::Owned(masked) => masked,
                std::borrow::Cow::Borrowed(_) => text,
            },
            None => text,
        }
    }

    /// Mask every loaded secret value in the strings of a result.
    fn mask(&self, v: &mut Value) {
        let Some(s) = &self.0.secrets else { return };
        mask_value(s.redactor(), v);
    }

    /// Input mode for a call; in the stateless era, verify and merge `requestState` + answers.
    fn input_mode<'a>(
        &self,
        call: &'a Call,
        target: &'a str,
        args: Option<&'a Value>,
    ) -> Result<(InputMode, Binding<'a>), ErrorObject> {
        // The binding (a digest of method, target and arguments) is only needed to open or
        // seal a requestState: computed when one is present, else when a handler asks for input.
        let binding = Binding { method: &call.method, target, args };
        if call.protocol.era() == Era::Legacy {
            let mode = match &call.live {
                Some(p) if call.out.is_some() => InputMode::Live(p.clone()),
                _ => InputMode::Unavailable,
            };
            return Ok((mode, binding));
        }
        let mut answers = match call.params.get("requestState") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::String(s)) => self.0.state_key.open(s, &binding.text(), &call.principal.id).map_err(|e| {
                self.event(SecurityEventKind::StateTampered, e.reason(), call.peer, Some(&call.method));
                err(codes::INVALID_PARAMS, "Invalid params: requestState rejected")
            })?,
            Some(_) => return Err(err(codes::INVALID_PARAMS, "Invalid params: requestState must be a string")),
        };
        if let Some(Value::Object(new)) = call.params.get("inputResponses") {
            for (k, v) in new {
                answers.insert(k.clone(), v.clone());
            }
        }
        Ok((InputMode::Stateless { responses: answers, requested: Default::default() }, binding))
    }

    /// Turn a handler error into the wire answer. `Ok` carries an input-required result.
    fn handler_failure(
        &self,
        call: &Call,
        ctx: &RequestContext,
        binding: Binding<'_>,
        e: HandlerError,
    ) -> Result<Value, ErrorObject> {
        match e.kind {
            HandlerErrorKind::InputRequired => {
                let InputMode::Stateless { responses, requested } = &ctx.0.input else {
                    return Err(err(codes::INTERNAL_ERROR, "Internal error"));
                };
                let requests = requested.lock().map(|r| r.clone()).unwrap_or_default();
                let state = self.0.state_key.seal(&binding.text(), &call.principal.id, responses);
                Ok(json!({"resultType": "input_required", "inputRequests": requests, "requestState": state}))
            }
            HandlerErrorKind::MissingCapability(cap) if call.protocol.era() == Era::Modern => {
                let mut caps = Map::new();
                caps.insert(cap.into(), json!({}));
                Err(err(codes::MISSING_CLIENT_CAPABILITY, "Missing required client capability")
                    .with_data(json!({"requiredCapabilities": caps})))
            }
            HandlerErrorKind::InvalidParams => Err(ErrorObject::new(codes::INVALID_PARAMS, self.mask_text(e.message))),
            _ => Err(ErrorObject::new(codes::INTERNAL_ERROR, self.mask_text(e.message))),
        }
    }

    async fn run<T>(
        &self,
        call: &Call,
        fut: mcp_core::BoxFuture<'static, Result<T, HandlerError>>,
    ) -> Result<Result<T, HandlerError>, ErrorObject> {
        // The handler first: one that finishes in its first poll never registers a waiter on
        // the cancellation signal.
        tokio::select! {
            biased;
            r = tokio::time::timeout(self.0.settings.handler_timeout, fut) => {
                r.map_err(|_| err(codes::REQUEST_TIMEOUT, "Request timed out"))
            }
            () = call.cancel.cancelled() => Err(err(codes::REQUEST_CANCELLED, "Request cancelled")),
        }
    }

    async fn call_tool(&self, call: &Call) -> Outcome {
        let name = str_param(&call.params, "name")?;
        let no_args = Value::Object(Map::new());
        let args = match call.params.get("arguments") {
            None | Some(Value::Null) => &no_args,
            Some(v @ Value::Object(_)) => v,
            Some(_) => return Err(err(codes::INVALID_PARAMS, "Invalid params: arguments must be an object")),
        };
        // One registry for the whole call, even if the tool is replaced meanwhile.
        let tools = self.tools();
        let Some(&idx) = tools.index.get(name) else {
            return Err(err(codes::INVALID_PARAMS, "Unknown tool"));
        };
        let spec = &tools.specs[idx];
        if let Some(purpose) = &spec.consent
            && !self.0.consent.as_ref().is_some_and(|c| c.has(&call.principal.id, purpose))
        {
            let e = mcp_core::SecurityEvent::new(
                SecurityEventKind::AuthorizeFail,
                "consent missing",
                std::time::SystemTime::now(),
            )
            .with_principal(call.principal.id.clone())
            .with_peer(call.peer)
            .with_method("tools/call")
            .with_resource(name)
            .with_rule(format!("consent:{purpose}"));
            self.emit(e);
            call.verdict.set(mcp_core::AuditOutcome::Denied);
            return Err(err(
                codes::SECURITY_REJECTED,
                "Forbidden: this tool needs your recorded consent for its purpose",
            )
            .with_data(json!({"consentPurpose": purpose})));
        }
        if let Err(e) = self.limit_tool(call, name).await {
            call.verdict.set(mcp_core::AuditOutcome::RateLimited);
            return Err(e);
        }
        match self.check_tool_input(call, &tools.checks[idx], name, args) {
            Ok(()) => {}
            Err(crate::validation::Refusal::Arguments(text)) => return Ok(Reply::Json(self.tool_error(text))),
            Err(crate::validation::Refusal::Error(e)) => return Err(e),
        }
        let Some(handler) = &spec.handler else { return Err(err(codes::INTERNAL_ERROR, "Internal error")) };
        let (input, binding) = self.input_mode(call, name, call.params.get("arguments"))?;
        let mut ctx = self.context(call, input);
        if let Some(scoped) = &tools.secrets[idx]
            && let Some(inner) = Arc::get_mut(&mut ctx.0)
        {
            inner.secrets = Some(scoped.clone());
        }
        match self.run(call, handler(args, ctx.clone())).await? {
            Ok(mut result) => {
                self.check_tool_output(call, &tools.checks[idx], name, &result)?;
                if let Some(s) = &self.0.secrets {
                    mask_tool_result(s.redactor(), &mut result);
                }
                Ok(Reply::Tool(result))
            }
            Err(e) if matches!(e.kind, HandlerErrorKind::Failed | HandlerErrorKind::InvalidParams) => {
                Ok(Reply::Json(self.tool_error(e.message)))
            }
            Err(e)
                if matches!(e.kind, HandlerErrorKind::MissingCapability(_)) && call.protocol.era() == Era::Legacy =>
            {
                Ok(Reply::Json(self.tool_error(e.message)))
            }
            Err(e) => self.handler_failure(call, &ctx, binding, e).map(Reply::Json),
        }
    }

    async fn read_resource(&self, call: &Call) -> Answer {
        let uri = str_param(&call.params, "uri")?;
        let not_found = || {
            let code =
                if call.protocol.era() == Era::Modern { codes::INVALID_PARAMS } else { codes::RESOURCE_NOT_FOUND };
            err(code, "Resource not found").with_data(json!({"uri": uri}))
        };
        let (handler, vars) = if let Some(&i) = self.0.resource_index.get(uri) {
            (self.0.resources[i].handler.clone(), BTreeMap::new())
        } else if let Some((t, vars)) = self.0.templates.iter().find_map(|t| t.matches(uri).map(|v| (t, v))) {
            (t.handler.clone(), vars)
        } else {
            return Err(not_found());
        };
        let (input, binding) = self.input_mode(call, uri, None)?;
        let ctx = self.context(call, input);
        match self.run(call, handler(uri.to_owned(), vars, ctx.clone())).await? {
            Ok(contents) if contents.is_empty() => Err(not_found()),
            Ok(contents) => {
                let mut v = json!({"contents": contents});
                self.check_resource_output(call, uri, &v)?;
                self.mask(&mut v);
                Ok(v)
            }
            Err(e) => self.handler_failure(call, &ctx, binding, e),
        }
    }

    async fn get_prompt(&self, call: &Call) -> Answer {
        let name = str_param(&call.params, "name")?;
        let Some(&idx) = self.0.prompt_index.get(name) else {
            return Err(err(codes::INVALID_PARAMS, "Unknown prompt"));
        };
        let spec = &self.0.prompts[idx];
        let mut args = BTreeMap::new();
        match call.params.get("arguments") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let Value::String(s) = v else {
                        return Err(err(codes::INVALID_PARAMS, "Invalid params: prompt arguments must be strings"));
                    };
                    args.insert(k.clone(), s.clone());
                }
            }
            Some(_) => return Err(err(codes::INVALID_PARAMS, "Invalid params: arguments must be an object")),
        }
        if spec.prompt.arguments.iter().any(|a| a.required && !args.contains_key(&a.name)) {
            return Err(err(codes::INVALID_PARAMS, "Invalid params: a required prompt argument is missing"));
        }
        let args_value = call.params.get("arguments").cloned();
        if let Some(a) = &args_value {
            self.check_prompt_input(call, name, a)?;
        }
        let (input, binding) = self.input_mode(call, name, args_value.as_ref())?;
        let ctx = self.context(call, input);
        match self.run(call, (spec.handler)(args, ctx.clone())).await? {
            Ok(r) => {
                let mut v = serde_json::to_value(r).map_err(|_| err(codes::INTERNAL_ERROR, "Internal error"))?;
                self.check_prompt_output(call, name, &v)?;
                self.mask(&mut v);
                Ok(v)
            }
            Err(e) => self.handler_failure(call, &ctx, binding, e),
        }
    }

    fn complete(&self, params: &Value) -> Answer {
        let r = params.get("ref").ok_or_else(|| err(codes::INVALID_PARAMS, "Invalid params: missing ref"))?;
        let arg =
            params.get("argument").ok_or_else(|| err(codes::INVALID_PARAMS, "Invalid params: missing argument"))?;
        let arg_name = str_param(arg, "name")?;
        let value = str_param(arg, "value")?;
        let completer = match r.get("type").and_then(Value::as_str) {
            Some("ref/prompt") => {
                let name = str_param(r, "name")?;
                let &i = self.0.prompt_index.get(name).ok_or_else(|| err(codes::INVALID_PARAMS, "Unknown prompt"))?;
                self.0.prompts[i].completer.clone()
            }
            Some("ref/resource") => {
                let uri = str_param(r, "uri")?;
                let t = self.0.templates.iter().find(|t| t.template.uri_template == uri);
                match t {
                    Some(t) => t.completer.clone(),
                    None if self.0.resource_index.contains_key(uri) => None,
                    None => return Err(err(codes::INVALID_PARAMS, "Unknown resource")),
                }
            }
            _ => return Err(err(codes::INVALID_PARAMS, "Invalid params: unknown ref type")),
        };
        let mut values = completer.map(|c| c(arg_name, value)).unwrap_or_default();
        let total = values.len();
        values.truncate(100);
        Ok(json!({"completion": {"values": values, "total": total, "hasMore": total > 100}}))
    }

    fn set_level(&self, call: &Call) -> Answer {
        let level = str_param(&call.params, "level")?;
        let level =
            LogLevel::parse(level).ok_or_else(|| err(codes::INVALID_PARAMS, "Invalid params: unknown log level"))?;
        if let Some(s) = &call.session {
            s.log_level.store(level.to_u8(), Ordering::Relaxed);
        }
        Ok(json!({}))
    }

    fn subscribe(&self, call: &Call, on: bool) -> Answer {
        let uri = str_param(&call.params, "uri")?;
        let known =
            self.0.resource_index.contains_key(uri) || self.0.templates.iter().any(|t| t.matches(uri).is_some());
        if !known {
            return Err(err(codes::RESOURCE_NOT_FOUND, "Resource not found").with_data(json!({"uri": uri})));
        }
        let Some(session) = &call.session else { return Ok(json!({})) };
        let mut subs = session.subscriptions.lock().map_err(|_| err(codes::INTERNAL_ERROR, "Internal error"))?;
        if on {
            if subs.len() >= MAX_SUBSCRIPTIONS && !subs.contains(uri) {
                return Err(err(codes::CAPACITY_EXCEEDED, "Too many subscriptions"));
            }
            subs.insert(uri.to_owned());
        } else {
            subs.remove(uri);
        }
        Ok(json!({}))
    }
}

fn mask_str(r: &mcp_secrets::Redactor, s: &mut String) {
    if let std::borrow::Cow::Owned(masked) = r.redact(s) {
        *s = masked;
    }
}

/// [`mask_value`] for a typed tool result: every string it would carry on the wire.
fn mask_tool_result(r: &mcp_secrets::Redactor, result: &mut CallToolResult) {
    for block in &mut result.content {
        match block {
            Content::Text { text } => mask_str(r, text),
            Content::Image { data, mime_type } | Content::Audio { data, mime_type } => {
                mask_str(r, data);
                mask_str(r, mime_type);
            }
            Content::Resource { resource } => {
                mask_str(r, &mut resource.uri);
                for s in [&mut resource.mime_type, &mut resource.text, &mut resource.blob].into_iter().flatten() {
                    mask_str(r, s);
                }
            }
            Content::ResourceLink { uri, name, description, mime_type } => {
                mask_str(r, uri);
                mask_str(r, name);
                for s in [description, mime_type].into_iter().flatten() {
                    mask_str(r, s);
                }
            }
        }
    }
    if let Some(v) = &mut result.structured_content {
        mask_value(r, v);
    }
}

fn mask_value(r: &mcp_secrets::Redactor, v: &mut Value) {
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(masked) = r.redact(s) {
                *s = masked;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| mask_value(r, x)),
        Value::Object(m) => m.values_mut().for_each(|x| mask_value(r, x)),
        _ => {}
    }
}

/// What a `requestState` is bound to; the digest is computed only when needed.
#[derive(Clone, Copy)]
pub(crate) struct Binding<'a> {
    method: &'a str,
    target: &'a str,
    args: Option<&'a Value>,
}

impl Binding<'_> {
    fn text(&self) -> String {
        crate::state::binding(self.method, self.target, self.args)
    }
}

fn audit_unavailable() -> ErrorObject {
    err(codes::AUDIT_UNAVAILABLE, "Service unavailable: the audit log cannot record requests; try again later")
}

fn decode_cursor(c: &str) -> Option<usize> {
    let raw = B64.decode(c).ok()?;
    std::str::from_utf8(&raw).ok()?.strip_prefix("o:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    #[test]
    fn known_methods_borrow_their_static_name() {
        for k in &METHODS {
            let name = method_name(Cow::Owned(k.name.to_owned()));
            assert!(matches!(name, Cow::Borrowed(_)), "{}", k.name);
            assert_eq!(name, k.name);
        }
        let other = method_name(Cow::Borrowed("vendor/custom"));
        assert!(matches!(other, Cow::Owned(_)));
        assert_eq!(other, "vendor/custom");
        assert!(!is_modern_method("vendor/custom") && !is_legacy_method("vendor/custom"));
    }

    #[test]
    fn a_typed_tool_result_is_masked_like_its_json() {
        use mcp_protocol::types::ResourceContents;
        let redactor = mcp_secrets::Redactor::default();
        redactor.register("api", b"s3cr3t-value");
        let s = "x s3cr3t-value y".to_owned();
        let mut result = CallToolResult {
            content: vec![
                Content::text(s.clone()),
                Content::Image { data: s.clone(), mime_type: s.clone() },
                Content::Audio { data: s.clone(), mime_type: s.clone() },
                Content::Resource { resource: ResourceContents::text(s.clone(), s.clone(), s.clone()) },
                Content::ResourceLink {
                    uri: s.clone(),
                    name: s.clone(),
                    description: Some(s.clone()),
                    mime_type: Some(s.clone()),
                },
            ],
            structured_content: Some(json!({"k": [s.clone()]})),
            is_error: false,
        };
        let mut json = serde_json::to_value(&result).unwrap();
        mask_value(&redactor, &mut json);
        mask_tool_result(&redactor, &mut result);
        assert_eq!(serde_json::to_value(&result).unwrap(), json);
        let text = serde_json::to_string(&result).unwrap();
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(text.contains("[REDACTED:api]"), "{text}");
    }

    #[test]
    fn method_table_eras() {
        for m in ["tools/call", "resources/read", "prompts/get", "completion/complete"] {
            assert!(is_modern_method(m) && is_legacy_method(m), "{m}");
        }
        for m in ["server/discover", "subscriptions/listen"] {
            assert!(is_modern_method(m) && !is_legacy_method(m), "{m}");
        }
        for m in ["ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"] {
            assert!(!is_modern_method(m) && is_legacy_method(m), "{m}");
        }
        // The session layer's methods are known names but routed by neither era's dispatcher.
        for m in ["initialize", "notifications/initialized"] {
            assert!(known_method(m).is_some() && !is_modern_method(m) && !is_legacy_method(m), "{m}");
        }
        assert!(is_cacheable("tools/list") && is_cacheable("resources/read") && !is_cacheable("tools/call"));
        let mut names: Vec<&str> = METHODS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METHODS.len(), "a method is listed twice");
    }
}
