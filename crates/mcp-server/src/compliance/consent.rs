//! GDPR consent records: per client and purpose, given or withdrawn, when and by whom. Kept in
//! `<data_dir>/consent.json` (0600, atomic replace); the CLI edits it and a running server
//! re-reads it when it changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::ServerError;

/// One consent change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The client (principal id).
    pub client: String,
    /// What the consent is for (`analytics`, `phi_processing`, ...).
    pub purpose: String,
    /// Given (true) or withdrawn (false).
    pub given: bool,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Who recorded it (operator name, system).
    pub by: String,
}

/// The consent file: every change, oldest first; the last one per (client, purpose) holds.
#[derive(Debug)]
pub struct ConsentStore {
    path: PathBuf,
    state: RwLock<Loaded>,
}

#[derive(Debug, Default)]
struct Loaded {
    current: BTreeMap<(String, String), bool>,
    modified: Option<SystemTime>,
    checked: Option<Instant>,
}

impl ConsentStore {
    /// The store at `path` (created on first write).
    pub fn open(path: impl Into<PathBuf>) -> Result<Arc<Self>, ServerError> {
        let store = Arc::new(Self { path: path.into(), state: RwLock::new(Loaded::default()) });
        store.reload()?;
        Ok(store)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every record, oldest first.
    pub fn records(&self) -> Result<Vec<ConsentRecord>, ServerError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                ServerError::Config(format!("{} is damaged ({e}): restore it from a backup", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(ServerError::Config(format!("cannot read {}: {e}", self.path.display()))),
        }
    }

    /// The records of one client.
    pub fn records_of(&self, client: &str) -> Result<Vec<ConsentRecord>, ServerError> {
        Ok(self.records()?.into_iter().filter(|r| r.client == client).collect())
    }

    /// Record a consent change.
    pub fn set(&self, client: &str, purpose: &str, given: bool, by: &str) -> Result<ConsentRecord, ServerError> {
        if client.is_empty() || purpose.is_empty() || purpose.len() > 128 {
            return Err(ServerError::Config("consent needs a client id and a purpose of 1-128 characters".into()));
        }
        let at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let rec = ConsentRecord { client: client.into(), purpose: purpose.into(), given, at_ms, by: by.into() };
        let mut all = self.records()?;
        all.push(rec.clone());
        self.write(&all)?;
        self.reload()?;
        Ok(rec)
    }

    /// Remove every record of `client` (right to deletion); returns how many were removed.
    pub fn erase(&self, client: &str) -> Result<usize, ServerError> {
        let all = self.records()?;
        let before = all.len();
        let kept: Vec<_> = all.into_iter().filter(|r| r.client != client).collect();
        let removed = before - kept.len();
        if removed > 0 {
            self.write(&kept)?;
            self.reload()?;
        }
        Ok(removed)
    }

    /// True when `client` currently consents to `purpose`. Re-reads the file when it changed
    /// (checked at most once a second).
    pub fn has(&self, client: &str, purpose: &str) -> bool {
        let stale = self.state.read().map(|s| s.checked.is_none_or(|t| t.elapsed() > Duration::from_secs(1)));
        if stale.unwrap_or(true)
            && let Err(e) = self.reload()
        {
            tracing::error!(error = %e, "consent file unreadable: treating every consent as missing");
            return false;
        }
        let key = (client.to_owned(), purpose.to_owned());
        self.state.read().map(|s| s.current.get(&key).copied().unwrap_or(false)).unwrap_or(false)
    }

    fn reload(&self) -> Result<(), ServerError> {
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        let unchanged = self.state.read().map(|s| s.modified == modified && s.checked.is_some()).unwrap_or(false);
        if unchanged {
            if let Ok(mut s) = self.state.write() {
                s.checked = Some(Instant::now());
            }
            return Ok(());
        }
        let mut current = BTreeMap::new();
        for r in self.records()? {
            current.insert((r.client, r.purpose), r.given);
        }
        if let Ok(mut s) = self.state.write() {
            *s = Loaded { current, modified, checked: Some(Instant::now()) };
        }
        Ok(())
    }

    fn write(&self, all: &[ConsentRecord]) -> Result<(), ServerError> {
        let fail = |e: std::io::Error| ServerError::Config(format!("cannot write {}: {e}", self.path.display()));
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let text = serde_json::to_vec_pretty(all).map_err(|e| ServerError::Config(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(fail)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
            }
            f.write_all(&text).map_err(fail)?;
            f.sync_all().map_err(fail)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(fail)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_change_wins_and_erase_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let s = ConsentStore::open(dir.path().join("consent.json")).unwrap();
        assert!(!s.has("alice", "analytics"));
        s.set("alice", "analytics", true, "ops").unwrap();
        s.set("bob", "analytics", true, "ops").unwrap();
        assert!(s.has("alice", "analytics") && !s.has("alice", "marketing"));
        s.set("alice", "analytics", false, "alice").unwrap();
        assert!(!s.has("alice", "analytics"));
        assert_eq!(s.records_of("alice").unwrap().len(), 2);
        assert_eq!(s.erase("alice").unwrap(), 2);
        assert!(s.records_of("alice").unwrap().is_empty() && s.has("bob", "analytics"));
        // Another process (the CLI) edits the file: a second store sees it.
        let other = ConsentStore::open(dir.path().join("consent.json")).unwrap();
        assert!(other.has("bob", "analytics"));
    }
}
