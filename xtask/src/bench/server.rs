//! The servers under test: started pinned to core 0 with one worker thread, read through
//! `/proc/PID`, killed when dropped.

use std::cell::Cell;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::jwt;
use super::launch::{Credential, Launch, command, provision_key};
use super::probe::{self, Call};
pub use super::target::Target;
use crate::util::Result;

/// The core the server runs on (the load generator gets [`LOAD_CORE`]).
pub const SERVER_CORE: &str = "0";
/// The core the load generator runs on.
pub const LOAD_CORE: &str = "1";

/// `target/release` (honouring `CARGO_TARGET_DIR`).
pub fn release_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    crate::util::root().join(target).join("release")
}

/// A running server; killed (and reaped) on drop, its log, data dir and configuration files
/// removed then unless a failure was reported.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub target: Target,
    /// What every request carries, when the server authenticates.
    credential: Option<Credential>,
    log: PathBuf,
    data: PathBuf,
    /// Written for this server (JWT configuration and public key).
    files: Vec<PathBuf>,
    keep: Cell<bool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep.get() {
            let _ = std::fs::remove_file(&self.log);
            let _ = std::fs::remove_dir_all(&self.data);
            for f in &self.files {
                let _ = std::fs::remove_file(f);
            }
        }
    }
}

impl Server {
    /// Start `target` on a free loopback port, logging to `dir/<name>-<port>.log`; wait until it
    /// accepts connections. `jwt_cache` false turns off the verified-token cache of the JWT
    /// variants.
    pub fn start(target: Target, dir: &Path, jwt_cache: bool) -> Result<Self> {
        let addr = free_addr()?;
        let name = format!("{}-{}", target.name(), addr.port());
        let (log, data) = (dir.join(format!("{name}.log")), dir.join(format!("{name}-data")));
        let release = release_dir();
        let mut launch = Launch::default();
        let mut files = Vec::new();
        let credential = match (target, target.jwt()) {
            (_, Some(alg)) => {
                let setup = jwt::setup(alg, dir, &name, addr, jwt_cache)?;
                (launch.config, launch.env, files) = (Some(setup.config), setup.env, setup.files);
                Some(Credential::Bearer(setup.token))
            }
            (Target::Ours | Target::OursPlain, None) => {
                let config = dir.join(format!("{name}.toml"));
                let text = if target == Target::OursPlain { jwt::plain_config() } else { jwt::api_key_config() };
                std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
                (launch.config, files) = (Some(config.clone()), vec![config]);
                provision_key(&release, &data)?.map(Credential::ApiKey)
            }
            (Target::OursOpen, None) => {
                let config = dir.join(format!("{name}.toml"));
                std::fs::write(&config, jwt::open_config()).map_err(|e| format!("{}: {e}", config.display()))?;
                (launch.config, files) = (Some(config.clone()), vec![config]);
                None
            }
            _ => None,
        };
        // The secret store (and the API keys) live in the data dir: one per server, removed after.
        launch.data = target.is_ours().then(|| data.clone());
        let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = command(target, &release, addr, &launch)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", target.name()))?;
        let mut server = Self { child, addr, target, credential, log, data, files, keep: Cell::new(false) };
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
        match &self.credential {
            Some(Credential::ApiKey(key)) => call.headers.push(("x-api-key", key.clone())),
            Some(Credential::Bearer(token)) => call.headers.push(("authorization", format!("Bearer {token}"))),
            None => {}
        }
        call
    }

    /// Whether requests carry a credential.
    pub fn authenticated(&self) -> bool {
        self.credential.is_some()
    }

    /// Check that `call` gets the correct `calculate` answer (a refused credential fails here,
    /// before any load); on failure the error carries the end of the server's log.
    pub fn verify(&self, call: &Call) -> Result {
        probe::check(self.addr, call).map_err(|e| self.failure(&e))
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
