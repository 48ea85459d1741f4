//! The load generator: `wrk` (Debian), one thread pinned to the load core, a Lua script per
//! request shape, and a parser for its report.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::probe::Call;
use super::server::LOAD_CORE;
use crate::util::Result;

/// Install `wrk` with apt-get when it is missing.
pub fn ensure_installed() -> Result {
    if found("wrk") {
        return Ok(());
    }
    eprintln!("wrk not found: installing the Debian package");
    if crate::util::run(Command::new("apt-get").args(["install", "-y", "wrk"])).is_err() {
        crate::util::run(Command::new("apt-get").arg("update"))?;
        crate::util::run(Command::new("apt-get").args(["install", "-y", "wrk"]))?;
    }
    if found("wrk") { Ok(()) } else { Err("wrk is still not on PATH after apt-get install".into()) }
}

fn found(program: &str) -> bool {
    Command::new("which").arg(program).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Write the Lua script sending `call` to `addr`. With `limit`, the script also counts response
/// statuses (200, 503, other; printed by `done`) and stops after `limit` responses.
pub fn script(dir: &Path, name: &str, call: &Call, addr: SocketAddr, limit: Option<u64>) -> Result<PathBuf> {
    let mut lua = String::from("wrk.method = \"POST\"\nwrk.path = \"/mcp\"\n");
    lua.push_str(&format!("wrk.headers[\"Host\"] = {}\n", long_string(&addr.to_string())?));
    for (k, v) in &call.headers {
        lua.push_str(&format!("wrk.headers[ {} ] = {}\n", long_string(k)?, long_string(v)?));
    }
    lua.push_str(&format!("wrk.body = {}\n", long_string(&call.body)?));
    if let Some(n) = limit {
        lua.push_str(&COUNTING.replace("LIMIT", &n.to_string()).replace("MARKER", LIMIT_REACHED));
    }
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, lua).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Printed by the counting script when its limit is reached. wrk's main thread sleeps for the
/// whole `-d` even after the worker stopped; SIGINT ends that sleep and wrk reports.
const LIMIT_REACHED: &str = "wrk-limit-reached";

const COUNTING: &str = r#"
n200, n503, nother, total = 0, 0, 0, 0
function response(status, headers, body)
  total = total + 1
  if status == 200 then n200 = n200 + 1 elseif status == 503 then n503 = n503 + 1 else nother = nother + 1 end
  if total == LIMIT then
    io.write("MARKER\n")
    io.flush()
    wrk.thread:stop()
  end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("status-counts: %d %d %d\n", t:get("n200"), t:get("n503"), t:get("nother")))
  end
end
"#;

/// A Lua long-bracket string literal (no escaping inside).
fn long_string(s: &str) -> Result<String> {
    if s.contains("]==]") || s.contains('\n') {
        return Err(format!("cannot quote {s:?} for Lua"));
    }
    Ok(format!("[==[{s}]==]"))
}

/// What one wrk run reported.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub non_2xx: u64,
    pub socket_errors: u64,
    /// Responses with status 200, 503, and any other status (counting scripts only).
    pub statuses: Option<[u64; 3]>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Run `wrk -t1 -cN -dSs --latency` with `script` against `addr`, pinned to the load core.
pub fn run(script: &Path, addr: SocketAddr, connections: u32, duration_s: u64) -> Result<Report> {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", LOAD_CORE, "wrk", "-t1", "--latency", "--timeout", "5s"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{duration_s}s"))
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}/mcp"));
    let start = Instant::now();
    let out = run_bounded(&mut cmd, Duration::from_secs(duration_s + 30))?;
    let mut report = parse(&out).map_err(|e| format!("{e}; wrk printed:\n{out}"))?;
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Run `cmd` to completion, killing it after `limit` and interrupting it (SIGINT) once it prints
/// [`LIMIT_REACHED`]; its stdout. Anything on stderr fails it.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let reached = Arc::new(AtomicBool::new(false));
    let stdout = child.stdout.take().map(|out| {
        let reached = reached.clone();
        std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(out).lines().map_while(std::result::Result::ok) {
                reached.fetch_or(line == LIMIT_REACHED, Ordering::Relaxed);
                all.push_str(&line);
                all.push('\n');
            }
            all
        })
    });
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        })
    });
    let status = wait_bounded(&mut child, limit, &reached)?;
    let out = stdout.and_then(|t| t.join().ok()).unwrap_or_default();
    let err = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    match status {
        // wrk reports a broken script on stderr and then runs a plain GET: never accept that.
        Some(s) if s.success() && err.trim().is_empty() => Ok(out),
        Some(s) => Err(format!("{cmd:?} failed ({s}):\n{out}{err}")),
        None => Err(format!("{cmd:?} killed after {} s:\n{out}{err}", limit.as_secs())),
    }
}

/// Wait for `child` (None if it had to be killed at `limit`); SIGINT it once `reached` is set.
fn wait_bounded(child: &mut Child, limit: Duration, reached: &AtomicBool) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + limit;
    let mut interrupted = false;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        if !interrupted && reached.load(Ordering::Relaxed) {
            interrupted = true;
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parse wrk's report (`--latency`, optionally with the counting script's line).
fn parse(out: &str) -> Result<Report> {
    let mut r = Report::default();
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    for line in out.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("Requests/sec:") => rps = words.next().and_then(|v| v.parse().ok()),
            Some("50%") => p50 = words.next().and_then(micros),
            Some("99%") => p99 = words.next().and_then(micros),
            Some("Non-2xx") => r.non_2xx = line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(u64::MAX),
            Some("Socket") => r.socket_errors = socket_errors(line),
            Some("status-counts:") => r.statuses = status_counts(words),
            Some(n) if line.contains(" requests in ") => r.requests = n.parse().map_err(|_| "bad request count")?,
            _ => {}
        }
    }
    r.rps = rps.ok_or("no Requests/sec line")?;
    r.p50_us = p50.ok_or("no 50% latency line")?;
    r.p99_us = p99.ok_or("no 99% latency line")?;
    Ok(r)
}

/// "Socket errors: connect 0, read 0, write 0, timeout 0" → the sum.
fn socket_errors(line: &str) -> u64 {
    let Some(list) = line.strip_prefix("Socket errors:") else { return 0 };
    list.split(',').filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok()).sum()
}

fn status_counts<'a>(mut words: impl Iterator<Item = &'a str>) -> Option<[u64; 3]> {
    let mut next = || words.next()?.parse().ok();
    Some([next()?, next()?, next()?])
}

/// "812.00us", "1.20ms", "2.00s", "1.00m" → microseconds.
fn micros(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 3s test @ http://127.0.0.1:1/mcp
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   512.34us  100.00us   5.00ms   90.00%
    Req/Sec    60.00k     1.00k   62.00k    70.00%
  Latency Distribution
     50%  498.00us
     75%  520.00us
     90%  600.00us
     99%    1.25ms
  180000 requests in 3.00s, 40.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  59999.50
Transfer/sec:     13.33MB
status-counts: 10 20 3
";

    #[test]
    fn parses_a_report() {
        let r = parse(SAMPLE).expect("parses");
        assert_eq!(r.requests, 180_000);
        assert!((r.rps - 59_999.5).abs() < 1e-6);
        assert!((r.p50_us - 498.0).abs() < 1e-6);
        assert!((r.p99_us - 1250.0).abs() < 1e-6);
        assert_eq!((r.non_2xx, r.socket_errors), (7, 3));
        assert_eq!(r.statuses, Some([10, 20, 3]));
    }

    #[test]
    fn clean_report_has_no_errors() {
        let clean: String =
            SAMPLE.lines().filter(|l| !l.contains("errors") && !l.contains("Non-2xx")).collect::<Vec<_>>().join("\n");
        let r = parse(&clean).expect("parses");
        assert_eq!((r.non_2xx, r.socket_errors, r.statuses.is_some()), (0, 0, true));
    }
}
