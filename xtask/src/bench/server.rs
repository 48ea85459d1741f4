//! The servers under test: started pinned to core 0 with one worker thread, read through
//! `/proc/PID`, killed when dropped.

use std::cell::Cell;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::probe::Call;
use crate::util::Result;

/// The core the server runs on (the load generator gets [`LOAD_CORE`]).
pub const SERVER_CORE: &str = "0";
/// The core the load generator runs on.
pub const LOAD_CORE: &str = "1";

/// What is being measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `mcp-server serve` with its embedded default configuration.
    Ours,
    /// `examples/bare_hyper`: hyper + a JSON-RPC parse, no security.
    Bare,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Bare => "bare",
        }
    }

    fn command(self, release: &Path, addr: SocketAddr, data: Option<&Path>) -> Command {
        let mut c = Command::new("taskset");
        c.args(["-c", SERVER_CORE]);
        match self {
            Self::Ours => c.arg(release.join("mcp-server")).args(["serve", "--listen", &addr.to_string()]),
            Self::Bare => c.arg(release.join("examples").join("bare_hyper")).args(["--listen", &addr.to_string()]),
        };
        server_env(&mut c, data).env("TOKIO_WORKER_THREADS", "1");
        c
    }
}

/// The server reads `MCP_*` variables as configuration: none but the log level (and the data
/// dir holding the API key, when there is one).
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
fn provision_key(release: &Path, data: &Path) -> Result<Option<String>> {
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

/// `target/release` (honouring `CARGO_TARGET_DIR`).
pub fn release_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    crate::util::root().join(target).join("release")
}

/// A running server; killed (and reaped) on drop, its log and data dir removed then unless a
/// failure was reported.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub target: Target,
    /// The client's API key (`x-api-key`), when the server authenticates.
    api_key: Option<String>,
    log: PathBuf,
    data: PathBuf,
    keep: Cell<bool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep.get() {
            let _ = std::fs::remove_file(&self.log);
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

impl Server {
    /// Start `target` on a free loopback port, logging to `dir/<name>-<port>.log`; wait until it
    /// accepts connections.
    pub fn start(target: Target, dir: &Path) -> Result<Self> {
        let addr = free_addr()?;
        let name = format!("{}-{}", target.name(), addr.port());
        let (log, data) = (dir.join(format!("{name}.log")), dir.join(format!("{name}-data")));
        let release = release_dir();
        let api_key = match target {
            Target::Ours => provision_key(&release, &data)?,
            Target::Bare => None,
        };
        let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = target
            .command(&release, addr, api_key.as_ref().map(|_| data.as_path()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", target.name()))?;
        let mut server = Self { child, addr, target, api_key, log, data, keep: Cell::new(false) };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failure(&format!("exited at start with {status}")));
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(self.failure("did not accept connections within 10 s"))
    }

    /// `call` with this server's credentials.
    pub fn authorize(&self, call: &Call) -> Call {
        let mut call = call.clone();
        if let Some(key) = &self.api_key {
            call.headers.push(("x-api-key", key.clone()));
        }
        call
    }

    /// Whether requests carry an API key.
    pub fn authenticated(&self) -> bool {
        self.api_key.is_some()
    }

    /// An error naming the server, with the end of its log (which is then kept).
    pub fn failure(&self, what: &str) -> String {
        self.keep.set(true);
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("{} at {} {what}; log {}:\n{}", self.target.name(), self.addr, self.log.display(), tail.join("\n"))
    }

    /// Fail if the server has exited.
    pub fn check_alive(&mut self) -> Result {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.failure(&format!("exited with {status}"))),
            Err(e) => Err(self.failure(&format!("cannot be waited for: {e}"))),
        }
    }

    /// User + system CPU time consumed so far, in clock ticks (all threads).
    pub fn cpu_ticks(&self) -> Result<u64> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        // Fields after the `(comm)`, which may contain spaces: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| format!("{path}: no ')'"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let tick =
            |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or_else(|| format!("{path}: field {i}"));
        Ok(tick(11)? + tick(12)?)
    }

    /// A `Vm*` line of `/proc/PID/status` (`VmRSS`, `VmHWM`), in KiB.
    pub fn memory_kib(&self, field: &str) -> Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("{path}: no {field}"))
    }
}

/// A loopback address with a port that was free a moment ago.
fn free_addr() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    l.local_addr().map_err(|e| e.to_string())
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 if that fails).
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}
