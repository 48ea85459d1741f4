//! Replacing a registered tool while the server runs: the new definition is re-hashed and
//! compared with the pinned hash; a difference is an audited `tool_definition_changed` security
//! event, and `server.pin_tool_definitions` says whether it is accepted.

use std::sync::{Arc, PoisonError};
use std::time::SystemTime;

use mcp_authz::{PinChange, hex};
use mcp_core::{SecurityEvent, SecurityEventKind};
use serde::Deserialize;

use crate::McpServer;
use crate::error::ServerError;
use crate::handler::ToolSpec;
use crate::tools::{ToolTable, check_spec, scoped_secrets, seal};
use crate::validation::ToolChecks;

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

impl McpServer {
    /// Replace the registered tool named like `tool` (definition, handler, secrets, consent,
    /// flags) while the server runs; calls already running finish with the old handler.
    ///
    /// The new definition is hashed and compared with the pinned hash. When it differs, a
    /// `tool_definition_changed` security event (tool name, old and new hash) goes to the log,
    /// the audit log and the monitor, and clients listening for list changes get
    /// `notifications/tools/list_changed`. With `server.pin_tool_definitions = "refuse"` a
    /// changed definition is refused instead ([`ServerError::Registration`]) and the attempt is
    /// recorded the same way. The tool's `access` rule cannot change here: it is part of the
    /// compiled policy (override it with an `[[authorization.tools]]` rule and a reload). Nor
    /// can its declared secrets, consent purpose, prompt scanning or PHI tag: they bound what
    /// the tool may do and are outside the definition hash, so a change is refused.
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
        // What the tool may do is fixed at registration, like its access rule: a replacement
        // that would widen it (more secrets, no consent, no prompt scan, no PHI tag) fails closed.
        let old = &table.specs[idx];
        let fixed = [
            ("declared secrets", old.secrets != tool.secrets),
            ("consent purpose", old.consent != tool.consent),
            ("prompt scanning", old.scan_prompts != tool.scan_prompts),
            ("phi tag", old.phi != tool.phi),
        ];
        if let Some((what, _)) = fixed.iter().find(|(_, differs)| *differs) {
            return Err(ServerError::Registration(format!(
                "tool {name:?}: its {what} cannot change at runtime; register the tool that way and restart"
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
        let checks = ToolChecks::compile(&tool, validation)?;
        let secrets = scoped_secrets(&tool, self.0.secrets.as_ref())?;
        let change = pins.check(&name, &hash);
        if let PinChange::Changed { old, new } = change
            && self.0.settings.pin_tool_definitions == PinMode::Refuse
        {
            self.definition_event(&name, &old, &new, true);
            return Err(ServerError::Registration(format!(
                "tool {name:?}: its definition changed (hash {} -> {}) and server.pin_tool_definitions = \"refuse\"",
                hex(&old),
                hex(&new)
            )));
        }
        // Title or annotations are outside the hash but still part of the listing.
        let relisted = table.specs[idx].listing != tool.listing;
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
        pins.pin(name.clone(), hash);
        drop(pins);
        Ok(match change {
            PinChange::Changed { old, new } => {
                self.definition_event(&name, &old, &new, false);
                self.notify_tools_changed();
                ToolReplaced::DefinitionChanged { old_hash: hex(&old), new_hash: hex(&new) }
            }
            PinChange::Unchanged | PinChange::New => {
                if relisted {
                    self.notify_tools_changed();
                }
                ToolReplaced::SameDefinition
            }
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

#[cfg(test)]
mod tests {
    use mcp_protocol::types::CallToolResult;

    use super::*;
    use crate::HandlerError;

    fn tool(name: &str, schema: serde_json::Value) -> ToolSpec {
        ToolSpec::new(name, "t")
            .input_schema(schema)
            .raw_handler(|_, _| async { Ok::<_, HandlerError>(CallToolResult::text("ok")) })
    }

    #[test]
    fn replacements_that_would_bypass_registration_are_refused() {
        let object = serde_json::json!({"type": "object"});
        let server = McpServer::builder("t", "1")
            .add_tool(tool("calc", object.clone()))
            .danger_allow_unauthenticated()
            .build()
            .expect("builds");
        let e = server.replace_tool(tool("calc", serde_json::json!({"type": "string"}))).expect_err("not an object");
        assert!(e.to_string().contains("inputSchema"), "{e}");
        let ruled = tool("calc", object.clone()).access(mcp_authz::AccessRule::public());
        assert!(server.replace_tool(ruled).expect_err("access changed").to_string().contains("access rule"));
        let remote = serde_json::json!({"type": "object", "$ref": "https://example.com/s.json"});
        assert!(server.replace_tool(tool("calc", remote)).is_err(), "schemas are checked as at build");
        let secret = tool("calc", object.clone()).secrets(&["api/token"]);
        assert!(server.replace_tool(secret).expect_err("more secrets").to_string().contains("declared secrets"));
        let phi = tool("calc", object.clone()).phi(true);
        assert!(server.replace_tool(phi).expect_err("phi").to_string().contains("phi tag"));
        let consent = tool("calc", object.clone()).requires_consent("marketing");
        assert!(server.replace_tool(consent).expect_err("consent").to_string().contains("consent purpose"));
        let before = server.tools().specs[0].listing.clone();
        assert_eq!(server.replace_tool(tool("calc", object)).expect("same"), ToolReplaced::SameDefinition);
        assert_eq!(server.tools().specs[0].listing, before);
    }
}
