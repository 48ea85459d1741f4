//! Input and output validation on the request path: tool arguments against their compiled
//! `inputSchema`, structured results against `outputSchema`, content rules on everything that
//! leaves the server (and on content blocks arriving in requests), and prompt safety on prompt
//! arguments and, where enabled, on tool arguments.

use std::sync::Arc;

use mcp_core::{SecurityEvent, SecurityEventKind};
use mcp_protocol::types::{CallToolResult, Content};
use mcp_protocol::{ErrorObject, codes};
use mcp_validate::{CompiledSchema, ContentRules, ContentViolation, PromptGuard, SchemaLimits};
use serde_json::Value;

use crate::McpServer;
use crate::dispatch::{Call, err};
use crate::error::ServerError;

/// The validation settings: `[schema_validation]`, `[content_validation]`, `[prompt_security]`.
#[derive(Clone, Debug, Default)]
pub struct ValidationConfig {
    /// Bounds on registered schemas.
    pub schema: SchemaLimits,
    /// Content sizes and types.
    pub content: mcp_validate::ContentConfig,
    /// Prompt-injection guard.
    pub prompt: mcp_validate::PromptSecurityConfig,
}

/// Compiled validation state of a server.
#[derive(Debug)]
pub(crate) struct Validation {
    pub(crate) content: ContentRules,
    pub(crate) prompt: PromptGuard,
    /// Bounds on tool schemas (for tools registered or replaced later).
    pub(crate) schema: SchemaLimits,
}

/// One tool's compiled checks (kept in the tool registry beside the tool).
#[derive(Clone, Debug)]
pub(crate) struct ToolChecks {
    input: CompiledSchema,
    output: Option<CompiledSchema>,
    scan_arguments: bool,
    /// Arguments mirrored in an `Mcp-Param-*` header (`x-mcp-header` on the input schema's
    /// property): (property, lower-case header name), found once at registration.
    pub(crate) mirrored: Vec<(String, String)>,
}

impl Validation {
    /// Compile the content rules and the prompt guard.
    pub(crate) fn compile(cfg: &ValidationConfig) -> Result<Self, ServerError> {
        let content =
            ContentRules::new(&cfg.content).map_err(|e| ServerError::Config(format!("[content_validation]: {e}")))?;
        let prompt =
            PromptGuard::new(&cfg.prompt).map_err(|e| ServerError::Config(format!("[prompt_security]: {e}")))?;
        Ok(Self { content, prompt, schema: cfg.schema })
    }
}

impl ToolChecks {
    /// Compile a tool's schemas; a schema that is remote, of another dialect or too large
    /// refuses registration.
    pub(crate) fn compile(t: &crate::handler::ToolSpec, v: &Validation) -> Result<Self, ServerError> {
        let name = &t.tool.name;
        let input = CompiledSchema::compile(&t.tool.input_schema, &v.schema)
            .map_err(|e| ServerError::Registration(format!("tool {name:?}: inputSchema refused: {e}")))?;
        let output = match &t.tool.output_schema {
            Some(s) => Some(
                CompiledSchema::compile(s, &v.schema)
                    .map_err(|e| ServerError::Registration(format!("tool {name:?}: outputSchema refused: {e}")))?,
            ),
            None => None,
        };
        let mirrored = t
            .tool
            .input_schema
            .get("properties")
            .and_then(serde_json::Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .filter_map(|(prop, schema)| {
                        let suffix = schema.get("x-mcp-header")?.as_str()?;
                        Some((prop.clone(), format!("mcp-param-{}", suffix.to_ascii_lowercase())))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self { input, output, scan_arguments: t.scan_prompts.unwrap_or(v.prompt.scan_tool_arguments()), mirrored })
    }
}

/// Why a request or a result was refused.
pub(crate) enum Refusal {
    /// Tool arguments failed the schema: answered as an `isError` tool result with this text.
    Arguments(String),
    /// A JSON-RPC error.
    Error(ErrorObject),
}

impl McpServer {
    fn validation_event(
        &self,
        call: &Call,
        kind: SecurityEventKind,
        reason: &'static str,
        rule: Arc<str>,
        target: &str,
    ) {
        let e = SecurityEvent::new(kind, reason, std::time::SystemTime::now())
            .with_principal(call.principal.id.clone())
            .with_peer(call.peer)
            .with_method(&*call.method)
            .with_resource(target)
            .with_rule(rule);
        self.emit(e);
        call.verdict.set(mcp_core::AuditOutcome::Invalid);
    }

    /// Check a tool call's arguments (schema, embedded content, prompt safety when enabled).
    pub(crate) fn check_tool_input(
        &self,
        call: &Call,
        checks: &ToolChecks,
        name: &str,
        args: &Value,
    ) -> Result<(), Refusal> {
        let Some(v) = &self.0.validation else { return Ok(()) };
        if let Err(violations) = checks.input.validate(args) {
            let rule = violations.event_rule();
            self.validation_event(
                call,
                SecurityEventKind::ValidationFail,
                "arguments do not match inputSchema",
                rule,
                name,
            );
            return Err(Refusal::Arguments(violations.to_tool_error_text()));
        }
        if let Err(c) = v.content.check_embedded_in_request(args) {
            self.validation_event(
                call,
                SecurityEventKind::ValidationFail,
                "content rule in request",
                c.event_rule(),
                name,
            );
            return Err(Refusal::Error(err(
                codes::INVALID_PARAMS,
                "Invalid params: embedded content breaks a content rule",
            )));
        }
        if checks.scan_arguments
            && let Err(p) = v.prompt.check_arguments(args)
        {
            self.validation_event(call, p.event_kind(), "prompt safety", p.event_rule(), name);
            return Err(Refusal::Error(err(
                codes::INVALID_PARAMS,
                "Invalid params: refused by the prompt-safety policy",
            )));
        }
        Ok(())
    }

    /// Check a tool result before it leaves: `structuredContent` against `outputSchema`, content
    /// rules on every block.
    pub(crate) fn check_tool_output(
        &self,
        call: &Call,
        checks: &ToolChecks,
        name: &str,
        result: &CallToolResult,
    ) -> Result<(), ErrorObject> {
        let Some(v) = &self.0.validation else { return Ok(()) };
        if let (Some(schema), Some(sc)) = (&checks.output, &result.structured_content)
            && let Err(violations) = schema.validate(sc)
        {
            let rule = violations.event_rule();
            self.validation_event(
                call,
                SecurityEventKind::ValidationFail,
                "result does not match outputSchema",
                rule,
                name,
            );
            return Err(err(codes::INTERNAL_ERROR, "Internal error: the tool result does not match its outputSchema"));
        }
        tool_content(&v.content, result).map_err(|c| {
            self.validation_event(
                call,
                SecurityEventKind::ValidationFail,
                "content rule in result",
                c.event_rule(),
                name,
            );
            err(codes::INTERNAL_ERROR, "Internal error: the tool result breaks a content rule")
        })
    }

    /// Check `resources/read` contents before they leave.
    pub(crate) fn check_resource_output(&self, call: &Call, uri: &str, result: &Value) -> Result<(), ErrorObject> {
        let Some(v) = &self.0.validation else { return Ok(()) };
        v.content.check_resource_contents(result).map_err(|c| {
            self.validation_event(
                call,
                SecurityEventKind::ValidationFail,
                "content rule in resource",
                c.event_rule(),
                uri,
            );
            err(codes::INTERNAL_ERROR, "Internal error: the resource contents break a content rule")
        })
    }

    /// Check prompt arguments (prompt safety) before the handler runs.
    pub(crate) fn check_prompt_input(&self, call: &Call, name: &str, args: &Value) -> Result<(), ErrorObject> {
        let Some(v) = &self.0.validation else { return Ok(()) };
        v.prompt.check_arguments(args).map_err(|p| {
            self.validation_event(call, p.event_kind(), "prompt safety", p.event_rule(), name);
            err(codes::INVALID_PARAMS, "Invalid params: refused by the prompt-safety policy")
        })
    }

    /// Check prompt messages before they leave.
    pub(crate) fn check_prompt_output(&self, call: &Call, name: &str, result: &Value) -> Result<(), ErrorObject> {
        let Some(v) = &self.0.validation else { return Ok(()) };
        v.content.check_prompt_messages(result).map_err(|c| {
            self.validation_event(
                call,
                SecurityEventKind::ValidationFail,
                "content rule in prompt",
                c.event_rule(),
                name,
            );
            err(codes::INTERNAL_ERROR, "Internal error: the prompt messages break a content rule")
        })
    }
}

/// The content rules on a typed tool result. Text blocks and `structuredContent` are checked in
/// place; a result with any other kind of block is checked as the JSON it will be sent as.
fn tool_content(rules: &ContentRules, result: &CallToolResult) -> Result<(), ContentViolation> {
    let text_only = result.content.iter().all(|b| matches!(b, Content::Text { .. }));
    if !text_only {
        let json = serde_json::to_value(result).map_err(|e| ContentViolation {
            pointer: String::new(),
            rule: "malformed",
            limit: None,
            actual: None,
            detail: Some(format!("the result does not serialize: {e}")),
        })?;
        return rules.check_tool_result(&json);
    }
    for (i, block) in result.content.iter().enumerate() {
        if let Content::Text { text } = block {
            rules.check_tool_text(i, text)?;
        }
    }
    match &result.structured_content {
        Some(structured) => rules.check_structured_content(structured),
        None => Ok(()),
    }
}
