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

/// The workspace tests, in the release profile (the one profile CI builds).
pub fn cargo_test() -> Result {
    run(cargo().args(["test", "--release", "--workspace", "--all-targets"]))?;
    run(cargo().args(["test", "--release", "--workspace", "--doc"]))
}

/// fmt, clippy, tests, docs, then the integration suites (unless `--no-integration`).
pub fn ci(args: &[String]) -> Result {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args(["clippy", "--release", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    cargo_test()?;
    run(cargo().args(["doc", "--release", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    if !args.iter().any(|a| a == "--no-integration") {
        crate::integration::run(&[])?;
    }
    Ok(())
}
