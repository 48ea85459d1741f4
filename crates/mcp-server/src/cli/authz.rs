//! `mcp-server authz explain`: the decision for a caller and an action, with the rule chain.

use std::sync::Arc;

use mcp_core::{AuthMethod, Principal};
use mcp_server::{Config, ServerError};
use serde_json::Value;

/// Who to explain for.
#[derive(Debug, Default)]
pub struct Caller {
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub scopes: Vec<String>,
    pub api_key_id: Option<String>,
    pub claims: Option<String>,
}

/// Explain `call` (`tools/call:NAME`, `resources/read:URI`, ...) for `caller` against the
/// policy the server would run with `cfg` (config rules plus the demo's code rules).
pub fn explain(cfg: &Config, server: &mcp_server::McpServer, caller: Caller, call: &str) -> Result<bool, ServerError> {
    let policy = server.authorization_policy().ok_or_else(|| {
        ServerError::Config("this configuration runs without the built-in authorization policy".into())
    })?;
    let action = mcp_authz::parse_call(call).map_err(|e| ServerError::Config(format!("--call {call}: {e}")))?;
    let principal = principal(cfg, caller)?;
    let e = policy.explain(&principal, &action);
    print!("{e}");
    Ok(e.allowed)
}

fn principal(cfg: &Config, c: Caller) -> Result<Principal, ServerError> {
    let method = if !c.scopes.is_empty() { AuthMethod::OAuth } else { AuthMethod::ApiKey };
    let mut p = Principal::new("explain", method);
    if let Some(id) = &c.api_key_id {
        let key = cfg
            .auth
            .as_ref()
            .and_then(|a| a.api_keys.as_ref())
            .and_then(|k| k.keys.iter().find(|k| &k.id == id))
            .ok_or_else(|| {
                ServerError::Config(format!("--api-key-id {id}: no [[auth.api_keys.keys]] entry has that id"))
            })?;
        p = Principal::new(key.id.clone(), AuthMethod::ApiKey);
        add(&mut p, &key.roles, &key.permissions, &[])?;
    }
    if let Some(json) = &c.claims {
        let claims: Value =
            serde_json::from_str(json).map_err(|e| ServerError::Config(format!("--claims is not JSON: {e}")))?;
        p = Principal::new(claims.get("sub").and_then(Value::as_str).unwrap_or("explain"), AuthMethod::Jwt);
        let list = |v: Option<&Value>| -> Vec<String> {
            match v {
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
                _ => Vec::new(),
            }
        };
        let scopes = [list(claims.get("scope")), list(claims.get("scp"))].concat();
        if !scopes.is_empty() {
            p.method = AuthMethod::OAuth;
        }
        add(&mut p, &list(claims.get("roles")), &list(claims.get("permissions")), &scopes)?;
    }
    add(&mut p, &c.roles, &c.permissions, &c.scopes)?;
    Ok(p)
}

fn add(p: &mut Principal, roles: &[String], perms: &[String], scopes: &[String]) -> Result<(), ServerError> {
    p.roles.extend(roles.iter().map(|r| Arc::from(r.as_str())));
    p.scopes.extend(scopes.iter().map(|s| Arc::from(s.as_str())));
    for perm in perms {
        p.permissions.insert(perm.parse().map_err(|e| ServerError::Config(format!("{e}")))?);
    }
    Ok(())
}
