//! `cargo xtask bench`: keep-alive load of `tools/call calculate` against `mcp-server` ("ours",
//! authenticated by API key, HS256 JWT or ES256 JWT: one variant each) and against the bare hyper
//! ceiling (`crates/mcp-transport/examples/bare_hyper.rs`), server on core 0 with one worker
//! thread, `wrk -t1` on core 1, interleaved runs, median of each metric. `--soak` adds a memory
//! soak (see [`soak`]). What it measures: docs/benchmarks.md.

mod jwt;
mod launch;
mod machine;
mod options;
mod probe;
mod report;
mod server;
mod soak;
mod target;
mod wrk;

use std::path::{Path, PathBuf};

use options::{Options, USAGE};
use report::latency;
use server::{Server, Target};

use crate::util::{self, Result};

/// Connection counts measured.
const CONNECTIONS: [u32; 2] = [32, 256];
/// Seconds of unmeasured load per server before its runs (connections, allocator, caches).
const WARMUP_SECS: u64 = 1;

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
    report::print_table(&rows, &opts);
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
    /// Requests carried a credential.
    authenticated: bool,
    peak_rss_kib: u64,
}

/// Every selected server, fresh, at one connection count: verify (a refused credential fails
/// here, with the server's log), warm up, then run them in turn, the order reversed every other
/// run (ours, ..., bare, then bare, ..., ours) so drift hits all alike.
fn group(conns: u32, opts: &Options, dir: &Path, ticks: u64) -> Result<Vec<Row>> {
    let mut servers =
        opts.variants.iter().map(|&t| Server::start(t, dir, opts.jwt_cache)).collect::<Result<Vec<_>>>()?;
    let mut scripts = Vec::new();
    for s in &mut servers {
        let call = s.authorize(&probe::modern_call());
        s.verify(&call)?;
        let script = wrk::script(dir, &format!("{}-c{conns}", s.target.name()), &call, s.addr, None)?;
        measure(s, &script, conns, WARMUP_SECS, ticks)?;
        scripts.push(script);
    }
    let mut samples = vec![Vec::new(); servers.len()];
    for run in 0..opts.runs {
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if run % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let s = measure(&mut servers[i], &scripts[i], conns, opts.duration, ticks)?;
            eprintln!(
                "  c={conns:<3} run {}/{} {:<14}: {:>8.0} req/s  p50 {:>9}  p99 {:>9}  {:>6.1} µs CPU/req  {:>3.0}% core (others {:.0}%)",
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
    server.verify(&server.authorize(&probe::modern_call()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0]), 2.5);
    }
}
