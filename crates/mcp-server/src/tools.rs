//! The tool registry. Requests read it without locking (one `ArcSwap` load per request);
//! [`McpServer::replace_tool`] swaps in a new table (see the `replace` module).

use std::collections::HashMap;
use std::sync::Arc;

use mcp_authz::{hex, tool_definition_hash};

use crate::McpServer;
use crate::error::ServerError;
use crate::handler::ToolSpec;
use crate::validation::{ToolChecks, Validation};

/// Every registered tool, its compiled checks and its scoped secrets, by registration order.
#[derive(Debug)]
pub(crate) struct ToolTable {
    pub(crate) specs: Vec<ToolSpec>,
    pub(crate) index: HashMap<String, usize>,
    /// Per tool: input / output schemas and prompt scanning.
    pub(crate) checks: Vec<ToolChecks>,
    /// Per tool: the scoped view of its declared secrets.
    pub(crate) secrets: Vec<Option<mcp_secrets::ScopedSecrets>>,
}

/// Registration checks every tool passes, at build and when replaced.
pub(crate) fn check_spec(t: &ToolSpec) -> Result<(), ServerError> {
    let name = &t.tool.name;
    let ok =
        !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        return Err(ServerError::Registration(format!(
            "tool name {name:?} must be 1-128 characters of letters, digits, '_', '.', '-'"
        )));
    }
    if t.handler.is_none() {
        return Err(ServerError::Registration(format!("tool {name:?} has no handler: call .handler(..)")));
    }
    if t.tool.input_schema.get("type").and_then(|v| v.as_str()) != Some("object") {
        return Err(ServerError::Registration(format!("tool {name:?}: inputSchema must have \"type\": \"object\"")));
    }
    Ok(())
}

/// The SHA-256 of the tool's canonical definition, also written into its `tools/list` entry
/// (`_meta["io.mcp-secure/definitionHash"]`) so clients and operators can pin it.
pub(crate) fn seal(t: &mut ToolSpec) -> [u8; 32] {
    let hash = tool_definition_hash(
        &t.tool.name,
        t.tool.description.as_deref(),
        &t.tool.input_schema,
        t.tool.output_schema.as_ref(),
    );
    let mut v = serde_json::to_value(&t.tool).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("_meta".into(), serde_json::json!({ crate::dispatch::META_DEFINITION_HASH: hex(&hash) }));
    }
    t.listing = v;
    hash
}

/// The scoped view of the secrets `t` declares; refused without a store or for a bad name.
pub(crate) fn scoped_secrets(
    t: &ToolSpec,
    store: Option<&mcp_secrets::Secrets>,
) -> Result<Option<mcp_secrets::ScopedSecrets>, ServerError> {
    if t.secrets.is_empty() {
        return Ok(None);
    }
    let Some(store) = store else {
        return Err(ServerError::Registration(format!(
            "tool {:?} declares secrets but the server has no secret store: call .secret_store(..)",
            t.tool.name
        )));
    };
    let mut names = Vec::new();
    for n in &t.secrets {
        names
            .push(mcp_core::traits::SecretName::parse(n).map_err(|_| {
                ServerError::Registration(format!("tool {:?}: invalid secret name {n:?}", t.tool.name))
            })?);
    }
    Ok(Some(store.scoped(names)))
}

impl McpServer {
    /// The tool registry in force.
    pub(crate) fn tools(&self) -> Arc<ToolTable> {
        self.0.tools.load_full()
    }
}

/// Index the registered tools, compile their checks and pin their definitions (at build).
pub(crate) fn build_table(
    mut specs: Vec<ToolSpec>,
    validation: &Validation,
    secrets: Option<&mcp_secrets::Secrets>,
) -> Result<(ToolTable, mcp_authz::ToolPins), ServerError> {
    let mut index = HashMap::new();
    let mut pins = mcp_authz::ToolPins::new();
    let (mut checks, mut scoped) = (Vec::with_capacity(specs.len()), Vec::with_capacity(specs.len()));
    for (i, t) in specs.iter_mut().enumerate() {
        check_spec(t)?;
        if index.insert(t.tool.name.clone(), i).is_some() {
            return Err(ServerError::Registration(format!("tool {:?} registered twice", t.tool.name)));
        }
        pins.pin(t.tool.name.clone(), seal(t));
        checks.push(ToolChecks::compile(t, validation)?);
        scoped.push(scoped_secrets(t, secrets)?);
    }
    Ok((ToolTable { specs, index, checks, secrets: scoped }, pins))
}
