//! The tool registry. Requests read it without locking (one `ArcSwap` load per request);
//! [`McpServer::replace_tool`] swaps in a new table with one tool's definition and handler
//! replaced, re-hashes the definition, compares it with the pinned hash and records an audited
//! `tool_definition_changed` security event when it differs.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;

use mcp_authz::{PinChange, hex, tool_definition_hash};
use mcp_core::{SecurityEvent, SecurityEventKind};
use serde::Deserialize;

use crate::McpServer;
use crate::error::ServerError;
use crate::handler::ToolSpec;
use crate::validation::{ToolChecks, Validation};

/// What a changed tool definition (description, input or output schema) does at runtime:
/// `server.pin_tool_definitions`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    /// Accept the new definition, record `tool_definition_changed` (old and new hash) in the
    /// audit log and pin the new hash (default).
    #[default]
    Audit,
    /// Refuse the new definition (the old one stays in service) and record the attempt.
    Refuse,
}

/// The result of [`McpServer::replace_tool`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolReplaced {
    /// Same definition hash: only the handler (or secrets, consent, flags) changed.
    SameDefinition,
    /// The definition changed and is now served; the change was recorded.
    DefinitionChanged {
        /// Hex SHA-256 of the previous definition.
        old_hash: String,
        /// Hex SHA-256 of the new definition.
        new_hash: String,
    },
}

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

    /// Replace the registered tool named like `tool` (definition, handler, secrets, consent,
    /// flags) while the server runs; calls already running finish with the old handler.
    ///
    /// The new definition is hashed and compared with the pinned hash. When it differs, a
    /// `tool_definition_changed` security event (tool name, old and new hash) goes to the log,
    /// the audit log and the monitor, and clients listening for list changes get
    /// `notifications/tools/list_changed`. With `server.pin_tool_definitions = "refuse"` a
    /// changed definition is refused instead ([`ServerError::Registration`]) and the attempt is
    /// recorded the same way. The tool's `access` rule cannot change here: it is part of the
    /// compiled policy (override it with an `[[authorization.tools]]` rule and a reload).
    pub fn replace_tool(&self, mut tool: ToolSpec) -> Result<ToolReplaced, ServerError> {
        check_spec(&tool)?;
        let name = tool.tool.name.clone();
        // Writers take the pins lock for the whole swap; readers never wait.
        let mut pins = self.0.pins.lock().unwrap_or_else(PoisonError::into_inner);
        let table = self.tools();
        let Some(&idx) = table.index.get(&name) else {
            return Err(ServerError::Registration(format!(
                "tool {name:?} is not registered; only registered tools can be replaced"
            )));
        };
        if table.specs[idx].access != tool.access {
            return Err(ServerError::Registration(format!(
                "tool {name:?}: the access rule cannot change at runtime; use an [[authorization.tools]] rule"
            )));
        }
        if tool.consent.is_some() && self.0.consent.is_none() {
            return Err(ServerError::Registration(format!(
                "tool {name:?} requires consent but consent is not tracked: set [gdpr] consent_tracking = true"
            )));
        }
        let Some(validation) = &self.0.validation else {
            return Err(ServerError::Registration("this server has no validation state".into()));
        };
        let hash = seal(&mut tool);
        let change = pins.check(&name, &hash);
        if let PinChange::Changed { old, new } = change {
            let refused = self.0.settings.pin_tool_definitions == PinMode::Refuse;
            self.definition_event(&name, &old, &new, refused);
            if refused {
                return Err(ServerError::Registration(format!(
                    "tool {name:?}: its definition changed (hash {} -> {}) and server.pin_tool_definitions = \"refuse\"",
                    hex(&old),
                    hex(&new)
                )));
            }
        }
        let checks = ToolChecks::compile(&tool, validation)?;
        let secrets = scoped_secrets(&tool, self.0.secrets.as_ref())?;
        let mut next = ToolTable {
            specs: table.specs.clone(),
            index: table.index.clone(),
            checks: table.checks.clone(),
            secrets: table.secrets.clone(),
        };
        next.specs[idx] = tool;
        next.checks[idx] = checks;
        next.secrets[idx] = secrets;
        self.0.tools.store(Arc::new(next));
        pins.pin(name, hash);
        drop(pins);
        Ok(match change {
            PinChange::Changed { old, new } => {
                self.notify_tools_changed();
                ToolReplaced::DefinitionChanged { old_hash: hex(&old), new_hash: hex(&new) }
            }
            PinChange::Unchanged | PinChange::New => ToolReplaced::SameDefinition,
        })
    }

    fn definition_event(&self, name: &str, old: &[u8; 32], new: &[u8; 32], refused: bool) {
        let reason = if refused { "tool definition change refused" } else { "tool definition changed" };
        let e = SecurityEvent::new(SecurityEventKind::ToolDefinitionChanged, reason, SystemTime::now())
            .with_method("replace_tool")
            .with_resource(name)
            .with_rule(format!("sha256:{}->sha256:{}", hex(old), hex(new)));
        if refused {
            tracing::warn!(
                tool = name,
                "a changed tool definition was refused (server.pin_tool_definitions = \"refuse\")"
            );
        }
        self.emit(e);
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
