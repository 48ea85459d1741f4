//! `cargo xtask integration [--only conformance|clients|auth]`: real peers against the real server.
//!
//! 1. Installs the peers into `target/peers` (once; see [`peers`]).
//! 2. Builds `mcp-server` and its `conformance` example in the release profile.
//! 3. Runs the official conformance suites against the example ([`conformance`]), real SDK clients against the
//!    `mcp-server` binary ([`clients`]), and authentication end to end: OAuth with a real issuer, JWT, mTLS ([`auth`]).
//!
//! 4. Searches every log, audit file, client output and suite result of the run for the known secret values its
//!    servers used ([`canary`]): one hit fails the run.
//!
//! Prints `PASS name` / `FAIL name (reason)` per check and ends with `integration: N passed, M failed`. Logs and
//! suite results are kept in `target/integration/`. Every server binds 127.0.0.1 and every child is killed at the end.

mod auth;
mod canary;
mod clients;
mod conformance;
mod peers;
mod process;

use std::path::PathBuf;
use std::time::Instant;

use crate::util::{self, Result};

const USAGE: &str = "usage: cargo xtask integration [--only conformance|clients|auth]";

/// Which groups of checks to run.
#[derive(Debug, Clone, Copy)]
struct Selection {
    conformance: bool,
    clients: bool,
    auth: bool,
}

/// The pass/fail tally, printed as it goes.
#[derive(Debug, Default)]
struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    fn record(&mut self, name: &str, result: Result) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("PASS {name}");
            }
            Err(reason) => {
                self.failed += 1;
                println!("FAIL {name} ({reason})");
            }
        }
    }

    fn finish(self) -> Result {
        println!("integration: {} passed, {} failed", self.passed, self.failed);
        if self.failed == 0 {
            Ok(())
        } else {
            Err(format!(
                "{} check(s) failed; logs and suite results are in {}",
                self.failed,
                integration_dir().display()
            ))
        }
    }
}

pub fn run(args: &[String]) -> Result {
    let selection = parse_args(args)?;
    let start = Instant::now();
    let peers = peers::install()?;
    eprintln!("integration: peers ready after {:.1} s", start.elapsed().as_secs_f64());
    build()?;
    let release = release_dir();
    let mut report = Report::default();
    let mut canary = canary::Canary::new();
    if selection.conformance {
        conformance::run_all(&peers, &release.join("examples/conformance"), &mut report);
    }
    if selection.clients {
        clients::run_all(&peers, &release.join("mcp-server"), &mut report, &mut canary);
    }
    if selection.auth {
        auth::run_all(&peers, &release.join("mcp-server"), &mut report, &mut canary);
    }
    report.record("canary/no-secret-in-logs-audit-or-responses", canary.check(&integration_dir()));
    eprintln!("integration: done in {:.1} s", start.elapsed().as_secs_f64());
    report.finish()
}

fn parse_args(args: &[String]) -> Result<Selection> {
    let only = match args {
        [] => None,
        [flag, what] if flag == "--only" => Some(what.as_str()),
        [flag] => flag.strip_prefix("--only="),
        _ => None,
    };
    match (args.is_empty(), only) {
        (true, _) => Ok(Selection { conformance: true, clients: true, auth: true }),
        (_, Some("conformance")) => Ok(Selection { conformance: true, clients: false, auth: false }),
        (_, Some("clients")) => Ok(Selection { conformance: false, clients: true, auth: false }),
        (_, Some("auth")) => Ok(Selection { conformance: false, clients: false, auth: true }),
        _ => Err(format!("unexpected arguments {args:?}\n{USAGE}")),
    }
}

/// One release build of the server and the conformance example (both always, so that consecutive runs share one
/// feature resolution and nothing is rebuilt).
fn build() -> Result {
    let mut cmd = util::cargo();
    cmd.args(["build", "--release", "-p", "mcp-server", "--bin", "mcp-server", "--example", "conformance"]);
    util::run(&mut cmd).map_err(|e| format!("{e}; fix the build, then rerun"))
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `<root>/target`).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => util::root().join(dir),
        None => util::root().join("target"),
    }
}

fn release_dir() -> PathBuf {
    target_dir().join("release")
}

/// Logs and results of the run.
fn integration_dir() -> PathBuf {
    target_dir().join("integration")
}
