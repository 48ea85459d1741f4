//! The server the official MCP conformance suites run against.
//!
//! `cargo run --release -p mcp-server --example conformance -- --listen 127.0.0.1:PORT`
//! (endpoint `/mcp`). It registers exactly the tools, resources and prompts the suites expect,
//! on the same server code and request path as the `mcp-server` binary.

use std::collections::BTreeMap;
use std::time::Duration;

use mcp_protocol::types::{CallToolResult, Content, GetPromptResult, PromptMessage, ResourceContents};
use mcp_server::{
    HandlerError, LogLevel, McpServer, PromptSpec, RequestContext, ResourceSpec, ResourceTemplateSpec, ToolSpec,
};
use serde_json::{Value, json};

const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const WAV: &str = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

type ToolResult = Result<CallToolResult, HandlerError>;

fn text(t: impl Into<String>) -> ToolResult {
    Ok(CallToolResult::text(t))
}

fn image() -> Content {
    Content::Image { data: PNG.into(), mime_type: "image/png".into() }
}

fn tool(name: &str, description: &str) -> ToolSpec {
    ToolSpec::new(name, description)
}

fn arg_str(args: &Value, key: &str, default: &str) -> String {
    args.get(key).and_then(Value::as_str).unwrap_or(default).to_owned()
}

fn elicit_text(answer: &Value) -> String {
    let action = answer.get("action").and_then(Value::as_str).unwrap_or("unknown");
    let content = answer.get("content").cloned().unwrap_or(Value::Null);
    format!("Elicitation completed: action={action}, content={content}")
}

fn content_tools() -> Vec<ToolSpec> {
    vec![
        tool("test_simple_text", "Returns simple text content").raw_handler(|_, _| async {
            text("This is a simple text response for testing.")
        }),
        tool("test_image_content", "Returns image content").raw_handler(|_, _| async {
            Ok(CallToolResult { content: vec![image()], ..Default::default() })
        }),
        tool("test_audio_content", "Returns audio content").raw_handler(|_, _| async {
            Ok(CallToolResult {
                content: vec![Content::Audio { data: WAV.into(), mime_type: "audio/wav".into() }],
                ..Default::default()
            })
        }),
        tool("test_embedded_resource", "Returns an embedded resource").raw_handler(|_, _| async {
            let resource = ResourceContents::text("test://embedded-resource", "text/plain", "This is an embedded resource content.");
            Ok(CallToolResult { content: vec![Content::Resource { resource }], ..Default::default() })
        }),
        tool("test_multiple_content_types", "Returns text, image and resource content").raw_handler(|_, _| async {
            let resource = ResourceContents::text("test://mixed-content-resource", "application/json", r#"{"test":"data","value":123}"#);
            Ok(CallToolResult {
                content: vec![Content::text("Multiple content types test:"), image(), Content::Resource { resource }],
                ..Default::default()
            })
        }),
        tool("test_tool_with_logging", "Sends log notifications while it runs").raw_handler(|_, ctx: RequestContext| async move {
            for (i, msg) in ["Tool execution started", "Tool processing data", "Tool execution completed"].iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                ctx.log(LogLevel::Info, "conformance", json!(msg)).await;
            }
            text("Logging test completed")
        }),
        tool("test_logging_tool", "Logs at info level (only when the client asked for logs)").raw_handler(|_, ctx: RequestContext| async move {
            ctx.log(LogLevel::Info, "conformance", json!("log message")).await;
            text("Logging tool completed")
        }),
        tool("test_tool_with_progress", "Sends progress notifications while it runs").raw_handler(|_, ctx: RequestContext| async move {
            for (i, p) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                ctx.progress(p, Some(100.0), None).await;
            }
            text("Progress test completed")
        }),
        tool("test_error_handling", "Always fails").raw_handler(|_, _| async {
            Err(HandlerError::new("This tool intentionally returns an error for testing"))
        }),
        tool("test_reconnection", "Returns after a short delay").raw_handler(|_, _| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            text("Reconnection test completed")
        }),
        tool("json_schema_2020_12_tool", "Tool with JSON Schema 2020-12 features")
            .input_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {"address": {"$anchor": "addressDef", "type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
                "properties": {
                    "name": {"type": "string"},
                    "address": {"$ref": "#/$defs/address"},
                    "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                    "phone": {"type": "string"},
                    "email": {"type": "string"}
                },
                "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
                "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
                "then": {"required": ["phone"]},
                "else": {"required": ["email"]},
                "additionalProperties": false
            }))
            .raw_handler(|args, _| async move { text(format!("Received: {args}")) }),
        tool("test_custom_header", "Echoes an argument mirrored in the Mcp-Param-Region header")
            .input_schema(json!({
                "type": "object",
                "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}
            }))
            .raw_handler(|args, _| async move { text(format!("region={}", arg_str(&args, "region", ""))) }),
    ]
}

fn input_tools() -> Vec<ToolSpec> {
    vec![
        tool("test_sampling", "Asks the client's model a question")
            .input_schema(json!({"type": "object", "properties": {"prompt": {"type": "string"}}, "required": ["prompt"]}))
            .raw_handler(|args, ctx: RequestContext| async move {
                let prompt = arg_str(&args, "prompt", "Test prompt for sampling");
                let params = json!({"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": 100});
                let answer = ctx.request_input("sampling", "sampling/createMessage", params).await?;
                let reply = answer.get("content").and_then(|c| c.get("text")).and_then(Value::as_str).unwrap_or("");
                text(format!("LLM response: {reply}"))
            }),
        tool("test_elicitation", "Asks the user for their details")
            .input_schema(json!({"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}))
            .raw_handler(|args, ctx: RequestContext| async move {
                let params = json!({
                    "message": arg_str(&args, "message", "Please provide your information"),
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string", "description": "User's response"},
                            "email": {"type": "string", "description": "User's email address"}
                        },
                        "required": ["username", "email"]
                    }
                });
                let answer = ctx.request_input("elicitation", "elicitation/create", params).await?;
                text(elicit_text(&answer))
            }),
        tool("test_elicitation_sep1034_defaults", "Elicitation with default values").raw_handler(|_, ctx: RequestContext| async move {
            let params = json!({
                "message": "Please review and update the form fields with defaults",
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "description": "User name", "default": "John Doe"},
                        "age": {"type": "integer", "description": "User age", "default": 30},
                        "score": {"type": "number", "description": "User score", "default": 95.5},
                        "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "description": "Verification status", "default": true}
                    }
                }
            });
            let answer = ctx.request_input("defaults", "elicitation/create", params).await?;
            text(elicit_text(&answer))
        }),
        tool("test_elicitation_sep1330_enums", "Elicitation with every enum style").raw_handler(|_, ctx: RequestContext| async move {
            let params = json!({
                "message": "Please select options from the enum fields",
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "untitledSingle": {"type": "string", "description": "Untitled single-select", "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "description": "Titled single-select", "oneOf": [
                            {"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"}, {"const": "value3", "title": "Third Option"}]},
                        "legacyEnum": {"type": "string", "description": "Legacy titled enum", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
                        "untitledMulti": {"type": "array", "description": "Untitled multi-select", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "description": "Titled multi-select", "items": {"anyOf": [
                            {"const": "value1", "title": "First Choice"}, {"const": "value2", "title": "Second Choice"}, {"const": "value3", "title": "Third Choice"}]}}
                    }
                }
            });
            let answer = ctx.request_input("enums", "elicitation/create", params).await?;
            text(elicit_text(&answer))
        }),
        tool("test_missing_capability", "Needs the client's sampling capability").raw_handler(|_, ctx: RequestContext| async move {
            let params = json!({"messages": [{"role": "user", "content": {"type": "text", "text": "ping"}}], "maxTokens": 10});
            ctx.request_input("sampling", "sampling/createMessage", params).await?;
            text("sampled")
        }),
        tool("test_streaming_elicitation", "Asks for input after a progress update").raw_handler(|_, ctx: RequestContext| async move {
            ctx.progress(0.0, Some(1.0), Some("starting")).await;
            let answer = ctx.request_input("user_name", "elicitation/create", name_schema("What is your name?")).await?;
            text(elicit_text(&answer))
        }),
        tool("test_trigger_tool_change", "Announces a tool list change").raw_handler(|_, ctx: RequestContext| async move {
            ctx.notify_tools_changed();
            text("tools list changed")
        }),
        tool("test_trigger_prompt_change", "Announces a prompt list change").raw_handler(|_, ctx: RequestContext| async move {
            ctx.notify_prompts_changed();
            text("prompts list changed")
        }),
    ]
}

fn name_schema(message: &str) -> Value {
    json!({"message": message, "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}})
}

fn elicited(answer: &Value, field: &str) -> String {
    answer
        .get("content")
        .and_then(|c| c.get(field))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .unwrap_or_default()
}

fn sampling_params(q: &str, max: u32) -> Value {
    json!({"messages": [{"role": "user", "content": {"type": "text", "text": q}}], "maxTokens": max})
}

fn confirm_schema() -> Value {
    json!({"message": "Confirm?", "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}})
}

fn mrtr_tools() -> Vec<ToolSpec> {
    vec![
        tool("test_input_required_result_elicitation", "Input-required round trip: elicitation").raw_handler(|_, ctx: RequestContext| async move {
            let a = ctx.request_input("user_name", "elicitation/create", name_schema("What is your name?")).await?;
            text(format!("Hello, {}!", elicited(&a, "name")))
        }),
        tool("test_input_required_result_sampling", "Input-required round trip: sampling").raw_handler(|_, ctx: RequestContext| async move {
            let a = ctx.request_input("capital_question", "sampling/createMessage", sampling_params("What is the capital of France?", 100)).await?;
            let t = a.get("content").and_then(|c| c.get("text")).and_then(Value::as_str).unwrap_or("");
            text(format!("The model said: {t}"))
        }),
        tool("test_input_required_result_list_roots", "Input-required round trip: roots").raw_handler(|_, ctx: RequestContext| async move {
            let a = ctx.request_input("client_roots", "roots/list", json!({})).await?;
            let n = a.get("roots").and_then(Value::as_array).map_or(0, Vec::len);
            text(format!("The client has {n} root(s)"))
        }),
        tool("test_input_required_result_request_state", "Input-required round trip with request state").raw_handler(|_, ctx: RequestContext| async move {
            ctx.request_input("confirm", "elicitation/create", confirm_schema()).await?;
            text("state-ok")
        }),
        tool("test_input_required_result_tampered_state", "Input-required round trip; a tampered state is refused").raw_handler(|_, ctx: RequestContext| async move {
            ctx.request_input("confirm", "elicitation/create", confirm_schema()).await?;
            text("state-ok")
        }),
        tool("test_input_required_result_multiple_inputs", "Several inputs in one round").raw_handler(|_, ctx: RequestContext| async move {
            let a = ctx
                .request_inputs(vec![
                    ("user_name".into(), "elicitation/create".into(), name_schema("What is your name?")),
                    ("greeting".into(), "sampling/createMessage".into(), sampling_params("Write a short greeting", 50)),
                    ("client_roots".into(), "roots/list".into(), json!({})),
                ])
                .await?;
            text(format!("Hello, {}! ({} answers)", elicited(&a["user_name"], "name"), a.len()))
        }),
        tool("test_input_required_result_multi_round", "Two rounds of input").raw_handler(|_, ctx: RequestContext| async move {
            let a = ctx.request_input("step1", "elicitation/create", name_schema("What is your name?")).await?;
            let color_schema = json!({"message": "What is your favourite color?", "requestedSchema": {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}});
            let b = ctx.request_input("step2", "elicitation/create", color_schema).await?;
            text(format!("{} likes {}", elicited(&a, "name"), elicited(&b, "color")))
        }),
        tool("test_input_required_result_capabilities", "Asks only for what the client supports").raw_handler(|_, ctx: RequestContext| async move {
            let (key, method, params) = if ctx.client_supports("elicitation") {
                ("user_name", "elicitation/create", name_schema("What is your name?"))
            } else if ctx.client_supports("sampling") {
                ("question", "sampling/createMessage", sampling_params("Say hello", 20))
            } else if ctx.client_supports("roots") {
                ("client_roots", "roots/list", json!({}))
            } else {
                return text("the client supports no input requests");
            };
            ctx.request_input(key, method, params).await?;
            text("input received")
        }),
    ]
}

fn resources(b: mcp_server::ServerBuilder) -> mcp_server::ServerBuilder {
    b.add_resource(
        ResourceSpec::new("test://static-text", "static-text", Some("text/plain"), |uri, _| async move {
            Ok(vec![ResourceContents::text(uri, "text/plain", "This is the content of the static text resource.")])
        })
        .description("A static text resource"),
    )
    .add_resource(
        ResourceSpec::new("test://static-binary", "static-binary", Some("image/png"), |uri, _| async move {
            Ok(vec![ResourceContents::blob(uri, "image/png", PNG)])
        })
        .description("A static binary resource"),
    )
    .add_resource(
        ResourceSpec::new("test://watched-resource", "watched-resource", Some("text/plain"), |uri, _| async move {
            Ok(vec![ResourceContents::text(uri, "text/plain", "Watched resource content")])
        })
        .description("A resource that can be subscribed to"),
    )
    .add_resource_template(
        ResourceTemplateSpec::new(
            "test://template/{id}/data",
            "template-data",
            Some("application/json"),
            |uri, vars: BTreeMap<String, String>, _| async move {
                let id = vars.get("id").cloned().unwrap_or_default();
                let body = json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
                Ok(vec![ResourceContents::text(uri, "application/json", body.to_string())])
            },
        )
        .description("A resource template with one parameter")
        .completer(|_, prefix| {
            ["123", "456", "789"].iter().filter(|v| v.starts_with(prefix)).map(|s| (*s).to_owned()).collect()
        }),
    )
}

fn user_text(t: impl Into<String>) -> PromptMessage {
    PromptMessage { role: "user".into(), content: Content::text(t) }
}

fn prompts(b: mcp_server::ServerBuilder) -> mcp_server::ServerBuilder {
    b.add_prompt(PromptSpec::new("test_simple_prompt", "A simple prompt without arguments", |_, _| async {
        Ok(GetPromptResult { description: None, messages: vec![user_text("This is a simple prompt for testing.")] })
    }))
    .add_prompt(
        PromptSpec::new("test_prompt_with_arguments", "A prompt with two required arguments", |args: BTreeMap<String, String>, _| async move {
            let t = format!("Prompt with arguments: arg1='{}', arg2='{}'", args["arg1"], args["arg2"]);
            Ok(GetPromptResult { description: None, messages: vec![user_text(t)] })
        })
        .argument("arg1", "First argument", true)
        .argument("arg2", "Second argument", true)
        .completer(|_, prefix| ["paris", "park", "test"].iter().filter(|v| v.starts_with(prefix)).map(|s| (*s).to_owned()).collect()),
    )
    .add_prompt(
        PromptSpec::new("test_prompt_with_embedded_resource", "A prompt with an embedded resource", |args: BTreeMap<String, String>, _| async move {
            let resource = ResourceContents::text(args["resourceUri"].clone(), "text/plain", "Embedded resource content for testing.");
            Ok(GetPromptResult {
                description: None,
                messages: vec![
                    PromptMessage { role: "user".into(), content: Content::Resource { resource } },
                    user_text("Please process the embedded resource above."),
                ],
            })
        })
        .argument("resourceUri", "URI of the resource to embed", true),
    )
    .add_prompt(PromptSpec::new("test_prompt_with_image", "A prompt with an image", |_, _| async {
        Ok(GetPromptResult {
            description: None,
            messages: vec![PromptMessage { role: "user".into(), content: image() }, user_text("Please analyze the image above.")],
        })
    }))
    .add_prompt(PromptSpec::new("test_input_required_result_prompt", "A prompt that first asks for context", |_, ctx: RequestContext| async move {
        let schema = json!({"message": "What context should the prompt use?", "requestedSchema": {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}});
        let a = ctx.request_input("user_context", "elicitation/create", schema).await?;
        Ok(GetPromptResult { description: None, messages: vec![user_text(format!("Context: {}", elicited(&a, "context")))] })
    }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:3001".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            other => return Err(format!("unknown argument {other}; usage: conformance [--listen ADDR]").into()),
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MCP_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut b = McpServer::builder("mcp-secure-conformance", env!("CARGO_PKG_VERSION"));
    for t in content_tools().into_iter().chain(input_tools()).chain(mrtr_tools()) {
        b = b.add_tool(t);
    }
    // The suites cannot send credentials; this fixture listens on loopback only.
    let server = prompts(resources(b)).danger_allow_unauthenticated().build()?;
    let cfg = mcp_transport::HttpConfig { listen: listen.parse()?, ..Default::default() };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        mcp_server::serve_http(server, cfg, shutdown).await
    })?;
    Ok(())
}
