//! Real MCP SDK clients against the `mcp-server` binary with its embedded default config.
//!
//! Each client (scripts in `tests/clients/`) lists the tools, calls `calculate {"a":2,"b":3,"op":"add"}`, checks the
//! answer is 5 and that the expected protocol version was negotiated. The HTTP clients share one server on a free
//! loopback port; the stdio clients spawn `mcp-server serve --stdio` themselves. Logs go to
//! `target/integration/clients/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::canary::Canary;
use super::peers::Peers;
use super::process::{self, Server};
use super::{Report, integration_dir};
use crate::util::{self, Result};

/// Per client; a healthy run takes about a second.
const TIMEOUT: Duration = Duration::from_secs(120);
/// The version every SDK offers in `initialize`.
const LEGACY: &str = "2025-11-25";
/// The stateless revision the Python SDK 2.x probes for with `server/discover`.
const MODERN: &str = "2026-07-28";

/// How a client reaches the server.
#[derive(Debug, Clone, Copy)]
enum Transport {
    Http,
    Stdio,
}

/// The SDK a client script runs on.
#[derive(Debug, Clone, Copy)]
enum Sdk {
    TypeScript,
    PythonMcp2,
    PythonMcp1,
}

/// One client check.
#[derive(Debug)]
struct Client {
    name: &'static str,
    sdk: Sdk,
    transport: Transport,
    script: &'static str,
    /// Script options before the URL or the server command.
    args: &'static [&'static str],
    /// The protocol version the client must end up with.
    protocol: &'static str,
}

const CLIENTS: [Client; 6] = [
    Client {
        name: "ts-sdk-http",
        sdk: Sdk::TypeScript,
        transport: Transport::Http,
        script: "ts_http.mjs",
        args: &[],
        protocol: LEGACY,
    },
    Client {
        name: "py-mcp2-http-auto",
        sdk: Sdk::PythonMcp2,
        transport: Transport::Http,
        script: "py2_http.py",
        args: &["--mode", "auto"],
        protocol: MODERN,
    },
    Client {
        name: "py-mcp2-http-legacy",
        sdk: Sdk::PythonMcp2,
        transport: Transport::Http,
        script: "py2_http.py",
        args: &["--mode", "legacy"],
        protocol: LEGACY,
    },
    Client {
        name: "py-mcp1-http",
        sdk: Sdk::PythonMcp1,
        transport: Transport::Http,
        script: "py1_http.py",
        args: &[],
        protocol: LEGACY,
    },
    Client {
        name: "py-mcp2-stdio-auto",
        sdk: Sdk::PythonMcp2,
        transport: Transport::Stdio,
        script: "py2_stdio.py",
        args: &["--mode", "auto"],
        protocol: MODERN,
    },
    Client {
        name: "py-mcp1-stdio",
        sdk: Sdk::PythonMcp1,
        transport: Transport::Stdio,
        script: "py1_stdio.py",
        args: &[],
        protocol: LEGACY,
    },
];

/// Run every client, recording one check per client.
pub fn run_all(peers: &Peers, server_bin: &Path, report: &mut Report, canary: &mut Canary) {
    let dir = integration_dir().join("clients");
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = fs::create_dir_all(&dir) {
        return report.record("clients", Err(format!("cannot create {}: {e}", dir.display())));
    }
    let data_dir = dir.join("data");
    // Every key exists before the server starts (it reads its keys at start).
    let limited_args = ["--name", "limited", "--roles", "readonly", "--permissions", "tools:execute:calculate"];
    let keys =
        api_key(server_bin, &data_dir).and_then(|admin| Ok((admin, new_key(server_bin, &data_dir, &limited_args)?)));
    if let Ok((admin, limited)) = &keys {
        canary.add("the admin API key", admin.as_bytes());
        canary.add("the readonly API key", limited.as_bytes());
    }
    canary.add_pepper(&data_dir);
    let limited = keys.as_ref().map(|(_, l)| l.clone()).map_err(Clone::clone);
    let server = keys.and_then(|(key, _)| Ok((start_http_server(server_bin, &dir, &data_dir)?, key)));
    for client in &CLIENTS {
        let result = match (client.transport, &server) {
            (Transport::Http, Ok((server, key))) => run_client(client, peers, &dir, &http_target(server, Some(key))),
            (Transport::Http, Err(e)) => Err(e.clone()),
            (Transport::Stdio, _) => run_client(client, peers, &dir, &stdio_target(server_bin)),
        };
        report.record(&format!("clients/{}", client.name), result);
    }
    // The same client without the key must be refused (the default config requires API keys).
    let refused = match &server {
        Ok((server, _)) => match run_client(&CLIENTS[1], peers, &dir, &http_target(server, None)) {
            Ok(()) => Err("a client without an API key was served".to_string()),
            Err(_) => Ok(()),
        },
        Err(e) => Err(e.clone()),
    };
    report.record("clients/py-mcp2-http-without-key-refused", refused);
    authorization(peers, &dir, server.as_ref().map(|(s, k)| (s, k)), limited, report);
}

/// Authorization through both SDKs: the admin key lists and calls `restart_server`; a key with
/// role `readonly` plus `tools:execute:calculate` sees only `calculate` and gets "Unknown tool"
/// for `restart_server`, exactly as for a tool that does not exist.
fn authorization(
    peers: &Peers,
    dir: &Path,
    server: std::result::Result<(&Server, &String), &String>,
    limited: Result<String>,
    report: &mut Report,
) {
    let (ts, py2) = (&CLIENTS[0], &CLIENTS[1]);
    let cases: [(&str, &Client, Result<String>, &str); 4] = [
        ("ts-sdk-http-admin-key-restart-server", ts, server.map(|(_, k)| k.clone()).map_err(Clone::clone), "admin"),
        ("py-mcp2-http-admin-key-restart-server", py2, server.map(|(_, k)| k.clone()).map_err(Clone::clone), "admin"),
        ("ts-sdk-http-readonly-key-hidden-tool", ts, limited.clone(), "limited"),
        ("py-mcp2-http-readonly-key-hidden-tool", py2, limited, "limited"),
    ];
    for (name, client, key, mode) in cases {
        let result = match (&server, key) {
            (Ok((s, _)), Ok(key)) => {
                let mut target = vec!["--authz".to_string(), mode.to_string()];
                target.extend(http_target(s, Some(&key)));
                run_client(client, peers, dir, &target)
            }
            (Err(e), _) => Err((*e).clone()),
            (_, Err(e)) => Err(e),
        };
        report.record(&format!("clients/{name}"), result);
    }
}

/// `mcp-server keys new ARGS` in the data dir; returns the key.
fn new_key(server_bin: &Path, data_dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(server_bin)
        .arg("keys")
        .arg("new")
        .args(args)
        .env("MCP_SERVER__DATA_DIR", data_dir)
        .output()
        .map_err(|e| format!("cannot run mcp-server keys new: {e}"))?;
    if !out.status.success() {
        return Err(format!("mcp-server keys new failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("mcp_"))
        .map(str::to_owned)
        .ok_or_else(|| "mcp-server keys new printed no key".to_string())
}

/// Make the admin API key in a fresh data dir with `mcp-server keys new`; returns the key.
fn api_key(server_bin: &Path, data_dir: &Path) -> Result<String> {
    let _ = fs::remove_dir_all(data_dir);
    new_key(server_bin, data_dir, &["--name", "integration", "--roles", "admin"])
}

fn start_http_server(server_bin: &Path, dir: &Path, data_dir: &Path) -> Result<Server> {
    let port = process::free_port()?;
    let mut cmd = Command::new(server_bin);
    // Every client shares 127.0.0.1 and some checks are refused on purpose (no key, hidden and
    // unknown tools): raise the automatic block threshold so each check sees its own answer.
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("MCP_SERVER__DATA_DIR", data_dir)
        .env("MCP_MONITORING__BLOCKING__BLOCK_AFTER", "1000");
    Server::start(&mut cmd, port, &dir.join("http-server.log")).map_err(|e| format!("mcp-server did not start: {e}"))
}

/// The arguments of the HTTP scripts: the API key header (if any), then the URL.
fn http_target(server: &Server, key: Option<&String>) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(k) = key {
        args.extend(["--header".to_string(), format!("X-API-Key: {k}")]);
    }
    args.push(format!("http://127.0.0.1:{}/mcp", server.port));
    args
}

/// The server command of the stdio scripts.
fn stdio_target(server_bin: &Path) -> Vec<String> {
    ["--".to_string(), server_bin.display().to_string(), "serve".into(), "--stdio".into()].into()
}

fn run_client(client: &Client, peers: &Peers, dir: &Path, target: &[String]) -> Result {
    let script = util::root().join("tests/clients").join(client.script);
    let mut cmd = match client.sdk {
        Sdk::TypeScript => {
            let mut c = Command::new(peers.node());
            c.env("MCP_TS_SDK_NODE_MODULES", peers.ts_sdk_node_modules());
            c
        }
        Sdk::PythonMcp2 => python(peers.python_mcp2()),
        Sdk::PythonMcp1 => python(peers.python_mcp1()),
    };
    cmd.arg(script).args(client.args).args(["--expect-protocol", client.protocol]);
    // The URL follows the options; the stdio scripts take the server command after `--`.
    cmd.args(target);
    let log = dir.join(format!("{}.log", client.name));
    let finished = process::run_logged(&mut cmd, &log, TIMEOUT)?;
    eprintln!("clients/{}: {:.1} s", client.name, finished.elapsed.as_secs_f64());
    match finished.describe_failure(TIMEOUT) {
        None => Ok(()),
        Some(why) => Err(format!("{why}: {} (log: {})", failure_line(&log), log.display())),
    }
}

fn python(interpreter: PathBuf) -> Command {
    let mut c = Command::new(interpreter);
    c.env("PYTHONDONTWRITEBYTECODE", "1");
    c
}

/// The script's own `FAIL:` / first `ERROR:` line, else its last line.
fn failure_line(log: &Path) -> String {
    let lines = process::tail(log, 200);
    lines
        .iter()
        .find(|l| l.starts_with("FAIL:"))
        .or_else(|| lines.iter().find(|l| l.starts_with("ERROR:")))
        .or(lines.last())
        .map_or_else(|| "no output".into(), |l| l.trim().to_string())
}
