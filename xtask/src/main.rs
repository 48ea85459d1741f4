//! `cargo xtask <command>`: project automation. One module per command.
//!
//! - `ci`: the rule book (fmt, clippy -D warnings, tests, docs, tidy, integration).
//! - `test`: the workspace tests (release profile, shared with the integration suite).
//! - `integration`: real peers against the real server (conformance suites, SDK clients).
//! - `bench`: load benchmark against a bare hyper ceiling.

mod bench;
mod integration;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match cmd {
        "test" => util::cargo_test(),
        "integration" => integration::run(rest),
        "bench" => bench::run(rest),
        "ci" => util::ci(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <test|integration|bench|ci> [options]\n\n  test         workspace tests (release profile)\n  integration  conformance suites and real SDK clients against the server\n  bench        load benchmark (see docs/benchmarks.md)\n  ci           fmt, clippy, tests, docs, integration"
            );
            return if cmd == "help" || cmd == "--help" { ExitCode::SUCCESS } else { ExitCode::from(2) };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
