//! The demo tools of the embedded default configuration.

use mcp_protocol::types::{CallToolResult, Content, ResourceContents};
use serde::Deserialize;
use serde_json::json;

use mcp_authz::AccessRule;

use crate::handler::{HandlerError, ResourceSpec, ToolSpec};
use crate::server::ServerBuilder;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalcArgs {
    a: f64,
    b: f64,
    op: Op,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Op {
    Add,
    Subtract,
    Multiply,
    Divide,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoArgs {
    text: String,
}

const LIMIT: f64 = 1000.0;
const ECHO_MAX: usize = 10_000;

fn calculate(args: CalcArgs) -> Result<CallToolResult, HandlerError> {
    for (name, v) in [("a", args.a), ("b", args.b)] {
        if !(-LIMIT..=LIMIT).contains(&v) {
            return Err(HandlerError::invalid_params(format!("{name} must be between -1000 and 1000")));
        }
    }
    let r = match args.op {
        Op::Add => args.a + args.b,
        Op::Subtract => args.a - args.b,
        Op::Multiply => args.a * args.b,
        Op::Divide if args.b == 0.0 => return Err(HandlerError::new("division by zero")),
        Op::Divide => args.a / args.b,
    };
    Ok(CallToolResult {
        content: vec![Content::text(r.to_string())],
        structured_content: Some(json!({"result": r})),
        is_error: false,
    })
}

/// Add the demo tools to `b`: `calculate`, `echo`, and the admin-only `restart_server` and
/// `mcp://admin/config` (role `admin`, or permissions `admin:restart` / `admin:config`).
pub fn add_demo(b: ServerBuilder) -> ServerBuilder {
    let calc = ToolSpec::new("calculate", "Basic arithmetic on two numbers between -1000 and 1000")
        .input_schema(json!({
            "type": "object",
            "properties": {
                "a": {"type": "number", "minimum": -1000, "maximum": 1000, "description": "First operand"},
                "b": {"type": "number", "minimum": -1000, "maximum": 1000, "description": "Second operand"},
                "op": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"], "description": "Operation"}
            },
            "required": ["a", "b", "op"],
            "additionalProperties": false
        }))
        .output_schema(json!({"type": "object", "properties": {"result": {"type": "number"}}, "required": ["result"]}))
        .annotations(json!({"readOnlyHint": true, "idempotentHint": true, "openWorldHint": false}))
        .handler(|args: CalcArgs, _ctx| async move { calculate(args) });
    let echo = ToolSpec::new("echo", "Returns the text it is given")
        .input_schema(json!({
            "type": "object",
            "properties": {"text": {"type": "string", "maxLength": ECHO_MAX}},
            "required": ["text"],
            "additionalProperties": false
        }))
        .handler(|args: EchoArgs, _ctx| async move {
            if args.text.chars().count() > ECHO_MAX {
                return Err(HandlerError::invalid_params("text is longer than 10000 characters"));
            }
            Ok(CallToolResult::text(args.text))
        });
    // Admin-only: the `admin` role, or the `admin:restart` permission (OAuth scope `mcp:admin`
    // in the standard policy). Every use is audited.
    let restart = ToolSpec::new("restart_server", "Restart the server (admin only)")
        .annotations(json!({"destructiveHint": true}))
        .access(AccessRule::new().permission("admin:restart").roles(["admin"]).audit_log(true))
        .raw_handler(|_args, ctx| async move {
            tracing::warn!(principal = %ctx.principal().id, "restart_server called (the demo restarts nothing)");
            Ok(CallToolResult::text("restart requested; this demo server does not actually restart"))
        });
    let admin_config =
        ResourceSpec::new("mcp://admin/config", "admin-config", Some("application/json"), |uri, ctx| async move {
            let body = json!({"server": "mcp-secure demo", "caller": &*ctx.principal().id});
            Ok(vec![ResourceContents::text(uri, "application/json", body.to_string())])
        })
        .description("Who is asking, as the server sees it (admin only)")
        .access(AccessRule::new().permission("admin:config").roles(["admin"]).audit_log(true));
    b.add_tool(calc).add_tool(echo).add_tool(restart).add_resource(admin_config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calculate_rules() {
        let r = calculate(CalcArgs { a: 2.0, b: 3.0, op: Op::Add }).unwrap();
        assert_eq!(r.structured_content, Some(json!({"result": 5.0})));
        assert!(calculate(CalcArgs { a: 1.0, b: 0.0, op: Op::Divide }).is_err());
        assert!(calculate(CalcArgs { a: 1001.0, b: 0.0, op: Op::Add }).is_err());
        let r = calculate(CalcArgs { a: -7.0, b: 2.0, op: Op::Divide }).unwrap();
        assert_eq!(r.structured_content, Some(json!({"result": -3.5})));
    }
}
