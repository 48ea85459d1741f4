//! The official MCP conformance suites against the `conformance` example of `mcp-server`.
//!
//! Each suite gets a fresh server on a free loopback port, addressed as `http://localhost:PORT/mcp` (the
//! DNS-rebinding scenario only runs against `localhost`). The suite's console output goes to
//! `target/integration/conformance/<suite>/suite.log`, its per-scenario `checks.json` files to `results/` next to
//! it, and the server's log to `server.log`.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::peers::{CONFORMANCE_ALPHA, CONFORMANCE_STABLE, Peers};
use super::process::{self, Server};
use super::{Report, integration_dir};
use crate::util::Result;

/// Longest check message printed; the full text is in `results/*/checks.json`.
const MAX_MESSAGE: usize = 400;
/// Most scenario names in a FAIL line; the summary above it lists every failed check.
const MAX_LISTED: usize = 6;

/// Which installed conformance package a suite runs.
#[derive(Debug, Clone, Copy)]
enum Package {
    Stable,
    Alpha,
}

/// One run of a conformance package.
#[derive(Debug)]
struct Suite {
    /// Check name after `conformance/`, also the directory name.
    name: &'static str,
    package: Package,
    args: &'static [&'static str],
    /// 0.1.16 has no timeout of its own; the alpha's is per scenario.
    timeout: Duration,
}

const SUITES: [Suite; 4] = [
    Suite { name: "0.1.16-active", package: Package::Stable, args: &[], timeout: Duration::from_secs(300) },
    Suite {
        name: "0.1.16-all",
        package: Package::Stable,
        args: &["--suite", "all"],
        timeout: Duration::from_secs(300),
    },
    Suite {
        name: "0.2.0-alpha.12-2025-11-25",
        package: Package::Alpha,
        args: &["--requirements", "2025-11-25", "--timeout", "15000"],
        timeout: Duration::from_secs(600),
    },
    Suite {
        name: "0.2.0-alpha.12-2026-07-28",
        package: Package::Alpha,
        args: &["--requirements", "2026-07-28", "--timeout", "15000"],
        timeout: Duration::from_secs(600),
    },
];

/// A scenario's line in the suite's `=== SUMMARY ===`.
#[derive(Debug)]
struct Scenario {
    name: String,
    failed: u32,
    /// `false` for the alpha's "Not scored for `<revision>`" scenarios (pending, extensions), which do not count.
    scored: bool,
}

/// A check from a scenario's `checks.json`.
#[derive(Debug)]
struct Check {
    id: String,
    status: String,
    message: String,
}

/// Run every suite against a fresh `conformance` example server each, recording one check per suite.
pub fn run_all(peers: &Peers, example: &Path, report: &mut Report) {
    for suite in &SUITES {
        let name = format!("conformance/{}", suite.name);
        report.record(&name, run_suite(suite, peers, example));
    }
}

fn run_suite(suite: &Suite, peers: &Peers, example: &Path) -> Result {
    let dir = integration_dir().join("conformance").join(suite.name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let results = dir.join("results");
    let log = dir.join("suite.log");

    let port = process::free_port()?;
    let mut server = Server::start(
        Command::new(example).args(["--listen", &format!("127.0.0.1:{port}")]),
        port,
        &dir.join("server.log"),
    )
    .map_err(|e| format!("the conformance example did not start: {e}"))?;

    let (version, entry) = match suite.package {
        Package::Stable => (CONFORMANCE_STABLE, peers.conformance_stable()),
        Package::Alpha => (CONFORMANCE_ALPHA, peers.conformance_alpha()),
    };
    eprintln!("conformance {version} {}: running against http://localhost:{port}/mcp", suite.args.join(" "));
    let mut cmd = Command::new(peers.node());
    cmd.arg(entry).arg("server").arg("--url").arg(format!("http://localhost:{port}/mcp")).arg("-o").arg(&results);
    cmd.args(suite.args);
    let finished = process::run_logged(&mut cmd, &log, suite.timeout)?;
    let server_died = server.died();
    drop(server);

    let scenarios = parse_summary(&fs::read_to_string(&log).unwrap_or_default());
    let checks = read_checks(&results);
    print_summary(suite, &scenarios, &checks, finished.elapsed, &dir);

    verdict(&scenarios, finished.describe_failure(suite.timeout), server_died, &log)
}

/// Pass when the summary lists no failing scored scenario and the suite exited with 0.
fn verdict(scenarios: &[Scenario], exit_failure: Option<String>, server_died: Option<String>, log: &Path) -> Result {
    let died = server_died.map(|d| format!("; {d}")).unwrap_or_default();
    if scenarios.is_empty() {
        let why = exit_failure.unwrap_or_else(|| "exit status: 0".into());
        return Err(format!("the suite ended ({why}) without a summary{}{died}", process::log_hint(log)));
    }
    let failing: Vec<&str> = scenarios.iter().filter(|s| s.scored && s.failed > 0).map(|s| s.name.as_str()).collect();
    if !failing.is_empty() {
        let total = scenarios.iter().filter(|s| s.scored).count();
        return Err(format!("{} of {total} scenarios failed: {}{died}", failing.len(), list(&failing)));
    }
    match exit_failure {
        Some(why) => Err(format!("the suite ended ({why}) although every scenario passed{}", process::log_hint(log))),
        None => Ok(()),
    }
}

/// The scenarios of the `=== SUMMARY ===` block (`✓ name: 1 passed, 0 failed`), with the alpha's
/// "Not scored for `<revision>`:" list (`  ✗ name (pending)`) marking the scenarios that do not count.
fn parse_summary(output: &str) -> Vec<Scenario> {
    let Some((_, summary)) = output.split_once("=== SUMMARY ===") else { return Vec::new() };
    let mut scenarios: Vec<Scenario> = summary.lines().filter_map(parse_summary_line).collect();
    if let Some((_, not_scored)) = summary.split_once("Not scored for") {
        for line in not_scored.lines().skip(1) {
            let name = line.trim().trim_start_matches(['✓', '✗']).trim().split(' ').next().unwrap_or_default();
            scenarios.iter_mut().filter(|s| s.name == name).for_each(|s| s.scored = false);
        }
    }
    scenarios
}

/// `✗ tools-call-image: 1 passed, 1 failed` → the scenario.
fn parse_summary_line(line: &str) -> Option<Scenario> {
    let rest = line.strip_prefix("✓ ").or_else(|| line.strip_prefix("✗ "))?;
    let (name, counts) = rest.rsplit_once(": ")?;
    let (_passed, failed) = counts.split_once(" passed, ")?;
    let failed = failed.strip_suffix(" failed")?.parse().ok()?;
    Some(Scenario { name: name.to_string(), failed, scored: true })
}

/// The checks of every `results/server-<scenario>-<timestamp>/checks.json`, by scenario.
fn read_checks(results: &Path) -> BTreeMap<String, Vec<Check>> {
    let mut by_scenario = BTreeMap::new();
    let Ok(entries) = fs::read_dir(results) else { return by_scenario };
    for dir in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
        let Some(scenario) = dir.file_name().and_then(|n| n.to_str()).and_then(scenario_of_dir) else { continue };
        let checks = fs::read_to_string(dir.join("checks.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<Vec<Value>>(&text).ok())
            .unwrap_or_default();
        by_scenario.insert(scenario, checks.iter().map(check_of).collect());
    }
    by_scenario
}

/// `server-tools-call-image-2026-11-28T07-23-09-634Z` → `tools-call-image`.
fn scenario_of_dir(name: &str) -> Option<String> {
    let rest = name.strip_prefix("server-")?;
    let parts: Vec<&str> = rest.rsplitn(7, '-').collect();
    (parts.len() == 7 && parts[0].ends_with('Z')).then(|| parts[6].to_string())
}

fn check_of(v: &Value) -> Check {
    let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    Check { id: text("id"), status: text("status"), message: text("errorMessage") }
}

/// The suite's summary line, then every failed check of a failing scored scenario; unscored failures by name.
fn print_summary(
    suite: &Suite,
    scenarios: &[Scenario],
    checks: &BTreeMap<String, Vec<Check>>,
    elapsed: Duration,
    dir: &Path,
) {
    let scored: Vec<&Scenario> = scenarios.iter().filter(|s| s.scored).collect();
    let failed = scored.iter().filter(|s| s.failed > 0).count();
    let warnings = checks.values().flatten().filter(|c| c.status == "WARNING").count();
    let unscored: Vec<&Scenario> = scenarios.iter().filter(|s| !s.scored).collect();
    let unscored_failing: Vec<&str> = unscored.iter().filter(|s| s.failed > 0).map(|s| s.name.as_str()).collect();
    let mut line = format!(
        "conformance/{}: {} scenarios, {} passed, {failed} failed, {warnings} warnings ({:.1} s)",
        suite.name,
        scored.len(),
        scored.len() - failed,
        elapsed.as_secs_f64()
    );
    if !unscored.is_empty() {
        line += &format!("; not scored: {} run, {} failing", unscored.len(), unscored_failing.len());
    }
    println!("{line}");
    for scenario in scored.iter().filter(|s| s.failed > 0) {
        let failures: Vec<&Check> =
            checks.get(&scenario.name).into_iter().flatten().filter(|c| c.status == "FAILURE").collect();
        if failures.is_empty() {
            println!("    ✗ {}: failed without a FAILURE check in checks.json", scenario.name);
        }
        for check in failures {
            println!("    ✗ {} / {}: {}", scenario.name, check.id, shorten(&check.message));
        }
    }
    if !unscored_failing.is_empty() {
        println!("    (not scored, ignored) failing: {}", unscored_failing.join(", "));
    }
    if failed > 0 || !unscored_failing.is_empty() {
        println!("    details: {}", dir.join("results").display());
    }
}

/// `a, b, c` with at most `MAX_LISTED` names.
fn list(names: &[&str]) -> String {
    match names.len().checked_sub(MAX_LISTED) {
        None | Some(0) => names.join(", "),
        Some(more) => format!("{}, and {more} more", names[..MAX_LISTED].join(", ")),
    }
}

/// One line of at most `MAX_MESSAGE` characters.
fn shorten(message: &str) -> String {
    let flat = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_MESSAGE {
        return flat;
    }
    flat.chars().take(MAX_MESSAGE).collect::<String>() + "…"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_with_not_scored() {
        let out = "noise\n=== SUMMARY ===\n✓ ping: 1 passed, 0 failed\n✗ tools-list: 2 passed, 1 failed\n\
                   ✗ json-schema-2020-12: 1 passed, 1 failed\nTotal: 4 passed, 2 failed\n\
                   Not scored for 2026-07-28: 1 scenario(s) run, 1 failing. These do not affect conformance.\n\
                   \x20 ✗ json-schema-2020-12 (pending)\n";
        let s = parse_summary(out);
        assert_eq!(s.len(), 3);
        assert!(s[0].scored && s[0].failed == 0);
        assert!(s[1].scored && s[1].failed == 1);
        assert!(!s[2].scored);
    }

    #[test]
    fn scenario_dir_names() {
        assert_eq!(
            scenario_of_dir("server-tools-call-image-2026-11-28T07-23-09-634Z").as_deref(),
            Some("tools-call-image")
        );
        assert_eq!(scenario_of_dir("server-ping-2026-11-28T07-23-09-516Z").as_deref(), Some("ping"));
        assert_eq!(scenario_of_dir("client-x"), None);
    }
}
