//! `cargo xtask bench`: keep-alive load of `tools/call calculate` against `mcp-server` ("ours")
//! and against the bare hyper ceiling (`crates/mcp-transport/examples/bare_hyper.rs`), server
//! on core 0 with one worker thread, `wrk -t1` on core 1, interleaved runs, median of each
//! metric. `--soak` adds a memory soak (see [`soak`]). What it measures: docs/benchmarks.md.

mod machine;
mod probe;
mod server;
mod soak;
mod wrk;

use std::path::{Path, PathBuf};

use server::{Server, Target};

use crate::util::{self, Result};

/// Connection counts measured.
const CONNECTIONS: [u32; 2] = [32, 256];
/// Seconds of unmeasured load per server before its runs (connections, allocator, caches).
const WARMUP_SECS: u64 = 1;

const USAGE: &str =
    "usage: cargo xtask bench [--duration SECS] [--runs N] [--quick] [--soak] [--soak-requests N] [--sessions N]

  --duration SECS     length of each measured run (default 10)
  --runs N            runs per (target, connections); the median is reported (default 3)
  --quick             --duration 3 --runs 1 (unless given explicitly)
  --soak              after the A/B table, the memory soak (modern, legacy, session creation)
  --soak-requests N   tools/call requests per soak era (default 1000000)
  --sessions N        initialize requests of the session soak (default 20000)";

#[derive(Debug)]
struct Options {
    duration: u64,
    runs: usize,
    soak: Option<soak::Options>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let (mut duration, mut runs, mut quick, mut soak) = (None, None, false, false);
        let mut soak_opts = soak::Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| -> Result<u64> {
                let v = it.next().ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))?;
                v.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("{name} {v}: want a positive integer"))
            };
            match a.as_str() {
                "--duration" => duration = Some(value("--duration")?),
                "--runs" => runs = Some(value("--runs")? as usize),
                "--soak-requests" => soak_opts.requests = value("--soak-requests")?,
                "--sessions" => soak_opts.sessions = value("--sessions")?,
                "--quick" => quick = true,
                "--soak" => soak = true,
                other => return Err(format!("unknown option {other}\n\n{USAGE}")),
            }
        }
        Ok(Self {
            duration: duration.unwrap_or(if quick { 3 } else { 10 }),
            runs: runs.unwrap_or(if quick { 1 } else { 3 }),
            soak: soak.then_some(soak_opts),
        })
    }
}

pub fn run(args: &[String]) -> Result {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let opts = Options::parse(args)?;
    preflight()?;
    util::run(util::cargo().args([
        "build",
        "--release",
        "-p",
        "mcp-server",
        "--bin",
        "mcp-server",
        "-p",
        "mcp-transport",
        "--example",
        "bare_hyper",
    ]))?;
    let dir = bench_dir()?;
    machine::check_quiet();
    let ticks = server::clock_ticks();
    let mut rows = Vec::new();
    for conns in CONNECTIONS {
        rows.extend(group(conns, &opts, &dir, ticks)?);
    }
    print_table(&rows, &opts);
    if let Some(soak_opts) = &opts.soak {
        let report = soak::run(&dir, soak_opts, ticks)?;
        soak::print(&report, soak_opts);
    }
    Ok(())
}

/// Two cores, `taskset` and `wrk`.
fn preflight() -> Result {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if cores < 2 {
        return Err(format!("the benchmark pins the server and wrk to cores 0 and 1; this machine has {cores}"));
    }
    wrk::ensure_installed()
}

/// `target/bench`: Lua scripts and server logs.
fn bench_dir() -> Result<PathBuf> {
    let dir = server::release_dir().with_file_name("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// The medians of one target at one connection count.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// Server CPU (user + system) per request.
    cpu_us: f64,
    /// Server CPU time / wall time (1.0 = one core saturated).
    cpu_share: f64,
    /// Share of the server's core that other processes used during the run.
    others: f64,
}

#[derive(Debug)]
struct Row {
    target: Target,
    conns: u32,
    median: Sample,
    /// Lowest and highest req/s of the runs.
    rps_range: (f64, f64),
    /// Largest share of the server's core other processes took in any run.
    worst_others: f64,
    /// Requests carried an API key.
    authenticated: bool,
    peak_rss_kib: u64,
}

/// Both servers, fresh, at one connection count: verify, warm up, then alternate runs
/// (ours-bare, bare-ours, ...) so drift hits both alike.
fn group(conns: u32, opts: &Options, dir: &Path, ticks: u64) -> Result<Vec<Row>> {
    let mut servers = [Server::start(Target::Ours, dir)?, Server::start(Target::Bare, dir)?];
    let mut scripts = Vec::new();
    for s in &mut servers {
        let call = s.authorize(&probe::modern_call());
        probe::verify(s.addr, &call, s.target.name())?;
        let script = wrk::script(dir, &format!("{}-c{conns}", s.target.name()), &call, s.addr, None)?;
        measure(s, &script, conns, WARMUP_SECS, ticks)?;
        scripts.push(script);
    }
    let mut samples = [Vec::new(), Vec::new()];
    for run in 0..opts.runs {
        let order = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let s = measure(&mut servers[i], &scripts[i], conns, opts.duration, ticks)?;
            eprintln!(
                "  c={conns:<3} run {}/{} {}: {:>8.0} req/s  p50 {:>9}  p99 {:>9}  {:>6.1} µs CPU/req  {:>3.0}% core (others {:.0}%)",
                run + 1,
                opts.runs,
                servers[i].target.name(),
                s.rps,
                latency(s.p50_us),
                latency(s.p99_us),
                s.cpu_us,
                s.cpu_share * 100.0,
                s.others * 100.0
            );
            samples[i].push(s);
        }
    }
    servers.iter().zip(samples).map(|(s, runs)| row(s, conns, &runs)).collect()
}

/// Summarize `runs` of `server`, after checking it still answers correctly.
fn row(server: &Server, conns: u32, runs: &[Sample]) -> Result<Row> {
    probe::verify(server.addr, &server.authorize(&probe::modern_call()), server.target.name())?;
    let pick = |f: fn(&Sample) -> f64| median(runs.iter().map(f).collect());
    let rps: Vec<f64> = runs.iter().map(|s| s.rps).collect();
    Ok(Row {
        target: server.target,
        conns,
        median: Sample {
            rps: pick(|s| s.rps),
            p50_us: pick(|s| s.p50_us),
            p99_us: pick(|s| s.p99_us),
            cpu_us: pick(|s| s.cpu_us),
            cpu_share: pick(|s| s.cpu_share),
            others: pick(|s| s.others),
        },
        worst_others: runs.iter().map(|s| s.others).fold(0.0, f64::max),
        authenticated: server.authenticated(),
        rps_range: (rps.iter().copied().fold(f64::INFINITY, f64::min), rps.iter().copied().fold(0.0, f64::max)),
        peak_rss_kib: server.memory_kib("VmHWM")?,
    })
}

/// One wrk run against `server`, with the server's CPU time over it.
fn measure(server: &mut Server, script: &Path, conns: u32, secs: u64, ticks: u64) -> Result<Sample> {
    let core = machine::CoreTimes::server_core();
    let before = server.cpu_ticks()?;
    let report = wrk::run(script, server.addr, conns, secs)?;
    let after = server.cpu_ticks()?;
    let core_busy = machine::CoreTimes::server_core().zip(core).and_then(|(now, then)| now.busy_since(then));
    server.check_alive()?;
    if report.non_2xx > 0 || report.socket_errors > 0 || report.requests == 0 {
        return Err(server.failure(&format!(
            "failed under load: {} requests, {} non-2xx responses, {} socket errors",
            report.requests, report.non_2xx, report.socket_errors
        )));
    }
    let cpu_us = after.saturating_sub(before) as f64 * 1e6 / ticks as f64;
    let cpu_share = cpu_us / report.elapsed.as_micros().max(1) as f64;
    Ok(Sample {
        rps: report.rps,
        p50_us: report.p50_us,
        p99_us: report.p99_us,
        cpu_us: cpu_us / report.requests as f64,
        cpu_share,
        others: core_busy.map_or(0.0, |b| (b - cpu_share).max(0.0)),
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => 0.0,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// "812 µs" or "1.25 ms".
fn latency(us: f64) -> String {
    if us < 1000.0 { format!("{us:.0} µs") } else { format!("{:.2} ms", us / 1000.0) }
}

/// KiB as "12.3 MiB".
fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn print_table(rows: &[Row], opts: &Options) {
    println!();
    println!(
        "tools/call calculate, HTTP/1.1 keep-alive; server on core {} (1 worker thread), wrk -t1 on core {}; {} s x {} run(s), median",
        server::SERVER_CORE,
        server::LOAD_CORE,
        opts.duration,
        opts.runs
    );
    println!("{}", auth_line(rows.iter().any(|r| r.authenticated)));
    println!();
    println!(
        "{:>5}  {:<9} {:>9} {:>19} {:>9} {:>9} {:>11} {:>6} {:>10}",
        "conns", "target", "req/s", "(min-max)", "p50", "p99", "CPU µs/req", "CPU %", "peak RSS"
    );
    for pair in rows.chunks(2) {
        for r in pair {
            let m = &r.median;
            println!(
                "{:>5}  {:<9} {:>9.0} {:>19} {:>9} {:>9} {:>11.1} {:>5.0}% {:>10}",
                r.conns,
                r.target.name(),
                m.rps,
                format!("({:.0}-{:.0})", r.rps_range.0, r.rps_range.1),
                latency(m.p50_us),
                latency(m.p99_us),
                m.cpu_us,
                m.cpu_share * 100.0,
                mib(r.peak_rss_kib)
            );
        }
        if let [ours, bare] = pair {
            let (o, b) = (&ours.median, &bare.median);
            println!(
                "{:>5}  {:<9} {:>8.2}x {:>19} {:>9} {:>8.2}x {:>10.2}x",
                ours.conns,
                "ours/bare",
                o.rps / b.rps,
                "",
                "",
                o.p99_us / b.p99_us,
                o.cpu_us / b.cpu_us
            );
        }
        println!();
    }
    notes(rows);
}

/// How ours was called.
fn auth_line(authenticated: bool) -> &'static str {
    if authenticated {
        "ours: embedded default configuration, every request authenticated with an API key (x-api-key)"
    } else {
        "ours: embedded default configuration; this build has no API keys (anonymous callers)"
    }
}

/// Flag results against the project's goals (ARCHITECTURE.md, "The hot path") and noisy runs.
fn notes(rows: &[Row]) {
    for r in rows.iter().filter(|r| r.worst_others > 0.05) {
        println!(
            "WARNING: other processes took up to {:.0}% of the server core during {} c={} runs: numbers are noisy, rerun on a quiet machine",
            r.worst_others * 100.0,
            r.target.name(),
            r.conns
        );
    }
    for pair in rows.chunks(2) {
        let [ours, bare] = pair else { continue };
        let ratio = ours.median.rps / bare.median.rps;
        if ratio < 0.6 {
            println!(
                "NOTE: at {} connections ours serves {:.1}% of bare's req/s (below 60%)",
                ours.conns,
                ratio * 100.0
            );
        }
        if ours.median.cpu_us > 22.0 {
            println!(
                "NOTE: at {} connections ours costs {:.1} µs CPU per request (goal: at most 22)",
                ours.conns, ours.median.cpu_us
            );
        }
        if bare.median.cpu_share < 0.9 && bare.worst_others <= 0.05 {
            println!(
                "NOTE: at {} connections bare used {:.0}% of its core: the load generator, not the server, set the pace; compare CPU µs/req",
                bare.conns,
                bare.median.cpu_share * 100.0
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let o = Options::parse(&[]).expect("defaults");
        assert_eq!((o.duration, o.runs, o.soak.is_some()), (10, 3, false));
        let args: Vec<String> = ["--quick", "--runs", "2", "--soak"].iter().map(|s| s.to_string()).collect();
        let o = Options::parse(&args).expect("quick");
        assert_eq!((o.duration, o.runs, o.soak.is_some()), (3, 2, true));
        assert!(Options::parse(&["--bogus".to_string()]).is_err());
        assert!(Options::parse(&["--runs".to_string(), "0".to_string()]).is_err());
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0]), 2.5);
    }
}
