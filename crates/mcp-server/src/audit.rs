//! Building the audit record of one request.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_core::AuditRecord;
use mcp_core::traits::AuditSink;

use crate::dispatch::{Call, Outcome};

/// The record for `call`, answered with `outcome` after `latency`.
pub(crate) fn record(
    sink: &dyn AuditSink,
    call: &Call,
    at: SystemTime,
    latency: Duration,
    outcome: &Outcome,
) -> AuditRecord {
    let target = match &*call.method {
        "tools/call" | "prompts/get" => call.params.get("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => call.params.get("uri"),
        _ => None,
    }
    .and_then(serde_json::Value::as_str)
    .map(Arc::<str>::from);
    AuditRecord {
        at,
        request_id: call.id.as_ref().map(request_id_text),
        principal: call.principal.id.clone(),
        auth_method: call.principal.method,
        peer: call.peer,
        method: Arc::from(&*call.method),
        target,
        params_hash: sink.params_hash(&call.params),
        outcome: call.verdict.outcome(outcome),
        error_code: outcome.as_ref().err().map(|e| e.code),
        latency,
        always: call.verdict.forced(),
    }
}

fn request_id_text(id: &mcp_protocol::RequestId) -> Arc<str> {
    match id {
        mcp_protocol::RequestId::Number(n) => Arc::from(n.to_string()),
        mcp_protocol::RequestId::String(s) => Arc::from(s.as_str()),
    }
}
