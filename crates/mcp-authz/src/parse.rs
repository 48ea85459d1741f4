//! `tools/call:restart_server`-style call descriptions, for `mcp-server authz explain`.

use mcp_core::Action;

use crate::error::{AuthzError, truncated};

/// Parse `METHOD` or `METHOD:TARGET` into an [`Action`]. The target is everything after the first
/// `:` (URIs keep their own colons).
///
/// | input | action |
/// |---|---|
/// | `tools/list` | [`Action::ListTools`] |
/// | `tools/call:NAME` | [`Action::CallTool`] |
/// | `resources/list`, `resources/templates/list` | [`Action::ListResources`] |
/// | `resources/read:URI` | [`Action::ReadResource`] |
/// | `resources/subscribe:URI` | [`Action::SubscribeResource`] |
/// | `prompts/list` | [`Action::ListPrompts`] |
/// | `prompts/get:NAME` | [`Action::GetPrompt`] |
/// | `completion/complete:ref/prompt:NAME` (or `prompt:NAME`) | [`Action::CompletePrompt`] |
/// | `completion/complete:ref/resource:URI` (or `resource:URI`) | [`Action::CompleteResource`] |
/// | `logging/setLevel` | [`Action::SetLogLevel`] |
/// | `metrics` | [`Action::ReadMetrics`] |
///
/// ```
/// use mcp_core::Action;
/// assert_eq!(mcp_authz::parse_call("tools/call:restart_server")?, Action::call_tool("restart_server"));
/// assert_eq!(mcp_authz::parse_call("resources/read:mcp://x")?, Action::ReadResource("mcp://x".into()));
/// assert!(mcp_authz::parse_call("tools/call").is_err());
/// # Ok::<(), mcp_authz::AuthzError>(())
/// ```
pub fn parse_call(call: &str) -> Result<Action, AuthzError> {
    let err = |reason| AuthzError::InvalidCall { input: truncated(call), reason };
    let call = call.trim();
    let (method, target) = match call.split_once(':') {
        Some((m, t)) => (m, Some(t)),
        None => (call, None),
    };
    let needs = |t: Option<&str>| match t {
        Some(t) if !t.is_empty() => Ok(t.into()),
        _ => Err(err("this method needs a target after ':'")),
    };
    let none = |action: Action| if target.is_some() { Err(err("this method takes no target")) } else { Ok(action) };
    match method {
        "tools/list" => none(Action::ListTools),
        "tools/call" => Ok(Action::CallTool(needs(target)?)),
        "resources/list" | "resources/templates/list" => none(Action::ListResources),
        "resources/read" => Ok(Action::ReadResource(needs(target)?)),
        "resources/subscribe" => Ok(Action::SubscribeResource(needs(target)?)),
        "prompts/list" => none(Action::ListPrompts),
        "prompts/get" => Ok(Action::GetPrompt(needs(target)?)),
        "completion/complete" => {
            let t = target.unwrap_or_default();
            let t = t.strip_prefix("ref/").unwrap_or(t);
            if let Some(name) = t.strip_prefix("prompt:") {
                Ok(Action::CompletePrompt(needs(Some(name))?))
            } else if let Some(uri) = t.strip_prefix("resource:") {
                Ok(Action::CompleteResource(needs(Some(uri))?))
            } else {
                Err(err("use completion/complete:ref/prompt:NAME or completion/complete:ref/resource:URI"))
            }
        }
        "logging/setLevel" => none(Action::SetLogLevel),
        "metrics" => none(Action::ReadMetrics),
        _ => Err(err("unknown method")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_kind_parses() {
        let cases = [
            ("tools/list", Action::ListTools),
            ("tools/call:a:b", Action::call_tool("a:b")),
            ("resources/templates/list", Action::ListResources),
            ("resources/subscribe:file:///x", Action::SubscribeResource("file:///x".into())),
            ("prompts/list", Action::ListPrompts),
            ("prompts/get:greet", Action::GetPrompt("greet".into())),
            ("completion/complete:ref/prompt:greet", Action::CompletePrompt("greet".into())),
            ("completion/complete:resource:mcp://t/{id}", Action::CompleteResource("mcp://t/{id}".into())),
            ("logging/setLevel", Action::SetLogLevel),
            (" metrics ", Action::ReadMetrics),
        ];
        for (input, want) in cases {
            assert_eq!(parse_call(input).expect(input), want, "{input}");
        }
    }

    #[test]
    fn malformed_calls_are_refused() {
        for bad in ["", "tools/call:", "tools/list:x", "tools/run:x", "completion/complete:x", "prompts/get"] {
            let e = parse_call(bad).expect_err(bad);
            assert_eq!(e.kind(), mcp_core::ErrorKind::InvalidRequest);
        }
    }
}
