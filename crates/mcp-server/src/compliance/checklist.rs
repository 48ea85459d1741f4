//! The deployment checklist as an executable check (`mcp-server security-check`).
//!
//! [`evaluate`] judges a loaded [`Config`] (and the text of its file, for literal secrets) item by
//! item: pass, warn or fail, with what was found and the config key to change. [`render_text`]
//! prints an aligned table, [`render_json`] a JSON document, and [`exit_code`] turns the result
//! into the process status (`--strict` counts warnings as failures).
//!
//! ```
//! use mcp_server::compliance::{evaluate, exit_code, Status};
//! let cfg = mcp_server::Config::parse(mcp_server::DEFAULT_CONFIG, []).unwrap();
//! let items = evaluate(&cfg, None);
//! assert!(items.iter().all(|i| i.status != Status::Fail));
//! assert_eq!(exit_code(&items, false), 0);
//! assert_eq!(exit_code(&items, true), 1); // the default warns: plain HTTP on loopback, standard policy
//! ```

use std::fmt;

use serde::Serialize;

use crate::Config;

mod controls;
mod network;
mod scan;
mod secrets;
#[cfg(test)]
mod tests;

/// Outcome of one checklist item, ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In place.
    Pass,
    /// Acceptable for some deployments; worth a look (a failure under `--strict`).
    Warn,
    /// Missing or unsafe.
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        })
    }
}

/// One judged checklist item. Details never contain secret values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckItem {
    /// Stable identifier, e.g. `tls_all_transports`.
    pub id: &'static str,
    /// Human title, e.g. `TLS on all transports`.
    pub title: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was found (and, when not passing, why it matters).
    pub detail: String,
    /// The config key to change (empty when there is nothing to set).
    pub key: String,
}

/// Collects findings for one item; the worst status wins and names the key.
pub(super) struct Judge {
    status: Status,
    key: String,
    problems: Vec<String>,
}

impl Judge {
    /// A passing item whose key is `key` unless a finding names another.
    pub(super) fn new(key: &str) -> Self {
        Self { status: Status::Pass, key: key.to_owned(), problems: Vec::new() }
    }

    /// Record a problem of `status` to fix at `key`.
    pub(super) fn flag(&mut self, status: Status, key: &str, problem: impl Into<String>) {
        if status > self.status {
            self.status = status;
            self.key = key.to_owned();
        }
        self.problems.push(problem.into());
    }

    /// The item: `ok` as detail when nothing was flagged, else the problems.
    pub(super) fn finish(self, id: &'static str, title: &'static str, ok: String) -> CheckItem {
        let detail = if self.problems.is_empty() { ok } else { self.problems.join("; ") };
        CheckItem { id, title, status: self.status, detail, key: self.key }
    }
}

/// Evaluate the deployment checklist on `cfg`. `config_text` is the text of the file `cfg` came
/// from, scanned for literal secrets; `None` means the embedded default is in force (its text is
/// scanned). Items come in a fixed order; the literal-secret scan yields one failing item per hit.
pub fn evaluate(cfg: &Config, config_text: Option<&str>) -> Vec<CheckItem> {
    let mut out = vec![
        network::tls(cfg),
        network::ciphers(cfg),
        network::certificates(cfg),
        controls::authentication(cfg),
        controls::authorization(cfg),
        secrets::at_rest(cfg),
        secrets::not_logged(),
        controls::rate_limiting(cfg),
        controls::input_validation(cfg),
        controls::audit(cfg),
        network::headers(cfg),
        network::cors(cfg),
        controls::error_messages(),
    ];
    out.extend(scan::hardcoded_secrets(config_text.unwrap_or(crate::DEFAULT_CONFIG)));
    out.push(secrets::references(cfg));
    out.push(secrets::timeouts(cfg));
    out.push(controls::gdpr(cfg));
    out.push(controls::hipaa(cfg));
    out
}

/// Scan configuration text for literal secrets without parsing it into a [`Config`] (useful when
/// the file does not load). One failing item per hit, or one passing item.
pub fn scan_config_text(config_text: &str) -> Vec<CheckItem> {
    scan::hardcoded_secrets(config_text)
}

/// Counts per status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passing items.
    pub pass: usize,
    /// Warnings.
    pub warn: usize,
    /// Failures.
    pub fail: usize,
}

/// Count the items per status.
pub fn summarize(items: &[CheckItem]) -> Summary {
    items.iter().fold(Summary::default(), |mut s, i| {
        match i.status {
            Status::Pass => s.pass += 1,
            Status::Warn => s.warn += 1,
            Status::Fail => s.fail += 1,
        }
        s
    })
}

/// An aligned table: status, title, detail, and `→ set <key>` under items that do not pass;
/// then a summary line.
pub fn render_text(items: &[CheckItem]) -> String {
    let width = items.iter().map(|i| i.title.chars().count()).max().unwrap_or(0);
    let indent = " ".repeat(4 + 2 + width + 2);
    let mut out = String::new();
    for i in items {
        out.push_str(&format!("{}  {:<width$}  {}\n", i.status, i.title, i.detail));
        if i.status != Status::Pass && !i.key.is_empty() {
            out.push_str(&format!("{indent}→ set {}\n", i.key));
        }
    }
    let s = summarize(items);
    out.push_str(&format!("{} checks: {} pass, {} warn, {} fail\n", items.len(), s.pass, s.warn, s.fail));
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    summary: Summary,
    items: &'a [CheckItem],
}

/// `{"summary": {"pass": n, "warn": n, "fail": n}, "items": [{"id", "title", "status", "detail",
/// "key"}, ...]}`, pretty-printed.
pub fn render_json(items: &[CheckItem]) -> String {
    let report = JsonReport { summary: summarize(items), items };
    // Plain strings and numbers only: serialization cannot fail.
    serde_json::to_string_pretty(&report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The process exit status: 1 when any item fails (or, with `strict`, warns), else 0.
pub fn exit_code(items: &[CheckItem], strict: bool) -> u8 {
    let bad = |i: &CheckItem| i.status == Status::Fail || (strict && i.status == Status::Warn);
    u8::from(items.iter().any(bad))
}
