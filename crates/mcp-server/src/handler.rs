//! What a user registers: tools, resources, resource templates and prompts, with typed handlers.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use mcp_core::BoxFuture;
use mcp_protocol::types::{
    CallToolResult, GetPromptResult, Prompt, PromptArgument, Resource, ResourceContents, ResourceTemplate, Tool,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::RequestContext;

/// An error a handler reports. The message reaches the client (tool errors become `isError`
/// results the model can read), so never put secrets in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    pub(crate) message: String,
    pub(crate) kind: HandlerErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlerErrorKind {
    /// The handler failed; the message is for the caller.
    Failed,
    /// The arguments are wrong (prompts and resources: JSON-RPC -32602).
    InvalidParams,
    /// The handler needs input from the client first (stateless era, internal).
    InputRequired,
    /// The client lacks a capability the handler needs.
    MissingCapability(&'static str),
}

impl HandlerError {
    /// A failure with a message for the caller.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), kind: HandlerErrorKind::Failed }
    }

    /// Invalid arguments.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self { message: message.into(), kind: HandlerErrorKind::InvalidParams }
    }

    /// The client must declare `capability` (e.g. `"sampling"`) for this to work.
    pub fn missing_capability(capability: &'static str) -> Self {
        Self {
            message: format!("client capability `{capability}` is required"),
            kind: HandlerErrorKind::MissingCapability(capability),
        }
    }

    pub(crate) fn input_required() -> Self {
        Self { message: String::new(), kind: HandlerErrorKind::InputRequired }
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HandlerError {}

/// A tool handler. It borrows the arguments: a typed handler deserializes its own type from
/// them without a copy of the JSON, a raw one clones them.
pub(crate) type ToolFn =
    dyn Fn(&Value, RequestContext) -> BoxFuture<'static, Result<CallToolResult, HandlerError>> + Send + Sync;
pub(crate) type ResourceFn = dyn Fn(
        String,
        BTreeMap<String, String>,
        RequestContext,
    ) -> BoxFuture<'static, Result<Vec<ResourceContents>, HandlerError>>
    + Send
    + Sync;
pub(crate) type PromptFn = dyn Fn(BTreeMap<String, String>, RequestContext) -> BoxFuture<'static, Result<GetPromptResult, HandlerError>>
    + Send
    + Sync;
pub(crate) type CompleteFn = dyn Fn(&str, &str) -> Vec<String> + Send + Sync;

/// A tool definition: metadata plus a handler.
///
/// ```
/// use mcp_server::{ToolSpec, HandlerError};
/// use mcp_protocol::types::CallToolResult;
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Args { name: String }
/// let tool = ToolSpec::new("greet", "Say hello")
///     .schema_from::<Args>()
///     .handler(|args: Args, _ctx| async move { Ok::<_, HandlerError>(CallToolResult::text(format!("hi {}", args.name))) });
/// assert_eq!(tool.tool().name, "greet");
/// ```
#[derive(Clone)]
pub struct ToolSpec {
    pub(crate) tool: Tool,
    pub(crate) handler: Option<Arc<ToolFn>>,
    pub(crate) secrets: Vec<String>,
    pub(crate) access: Option<mcp_authz::AccessRule>,
    pub(crate) scan_prompts: Option<bool>,
    pub(crate) consent: Option<String>,
    pub(crate) phi: bool,
    /// The `tools/list` entry, with the definition hash in `_meta` (filled in at build).
    pub(crate) listing: serde_json::Value,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec").field("tool", &self.tool).finish_non_exhaustive()
    }
}

impl ToolSpec {
    /// A tool taking no arguments until a schema is set.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        let tool = Tool {
            name: name.into(),
            title: None,
            description: Some(description.into()),
            input_schema: serde_json::json!({"type": "object", "properties": {}}),
            output_schema: None,
            annotations: None,
        };
        Self {
            tool,
            handler: None,
            secrets: Vec::new(),
            access: None,
            scan_prompts: None,
            consent: None,
            phi: false,
            listing: serde_json::Value::Null,
        }
    }

    /// Calls need the caller's recorded consent for `purpose` (`[gdpr] consent_tracking`); a
    /// call without it is refused and audited.
    #[must_use]
    pub fn requires_consent(mut self, purpose: impl Into<String>) -> Self {
        self.consent = Some(purpose.into());
        self
    }

    /// The tool handles protected health information: authorization failures on it count
    /// toward `breach_suspected` (`[hipaa]`), and its results never reach logs.
    #[must_use]
    pub fn phi(mut self, on: bool) -> Self {
        self.phi = on;
        self
    }

    /// Scan this tool's string arguments with the prompt-injection guard (`[prompt_security]`),
    /// whatever `scan_tool_arguments` says. For tools that pass text on to a model.
    #[must_use]
    pub fn scan_arguments(mut self, on: bool) -> Self {
        self.scan_prompts = Some(on);
        self
    }

    /// Who may call this tool: a required permission and/or allowed roles, or
    /// [`mcp_authz::AccessRule::public`]; `audit_log(true)` records every use. Without a rule
    /// the caller needs `tools:execute:<name>`. A `[[authorization.tools]]` rule in the
    /// configuration for the same name takes precedence.
    ///
    /// ```
    /// use mcp_authz::AccessRule;
    /// let t = mcp_server::ToolSpec::new("restart_server", "Restart")
    ///     .access(AccessRule::new().permission("tools:execute:admin").roles(["admin"]).audit_log(true));
    /// # let _ = t;
    /// ```
    #[must_use]
    pub fn access(mut self, rule: mcp_authz::AccessRule) -> Self {
        self.access = Some(rule);
        self
    }

    /// Secrets this tool's handler may read with [`RequestContext::secret`]; it can read no
    /// other. Names are checked against the store at startup.
    #[must_use]
    pub fn secrets(mut self, names: &[&str]) -> Self {
        self.secrets = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    /// The metadata.
    pub fn tool(&self) -> &Tool {
        &self.tool
    }

    /// Set the input schema from JSON (must be an object schema).
    #[must_use]
    pub fn input_schema(mut self, schema: Value) -> Self {
        self.tool.input_schema = schema;
        self
    }

    /// Derive the input schema from a type (JSON Schema 2020-12, via schemars).
    #[must_use]
    pub fn schema_from<T: schemars::JsonSchema>(mut self) -> Self {
        self.tool.input_schema = schema_value::<T>();
        self
    }

    /// Set the output schema; results must then carry matching `structuredContent`.
    #[must_use]
    pub fn output_schema(mut self, schema: Value) -> Self {
        self.tool.output_schema = Some(schema);
        self
    }

    /// Set a human-friendly title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.tool.title = Some(title.into());
        self
    }

    /// Set behaviour annotations (e.g. `{"readOnlyHint": true}`).
    #[must_use]
    pub fn annotations(mut self, annotations: Value) -> Self {
        self.tool.annotations = Some(annotations);
        self
    }

    /// Set a typed handler: arguments are deserialized into `A`; a mismatch becomes an `isError`
    /// result naming the problem.
    #[must_use]
    pub fn handler<A, F, Fut>(mut self, f: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(A, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<CallToolResult, HandlerError>> + Send + 'static,
    {
        self.handler = Some(Arc::new(move |args: &Value, ctx: RequestContext| -> BoxFuture<'static, _> {
            match A::deserialize(args) {
                Ok(args) => Box::pin(f(args, ctx)),
                Err(e) => {
                    let e = HandlerError::invalid_params(format!("invalid arguments: {e}"));
                    Box::pin(async move { Err(e) })
                }
            }
        }));
        self
    }

    /// Set a handler that takes the raw JSON arguments.
    #[must_use]
    pub fn raw_handler<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Value, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<CallToolResult, HandlerError>> + Send + 'static,
    {
        self.handler = Some(Arc::new(move |args: &Value, ctx| Box::pin(f(args.clone(), ctx))));
        self
    }
}

fn schema_value<T: schemars::JsonSchema>() -> Value {
    let schema = schemars::schema_for!(T);
    serde_json::to_value(schema).unwrap_or_else(|_| serde_json::json!({"type": "object"}))
}

/// A static resource (exact URI).
#[derive(Clone)]
pub struct ResourceSpec {
    pub(crate) resource: Resource,
    pub(crate) handler: Arc<ResourceFn>,
    pub(crate) access: Option<mcp_authz::AccessRule>,
    pub(crate) phi: bool,
}

impl std::fmt::Debug for ResourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceSpec").field("resource", &self.resource).finish_non_exhaustive()
    }
}

impl ResourceSpec {
    /// A resource at `uri` read by `handler`.
    pub fn new<F, Fut>(uri: impl Into<String>, name: impl Into<String>, mime: Option<&str>, handler: F) -> Self
    where
        F: Fn(String, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceContents>, HandlerError>> + Send + 'static,
    {
        let resource = Resource {
            uri: uri.into(),
            name: name.into(),
            title: None,
            description: None,
            mime_type: mime.map(str::to_owned),
        };
        Self {
            resource,
            handler: Arc::new(move |uri, _vars, ctx| Box::pin(handler(uri, ctx))),
            access: None,
            phi: false,
        }
    }

    /// The resource holds protected health information: authorization failures on it count
    /// toward `breach_suspected` (`[hipaa]`).
    #[must_use]
    pub fn phi(mut self, on: bool) -> Self {
        self.phi = on;
        self
    }

    /// Who may read this resource (see [`ToolSpec::access`]); default `resources:read`.
    #[must_use]
    pub fn access(mut self, rule: mcp_authz::AccessRule) -> Self {
        self.access = Some(rule);
        self
    }

    /// Set the description.
    #[must_use]
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.resource.description = Some(d.into());
        self
    }
}

/// A parameterized resource: `scheme://path/{var}/more`. Variables match one path segment.
#[derive(Clone)]
pub struct ResourceTemplateSpec {
    pub(crate) template: ResourceTemplate,
    pub(crate) parts: Vec<TemplatePart>,
    pub(crate) handler: Arc<ResourceFn>,
    pub(crate) completer: Option<Arc<CompleteFn>>,
    pub(crate) access: Option<mcp_authz::AccessRule>,
}

impl std::fmt::Debug for ResourceTemplateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceTemplateSpec").field("template", &self.template).finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TemplatePart {
    Literal(String),
    Var(String),
}

impl ResourceTemplateSpec {
    /// A template read by `handler(uri, variables, ctx)`.
    pub fn new<F, Fut>(uri_template: impl Into<String>, name: impl Into<String>, mime: Option<&str>, handler: F) -> Self
    where
        F: Fn(String, BTreeMap<String, String>, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<ResourceContents>, HandlerError>> + Send + 'static,
    {
        let uri_template = uri_template.into();
        let parts = parse_template(&uri_template);
        let template =
            ResourceTemplate { uri_template, name: name.into(), description: None, mime_type: mime.map(str::to_owned) };
        Self {
            template,
            parts,
            handler: Arc::new(move |u, v, c| Box::pin(handler(u, v, c))),
            completer: None,
            access: None,
        }
    }

    /// Set the description.
    #[must_use]
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.template.description = Some(d.into());
        self
    }

    /// Offer completions for a variable: `f(variable, prefix)`.
    #[must_use]
    pub fn completer(self, f: impl Fn(&str, &str) -> Vec<String> + Send + Sync + 'static) -> Self {
        self.set_completer(f)
    }

    /// Who may read resources of this template (see [`ToolSpec::access`]); default
    /// `resources:read`. The rule is keyed by the template string.
    #[must_use]
    pub fn access(mut self, rule: mcp_authz::AccessRule) -> Self {
        self.access = Some(rule);
        self
    }

    fn set_completer(mut self, f: impl Fn(&str, &str) -> Vec<String> + Send + Sync + 'static) -> Self {
        self.completer = Some(Arc::new(f));
        self
    }

    /// Match a URI; returns the variables.
    pub(crate) fn matches(&self, uri: &str) -> Option<BTreeMap<String, String>> {
        let mut rest = uri;
        let mut vars = BTreeMap::new();
        let mut iter = self.parts.iter().peekable();
        while let Some(part) = iter.next() {
            match part {
                TemplatePart::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                TemplatePart::Var(name) => {
                    let end = match iter.peek() {
                        Some(TemplatePart::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    if value.is_empty() || value.contains('/') {
                        return None;
                    }
                    vars.insert(name.clone(), value.to_owned());
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(vars)
    }
}

fn parse_template(t: &str) -> Vec<TemplatePart> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(TemplatePart::Literal(rest[..open].to_owned()));
        }
        match rest[open..].find('}') {
            Some(close) => {
                parts.push(TemplatePart::Var(rest[open + 1..open + close].to_owned()));
                rest = &rest[open + close + 1..];
            }
            None => {
                parts.push(TemplatePart::Literal(rest[open..].to_owned()));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest.to_owned()));
    }
    parts
}

/// A prompt definition.
#[derive(Clone)]
pub struct PromptSpec {
    pub(crate) prompt: Prompt,
    pub(crate) handler: Arc<PromptFn>,
    pub(crate) completer: Option<Arc<CompleteFn>>,
    pub(crate) access: Option<mcp_authz::AccessRule>,
}

impl std::fmt::Debug for PromptSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptSpec").field("prompt", &self.prompt).finish_non_exhaustive()
    }
}

impl PromptSpec {
    /// A prompt rendered by `handler(arguments, ctx)`. Required arguments are checked before
    /// the handler runs.
    pub fn new<F, Fut>(name: impl Into<String>, description: impl Into<String>, handler: F) -> Self
    where
        F: Fn(BTreeMap<String, String>, RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<GetPromptResult, HandlerError>> + Send + 'static,
    {
        let prompt =
            Prompt { name: name.into(), title: None, description: Some(description.into()), arguments: Vec::new() };
        Self { prompt, handler: Arc::new(move |a, c| Box::pin(handler(a, c))), completer: None, access: None }
    }

    /// Who may get this prompt (see [`ToolSpec::access`]); default `prompts:get:<name>`.
    #[must_use]
    pub fn access(mut self, rule: mcp_authz::AccessRule) -> Self {
        self.access = Some(rule);
        self
    }

    /// Declare an argument.
    #[must_use]
    pub fn argument(mut self, name: impl Into<String>, description: impl Into<String>, required: bool) -> Self {
        self.prompt.arguments.push(PromptArgument {
            name: name.into(),
            description: Some(description.into()),
            required,
        });
        self
    }

    /// Offer completions for an argument: `f(argument, prefix)`.
    #[must_use]
    pub fn completer(mut self, f: impl Fn(&str, &str) -> Vec<String> + Send + Sync + 'static) -> Self {
        self.completer = Some(Arc::new(f));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_matching() {
        let t = ResourceTemplateSpec::new("test://template/{id}/data", "t", None, |_, _, _| async { Ok(vec![]) });
        let v = t.matches("test://template/123/data").unwrap();
        assert_eq!(v["id"], "123");
        assert!(t.matches("test://template//data").is_none());
        assert!(t.matches("test://template/1/2/data").is_none());
        assert!(t.matches("test://template/1/datax").is_none());
        let t = ResourceTemplateSpec::new("file:///{name}", "t", None, |_, _, _| async { Ok(vec![]) });
        assert_eq!(t.matches("file:///a.txt").unwrap()["name"], "a.txt");
    }
}
