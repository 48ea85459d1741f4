//! Child processes of the integration run: free loopback ports, servers that are killed on drop, and commands run
//! to completion under a deadline with their output in a log file.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::util::Result;

/// How long a server gets to accept TCP connections after its start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Poll interval while waiting on a port or a child.
const POLL: Duration = Duration::from_millis(50);

/// A free port on 127.0.0.1: bind port 0, read the port the kernel picked, release it.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("cannot read the bound port: {e}"))
}

/// A child process that is killed (by its PID) and reaped when dropped, also on early returns and panics.
#[derive(Debug)]
pub struct Guarded {
    child: Child,
}

impl Guarded {
    /// Spawn `cmd` with stdin closed and stdout + stderr appended to `log`.
    pub fn spawn(cmd: &mut Command, log: &Path) -> Result<Self> {
        let out = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("cannot clone the handle of {}: {e}", log.display()))?;
        let shown = shown(cmd);
        eprintln!("$ {shown} > {}", log.display());
        // What was run is kept beside the logs, so the canary search covers it too.
        if let Some(dir) = log.parent()
            && let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("commands.log"))
        {
            let _ = writeln!(f, "$ {shown} > {}", log.display());
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {shown}: {e}"))?;
        Ok(Self { child })
    }

    /// The exit status if the child has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Wait for the exit until `deadline`; `None` when the deadline passed first (the child is still running).
    fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            sleep(POLL);
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A server listening on a loopback port, killed when dropped.
#[derive(Debug)]
pub struct Server {
    process: Guarded,
    /// Where the server's output goes.
    pub log: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl Server {
    /// Start `cmd` (already told to listen on 127.0.0.1:`port`) and wait until the port accepts connections.
    pub fn start(cmd: &mut Command, port: u16, log: &Path) -> Result<Self> {
        let mut server = Self { process: Guarded::spawn(cmd, log)?, log: log.to_path_buf(), port };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.process.exited() {
                return Err(format!("the server exited with {status} before accepting connections{}", self.log_hint()));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the server did not accept connections on {addr} within {STARTUP_TIMEOUT:?}{}",
                    self.log_hint()
                ));
            }
            sleep(POLL);
        }
    }

    /// `; last output: … (log: PATH)` for error messages.
    pub fn log_hint(&self) -> String {
        log_hint(&self.log)
    }

    /// A description of the server's death if it is no longer running.
    pub fn died(&mut self) -> Option<String> {
        self.process.exited().map(|status| format!("the server exited with {status}{}", self.log_hint()))
    }
}

/// How a command run under a deadline ended.
#[derive(Debug)]
pub struct Finished {
    /// The exit status; `None` when the deadline passed and the command was killed.
    pub status: Option<ExitStatus>,
    /// Wall time.
    pub elapsed: Duration,
}

impl Finished {
    /// `None` for a zero exit, else a short description (`timed out after …`, `exit status: 1`).
    pub fn describe_failure(&self, timeout: Duration) -> Option<String> {
        match self.status {
            None => Some(format!("timed out after {} s and was killed", timeout.as_secs())),
            Some(s) if s.success() => None,
            Some(s) => Some(s.to_string()),
        }
    }
}

/// Run `cmd` to completion with its output in `log`; kill it when `timeout` passes first.
pub fn run_logged(cmd: &mut Command, log: &Path, timeout: Duration) -> Result<Finished> {
    let start = Instant::now();
    let mut child = Guarded::spawn(cmd, log)?;
    let status = child.wait_until(start + timeout);
    drop(child);
    Ok(Finished { status, elapsed: start.elapsed() })
}

/// `cmd` for the terminal and logs without the secrets the run hands its children: environment
/// variables by name only, and the value of credential headers (`Authorization: …`,
/// `X-API-Key: …`) masked.
pub fn shown(cmd: &Command) -> String {
    let mut out = String::new();
    for (k, v) in cmd.get_envs() {
        let k = k.to_string_lossy();
        match v {
            Some(_) => out.push_str(&format!("{k}=… ")),
            None => out.push_str(&format!("-u {k} ")),
        }
    }
    out.push_str(&format!("{:?}", cmd.get_program()));
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        let lower = arg.to_ascii_lowercase();
        let masked = ["authorization:", "x-api-key:"]
            .iter()
            .find(|h| lower.starts_with(*h))
            .map(|h| format!("{}: …", &arg[..h.len() - 1]));
        out.push_str(&format!(" {:?}", masked.as_deref().unwrap_or(&arg)));
    }
    out
}

/// The last `n` non-empty lines of a log file.
pub fn tail(log: &Path, n: usize) -> Vec<String> {
    let Ok(file) = File::open(log) else { return Vec::new() };
    let lines: Vec<String> =
        BufReader::new(file).lines().map_while(std::result::Result::ok).filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// `; last output: LINE (log: PATH)` for error messages.
pub fn log_hint(log: &Path) -> String {
    match tail(log, 1).pop() {
        Some(line) => format!("; last output: {} (log: {})", line.trim(), log.display()),
        None => format!(" (log: {})", log.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_logged_kills_at_the_deadline() {
        let log = std::env::temp_dir().join(format!("xtask-run-logged-{}.log", std::process::id()));
        let finished =
            run_logged(Command::new("sh").args(["-c", "echo started; sleep 30"]), &log, Duration::from_millis(300))
                .expect("sh runs");
        assert!(finished.status.is_none());
        assert!(finished.elapsed < Duration::from_secs(10));
        assert_eq!(tail(&log, 5), ["started"]);
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn shown_commands_hide_secrets() {
        let mut cmd = Command::new("client");
        cmd.env("MCP_TEST_JWT_SECRET", "s3cr3t-value").env_remove("HTTP_PROXY");
        cmd.args(["--header", "X-API-Key: mcp_abcdef", "--header", "Authorization: Bearer tok.en.sig", "http://x"]);
        let s = shown(&cmd);
        assert!(!s.contains("s3cr3t") && !s.contains("mcp_abcdef") && !s.contains("tok.en"), "{s}");
        assert!(s.contains("MCP_TEST_JWT_SECRET=…") && s.contains("\"X-API-Key: …\"") && s.contains("http://x"), "{s}");
    }

    #[test]
    fn run_logged_reports_the_exit_status() {
        let log = std::env::temp_dir().join(format!("xtask-run-status-{}.log", std::process::id()));
        let finished =
            run_logged(Command::new("sh").args(["-c", "exit 3"]), &log, Duration::from_secs(10)).expect("sh runs");
        assert_eq!(finished.status.and_then(|s| s.code()), Some(3));
        assert!(finished.describe_failure(Duration::from_secs(10)).is_some());
        let _ = std::fs::remove_file(log);
    }
}
