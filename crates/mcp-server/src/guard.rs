//! Authorization on the request path: which [`Action`] a request is, the decision, and the
//! answer when it is denied (hidden as "unknown" for role denials, 403 `insufficient_scope` for
//! OAuth scope denials).

use std::sync::Arc;

use mcp_core::traits::Authorizer;
use mcp_core::{Action, Decision, Denial, Principal, SecurityEvent, SecurityEventKind};
use mcp_protocol::{Era, ErrorObject, codes};
use serde_json::{Value, json};

use crate::McpServer;
use crate::dispatch::{Call, err};

/// The authorizer in force and how denials are answered.
#[derive(Clone, Debug)]
pub(crate) struct Authz {
    pub(crate) authorizer: Arc<dyn Authorizer>,
    /// The compiled policy, when the authorizer is the built-in one (explain, lint).
    pub(crate) policy: Option<Arc<mcp_authz::PolicyAuthorizer>>,
    /// Answer a role denial exactly like an unknown tool / resource / prompt (custom
    /// authorizers; the built-in policy says it itself, so a reload can change it).
    pub(crate) hide_forbidden: bool,
    /// What the built-in policy is compiled from, for reloads.
    pub(crate) source: Option<Arc<crate::reload::PolicySource>>,
}

impl Authz {
    /// True when role denials are hidden as "unknown".
    pub(crate) fn hides(&self) -> bool {
        match &self.policy {
            Some(p) => p.policy().hide_forbidden(),
            None => self.hide_forbidden,
        }
    }
}

/// The action a request asks for; `None` for methods outside authorization (`ping`,
/// `initialize`, `server/discover`, `subscriptions/listen`) and for requests missing their
/// target (they fail parameter checks before any handler runs).
pub(crate) fn action_for(method: &str, params: &Value) -> Option<Action> {
    let s = |k: &str| params.get(k).and_then(Value::as_str).map(Arc::<str>::from);
    Some(match method {
        "tools/list" => Action::ListTools,
        "tools/call" => Action::CallTool(s("name")?),
        "resources/list" | "resources/templates/list" => Action::ListResources,
        "resources/read" => Action::ReadResource(s("uri")?),
        "resources/subscribe" | "resources/unsubscribe" => Action::SubscribeResource(s("uri")?),
        "prompts/list" => Action::ListPrompts,
        "prompts/get" => Action::GetPrompt(s("name")?),
        "completion/complete" => {
            let r = params.get("ref")?;
            match r.get("type").and_then(Value::as_str)? {
                "ref/prompt" => Action::CompletePrompt(r.get("name")?.as_str()?.into()),
                "ref/resource" => Action::CompleteResource(r.get("uri")?.as_str()?.into()),
                _ => return None,
            }
        }
        "logging/setLevel" => Action::SetLogLevel,
        _ => return None,
    })
}

/// What authorization decided for one request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Granted {
    /// The deciding rule asks for every use to be audited.
    pub(crate) audit: bool,
}

impl McpServer {
    /// True when `principal` may perform `action` (list filtering: no events).
    pub(crate) fn may(&self, principal: &Principal, action: Action) -> bool {
        match &self.0.authz {
            None => true,
            Some(a) => a.authorizer.authorize(principal, action).is_allowed(),
        }
    }

    /// Authorize a call; on denial, record the event and produce the wire answer.
    pub(crate) fn authorize_call(&self, call: &Call, action: Action) -> Result<Granted, (ErrorObject, bool)> {
        let Some(authz) = &self.0.authz else { return Ok(Granted::default()) };
        match authz.authorizer.authorize(&call.principal, action.clone()) {
            Decision::Allow(permit) => Ok(Granted { audit: permit.audit() }),
            Decision::Deny(denial) => {
                let mut e =
                    SecurityEvent::new(SecurityEventKind::AuthorizeFail, denial.reason, std::time::SystemTime::now())
                        .with_principal(call.principal.id.clone())
                        .with_peer(call.peer)
                        .with_method(action.kind())
                        .with_rule(denial.rule.clone());
                if let Some(t) = action.target() {
                    e = e.with_resource(t.clone());
                }
                self.emit(e);
                Err((denied(&action, &denial, authz.hides(), call.protocol.era()), denial.audit))
            }
        }
    }
}

/// The answer to a denied action.
fn denied(action: &Action, denial: &Denial, hide: bool, era: Era) -> ErrorObject {
    if denial.is_scope_denial() {
        let scopes: Vec<&str> = denial.scopes.iter().map(|s| &**s).collect();
        return err(codes::INSUFFICIENT_SCOPE, "Forbidden: insufficient scope")
            .with_data(json!({"requiredScopes": scopes}));
    }
    if !hide {
        return err(codes::SECURITY_REJECTED, "Forbidden");
    }
    // Exactly what the handler says for a name it does not know.
    match action {
        Action::CallTool(_) => err(codes::INVALID_PARAMS, "Unknown tool"),
        Action::GetPrompt(_) | Action::CompletePrompt(_) => err(codes::INVALID_PARAMS, "Unknown prompt"),
        Action::CompleteResource(_) => err(codes::INVALID_PARAMS, "Unknown resource"),
        Action::ReadResource(uri) => {
            let code = if era == Era::Modern { codes::INVALID_PARAMS } else { codes::RESOURCE_NOT_FOUND };
            err(code, "Resource not found").with_data(json!({"uri": &**uri}))
        }
        Action::SubscribeResource(uri) => {
            err(codes::RESOURCE_NOT_FOUND, "Resource not found").with_data(json!({"uri": &**uri}))
        }
        _ => err(codes::METHOD_NOT_FOUND, "Method not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_authorized_method_maps_to_an_action() {
        let p = json!({"name": "calc", "uri": "mcp://x", "ref": {"type": "ref/prompt", "name": "p"}});
        let cases = [
            ("tools/list", Some(Action::ListTools)),
            ("tools/call", Some(Action::call_tool("calc"))),
            ("resources/list", Some(Action::ListResources)),
            ("resources/templates/list", Some(Action::ListResources)),
            ("resources/read", Some(Action::ReadResource("mcp://x".into()))),
            ("resources/subscribe", Some(Action::SubscribeResource("mcp://x".into()))),
            ("resources/unsubscribe", Some(Action::SubscribeResource("mcp://x".into()))),
            ("prompts/list", Some(Action::ListPrompts)),
            ("prompts/get", Some(Action::GetPrompt("calc".into()))),
            ("completion/complete", Some(Action::CompletePrompt("p".into()))),
            ("logging/setLevel", Some(Action::SetLogLevel)),
            ("ping", None),
            ("server/discover", None),
        ];
        for (m, want) in cases {
            assert_eq!(action_for(m, &p), want, "{m}");
        }
        let r = json!({"ref": {"type": "ref/resource", "uri": "file:///{x}"}});
        assert_eq!(action_for("completion/complete", &r), Some(Action::CompleteResource("file:///{x}".into())));
    }

    #[test]
    fn hidden_denials_look_like_unknown_names() {
        let d = Denial {
            reason: "no rule grants it",
            required: "tools:execute:x".parse().unwrap(),
            rule: "default".into(),
            scopes: Arc::from([]),
            audit: false,
        };
        let e = denied(&Action::call_tool("x"), &d, true, Era::Modern);
        assert_eq!((e.code, e.message.as_ref()), (codes::INVALID_PARAMS, "Unknown tool"));
        let e = denied(&Action::call_tool("x"), &d, false, Era::Modern);
        assert_eq!(e.code, codes::SECURITY_REJECTED);
        let scoped = Denial { scopes: Arc::from([Arc::from("mcp:admin")]), ..d };
        let e = denied(&Action::call_tool("x"), &scoped, true, Era::Legacy);
        assert_eq!(e.code, codes::INSUFFICIENT_SCOPE);
        assert_eq!(e.data, Some(json!({"requiredScopes": ["mcp:admin"]})));
    }
}
