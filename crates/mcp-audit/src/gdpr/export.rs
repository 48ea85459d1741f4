//! Export: every record of one client as one JSON document (`mcp-audit-export/1`).
//!
//! ```json
//! {
//!   "format": "mcp-audit-export/1",
//!   "generated_at": "2026-01-02T03:04:05.678Z",
//!   "subject": { "client_id": "client-1" },
//!   "record_count": 1,
//!   "records": [
//!     { "file": "audit.log", "seq": 12, "ts": "2026-01-02T03:00:00.000Z", "type": "tool_execute",
//!       "fields": { "client_id": "client-1", "method": "tools/call", "target": "calculate",
//!                   "result": "ok", "latency_us": 850, "...": "..." } }
//!   ]
//! }
//! ```
//!
//! `fields` holds the record body without its salt. Erased records are not exported (they no
//! longer hold anything about the subject).

use std::path::Path;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::error::AuditError;
use crate::files::LogPaths;
use crate::line::{json_str, parse};
use crate::reader::{Lines, Meter, Progress};
use crate::util::rfc3339_millis;

/// The `format` of an export document.
pub const EXPORT_FORMAT: &str = "mcp-audit-export/1";

/// Every record of `client_id` in the log whose active file is `active`, as one JSON document
/// (schema above). Reads only: safe while a server writes (an incomplete last line is skipped).
pub fn export_client(
    active: &Path,
    client_id: &str,
    now: SystemTime,
    progress: &mut dyn FnMut(Progress),
) -> Result<Value, AuditError> {
    let files = LogPaths::new(active)?.all_files()?;
    let mut needle = b"\"client_id\":".to_vec();
    json_str(client_id, &mut needle);
    let mut meter = Meter::new(&files, progress);
    let mut records = Vec::new();
    for path in &files {
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut lines = Lines::open(path)?;
        while let Some(raw) = lines.next_line()? {
            meter.line(raw.len);
            let Ok(text) = raw.text else {
                return Err(AuditError::corrupt(path, raw.number, "not UTF-8"));
            };
            if !raw.terminated || !text.as_bytes().windows(needle.len()).any(|w| w == needle.as_slice()) {
                continue;
            }
            let parsed = parse(&text).map_err(|e| AuditError::corrupt(path, raw.number, e))?;
            let Some(body) = parsed.line.body else { continue };
            let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(body.get()) else {
                return Err(AuditError::corrupt(path, raw.number, "record body is not an object"));
            };
            if fields.get("client_id").and_then(Value::as_str) != Some(client_id) {
                continue;
            }
            fields.remove("salt");
            let mut rec = Map::new();
            rec.insert("file".into(), Value::String(file_name.clone()));
            rec.insert("seq".into(), Value::from(parsed.line.seq));
            if let Some(ts) = &parsed.line.ts {
                rec.insert("ts".into(), Value::String(ts.to_string()));
            }
            rec.insert("type".into(), Value::String(parsed.line.kind.to_string()));
            rec.insert("fields".into(), Value::Object(fields));
            records.push(Value::Object(rec));
        }
        meter.report();
    }
    Ok(json!({
        "format": EXPORT_FORMAT,
        "generated_at": rfc3339_millis(now),
        "subject": { "client_id": client_id },
        "record_count": records.len(),
        "records": records,
    }))
}
