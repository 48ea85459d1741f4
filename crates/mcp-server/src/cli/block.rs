//! `mcp-server block list|add|remove`: the block list the running server reloads (the block
//! file, or Redis when the rate limiter uses it).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_monitor::{BlockEntry, BlockStore, BlockTarget};
use mcp_server::{Config, ServerError};

fn store(cfg: &Config) -> Result<Arc<dyn BlockStore>, ServerError> {
    mcp_server::block_store(cfg).map(|(s, _, _)| s)
}

fn target(t: &str) -> Result<BlockTarget, ServerError> {
    t.parse().map_err(|e| ServerError::Config(format!("{t:?}: {e} (write ip:ADDRESS or client:ID)")))
}

fn err(e: mcp_monitor::MonitorError) -> ServerError {
    ServerError::Config(format!("block list: {e}"))
}

/// Print the active blocks.
pub fn list(cfg: &Config) -> Result<(), ServerError> {
    let now = SystemTime::now();
    let (store, name, _) = mcp_server::block_store(cfg)?;
    let entries = store.list(now).map_err(err)?;
    if entries.is_empty() {
        println!("no active blocks ({name})");
    }
    for e in entries {
        let left = e.until.duration_since(now).unwrap_or_default().as_secs();
        println!("{}\t{left}s left\t{:?}\t{}", e.target, e.origin, e.reason);
    }
    Ok(())
}

/// Block `target` for `secs` seconds.
pub fn add(cfg: &Config, t: &str, secs: u64, reason: &str) -> Result<(), ServerError> {
    let entry = BlockEntry::manual(target(t)?, Duration::from_secs(secs), reason, SystemTime::now()).map_err(err)?;
    store(cfg)?.add(entry).map_err(err)?;
    println!("blocked {t} for {secs}s; a running server picks this up within its reload interval");
    Ok(())
}

/// Lift the block on `target`.
pub fn remove(cfg: &Config, t: &str) -> Result<(), ServerError> {
    if store(cfg)?.remove(&target(t)?).map_err(err)? {
        println!("unblocked {t}");
        Ok(())
    } else {
        Err(ServerError::Config(format!("{t} is not blocked: see `mcp-server block list`")))
    }
}
