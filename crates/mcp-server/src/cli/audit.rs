//! `mcp-server audit verify` and `mcp-server gdpr purge|erase|export`.

use std::path::PathBuf;
use std::time::SystemTime;

use mcp_server::{Config, ServerError};

use super::progress::Line;

fn fail(what: &str, e: mcp_audit::AuditError) -> ServerError {
    ServerError::Config(format!("{what}: {e}"))
}

/// Verify the chain of `files` (default: every file of the configured log). Exits non-zero on
/// the first broken, removed, reordered or truncated record.
pub fn verify(cfg: &Config, files: Vec<PathBuf>) -> Result<(), ServerError> {
    let (keys, active) = mcp_server::audit_key_ring(cfg, false)?;
    let files =
        if files.is_empty() { mcp_audit::log_files(&active).map_err(|e| fail("audit verify", e))? } else { files };
    if files.is_empty() {
        return Err(ServerError::Config(format!(
            "no audit log at {}: pass the files to check, or --config with the server's [audit_log]",
            active.display()
        )));
    }
    let mut line = Line::new("verifying");
    let report = mcp_audit::verify_with_keys(&files, &keys, &mut |p| line.update(p.records, p.bytes, p.total_bytes));
    drop(line);
    match report {
        Ok(r) => {
            let torn = r
                .torn_tail_bytes
                .map(|b| {
                    format!(", incomplete last record ({b} bytes, cut off by a crash, never acknowledged) left out")
                })
                .unwrap_or_default();
            println!(
                "audit log OK: {} records in {} files ({} erased{}{}{torn})",
                r.records,
                r.files.len(),
                r.erased,
                if r.clean_shutdown { ", closed cleanly" } else { "" },
                if r.in_progress { ", still being written" } else { "" },
            );
            Ok(())
        }
        Err(mcp_audit::AuditError::Tampered(f)) => {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(mcp_server::compliance::report_breach(cfg, "the audit log chain is broken"));
            }
            Err(ServerError::Config(format!("audit log verification FAILED: {f} (keep the files for investigation)")))
        }
        Err(e) => Err(fail("audit verify", e)),
    }
}

/// Remove rotated audit files older than `days` (default `[gdpr] data_retention_days`).
pub fn purge(cfg: &Config, days: u32) -> Result<(), ServerError> {
    let (key, active) = mcp_server::audit_paths(cfg, false)?;
    let mut line = Line::new("purging");
    let r = mcp_audit::purge_older_than(&active, &key, days, SystemTime::now(), &mut |p| {
        line.update(p.records, p.bytes, p.total_bytes)
    });
    drop(line);
    let r = r.map_err(|e| fail("gdpr purge (stop the server first)", e))?;
    println!(
        "purged {} files ({} records, {} bytes) older than {days} days; the purge is recorded in the log",
        r.files_removed.len(),
        r.records_removed,
        r.bytes_removed
    );
    Ok(())
}

/// Erase every audit record of `client`; the chain stays verifiable.
pub fn erase(cfg: &Config, client: &str) -> Result<(), ServerError> {
    let (key, active) = mcp_server::audit_paths(cfg, false)?;
    let mut line = Line::new("erasing");
    let r = mcp_audit::erase_client(&active, client, &key, SystemTime::now(), &mut |p| {
        line.update(p.records, p.bytes, p.total_bytes)
    });
    drop(line);
    let r = r.map_err(|e| fail("gdpr erase (stop the server first)", e))?;
    let blocks = erase_blocks(cfg, client)?;
    let consents = consent_store(cfg)?.erase(client)?;
    println!(
        "erased {} audit records in {} of {} files, {consents} consent records{}; the erasure is recorded without the client id",
        r.records_erased,
        r.files_rewritten,
        r.files_scanned,
        if blocks { " and the client's block entry" } else { "" }
    );
    Ok(())
}

/// Remove the client's entry from the block list (personal data the server keeps): the block
/// file, or Redis when the block list is shared there.
fn erase_blocks(cfg: &Config, client: &str) -> Result<bool, ServerError> {
    let (store, _, _) = mcp_server::block_store(cfg)?;
    let fail = |e: mcp_monitor::MonitorError| ServerError::Config(format!("gdpr erase: block list: {e}"));
    let target = mcp_monitor::BlockTarget::client(client).map_err(fail)?;
    // Only write when there is something to remove (a missing block file stays missing).
    if !store.load().map_err(fail)?.iter().any(|e| e.target == target) {
        return Ok(false);
    }
    store.remove(&target).map_err(fail)
}

/// Print every audit record about `client` as one JSON document.
pub fn export(cfg: &Config, client: &str, out: Option<PathBuf>) -> Result<(), ServerError> {
    let (_key, active) = mcp_server::audit_paths(cfg, false)?;
    let mut line = Line::new("exporting");
    let doc = mcp_audit::export_client(&active, client, SystemTime::now(), &mut |p| {
        line.update(p.records, p.bytes, p.total_bytes)
    });
    drop(line);
    let mut doc = doc.map_err(|e| fail("gdpr export", e))?;
    let consent = consent_store(cfg)?.records_of(client)?;
    if let serde_json::Value::Object(m) = &mut doc {
        m.insert("consent".into(), serde_json::to_value(consent).unwrap_or_default());
    }
    let text = serde_json::to_string_pretty(&doc).map_err(|e| ServerError::Config(format!("gdpr export: {e}")))?;
    match out {
        Some(path) => std::fs::write(&path, text + "\n")
            .map_err(|e| ServerError::Config(format!("cannot write {}: {e}", path.display())))?,
        None => println!("{text}"),
    }
    Ok(())
}

fn consent_store(cfg: &Config) -> Result<std::sync::Arc<mcp_server::compliance::ConsentStore>, ServerError> {
    mcp_server::compliance::ConsentStore::open(mcp_server::consent_file(cfg))
}

/// Record that `client` gives (or withdraws) consent for `purpose`.
pub fn consent(cfg: &Config, client: &str, purpose: &str, given: bool, by: &str) -> Result<(), ServerError> {
    let r = consent_store(cfg)?.set(client, purpose, given, by)?;
    println!(
        "{} consent of {client:?} for {purpose:?} recorded by {by:?}; a running server applies it within a second",
        if r.given { "gave" } else { "withdrew" }
    );
    Ok(())
}

/// Print a client's consent history.
pub fn consent_list(cfg: &Config, client: &str) -> Result<(), ServerError> {
    for r in consent_store(cfg)?.records_of(client)? {
        println!("{}\t{}\t{}\tby {}", r.at_ms, r.purpose, if r.given { "given" } else { "withdrawn" }, r.by);
    }
    Ok(())
}
