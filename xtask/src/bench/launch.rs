//! How a server under test is started: its command line, environment and credential.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::server::{SERVER_CORE, Target};
use crate::util::Result;

/// How `target` is started: `data` is the server's data dir (secret store, API keys), `config`
/// a configuration file, `env` extra variables.
pub fn command(target: Target, release: &Path, addr: SocketAddr, launch: &Launch) -> Command {
    let mut c = Command::new("taskset");
    c.args(["-c", SERVER_CORE]);
    let listen = addr.to_string();
    if target.is_ours() {
        c.arg(release.join("mcp-server")).args(["serve", "--listen", &listen]);
        if let Some(config) = &launch.config {
            c.arg("--config").arg(config);
        }
    } else {
        c.arg(release.join("examples").join("bare_hyper")).args(["--listen", &listen]);
    }
    server_env(&mut c, launch.data.as_deref()).envs(launch.env.iter().map(|(k, v)| (k, v)));
    c.env("TOKIO_WORKER_THREADS", "1");
    c
}

/// What a server is started with besides its address.
#[derive(Default)]
pub struct Launch {
    pub data: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub env: Vec<(&'static str, String)>,
}

/// The credential every request carries.
pub enum Credential {
    /// `x-api-key`.
    ApiKey(String),
    /// `Authorization: Bearer`.
    Bearer(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ApiKey(_) => "ApiKey(..)",
            Self::Bearer(_) => "Bearer(..)",
        })
    }
}

/// The server reads `MCP_*` variables as configuration: none but the log level (and the data
/// dir, when there is one). Others (the JWT secret) pass through.
fn server_env<'a>(c: &'a mut Command, data: Option<&Path>) -> &'a mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MCP_") {
            c.env_remove(k);
        }
    }
    if let Some(dir) = data {
        c.env("MCP_SERVER__DATA_DIR", dir);
    }
    c.env("MCP_LOGGING__LEVEL", "warn")
}

/// An API key for the benchmark client in a fresh data dir, from `mcp-server keys new`; `None`
/// for a build without API keys (no `keys` subcommand: every caller is anonymous).
pub fn provision_key(release: &Path, data: &Path) -> Result<Option<String>> {
    let mut c = Command::new(release.join("mcp-server"));
    c.args(["keys", "new", "--name", "bench", "--permissions", "tools"]);
    let out = server_env(&mut c, Some(data)).output().map_err(|e| format!("cannot run mcp-server keys new: {e}"))?;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        if stderr.contains("unrecognized subcommand") {
            return Ok(None);
        }
        return Err(format!("mcp-server keys new failed ({}):\n{stdout}{stderr}", out.status));
    }
    // The key is the one indented line ("API key for ... (shown once):\n\n    KEY\n\n...").
    let key = stdout.lines().find_map(|l| l.strip_prefix("    ").map(str::trim).filter(|k| !k.contains(' ')));
    key.map(|k| Some(k.to_string())).ok_or_else(|| format!("no key in the output of mcp-server keys new:\n{stdout}"))
}
