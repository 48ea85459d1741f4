//! The memory soak (`--soak`): about a million `tools/call` requests per era against a fresh
//! `mcp-server`, RSS after a warm-up and at the end; then a flood of `initialize` requests
//! (legacy sessions) with RSS before and after. Sessions are capped per principal (all
//! anonymous callers are one principal), so most of that flood is answered 503: expected.

use std::path::Path;

use super::probe::{self, Call};
use super::report::{auth_line, latency, mib};
use super::server::{Server, Target};
use super::wrk;
use crate::util::Result;

/// Connections of every soak load.
const CONNECTIONS: u32 = 32;
/// Requests before the "warm" RSS reading.
const WARMUP: u64 = 50_000;

#[derive(Debug)]
pub struct Options {
    /// `tools/call` requests per era, warm-up included.
    pub requests: u64,
    /// `initialize` requests of the session flood.
    pub sessions: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { requests: 1_000_000, sessions: 20_000 }
    }
}

/// One era's `tools/call` soak.
#[derive(Debug)]
pub struct Era {
    name: &'static str,
    requests: u64,
    rps: f64,
    p99_us: f64,
    cpu_us: f64,
    rss_warm_kib: u64,
    rss_end_kib: u64,
    peak_kib: u64,
}

/// The session flood.
#[derive(Debug)]
pub struct Sessions {
    sent: u64,
    accepted: u64,
    refused: u64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    peak_kib: u64,
}

#[derive(Debug)]
pub struct Report {
    eras: Vec<Era>,
    sessions: Sessions,
    /// Requests carried an API key (one principal, `bench`); else all were anonymous.
    authenticated: bool,
}

pub fn run(dir: &Path, opts: &Options, ticks: u64) -> Result<Report> {
    let modern = era("modern tools/call", dir, opts, ticks, |s| Ok(s.authorize(&probe::modern_call())))?;
    let legacy = era("legacy tools/call (1 session)", dir, opts, ticks, |s| {
        let session = probe::open_session(s.addr, &s.authorize(&probe::initialize()))?;
        Ok(s.authorize(&probe::legacy_call(&session)))
    })?;
    let (sessions, authenticated) = sessions(dir, opts)?;
    Ok(Report { eras: vec![modern, legacy], sessions, authenticated })
}

/// A fresh server; `WARMUP` requests, RSS; the rest, RSS and CPU.
fn era(
    name: &'static str,
    dir: &Path,
    opts: &Options,
    ticks: u64,
    call: impl Fn(&Server) -> Result<Call>,
) -> Result<Era> {
    let mut server = Server::start(Target::Ours, dir, true)?;
    let call = call(&server)?;
    server.verify(&call).map_err(|e| format!("soak {name}: {e}"))?;
    let tag = name.split_whitespace().next().unwrap_or("soak");
    let warmup = WARMUP.min(opts.requests / 2);
    eprintln!("  soak {name}: {warmup} warm-up requests, then {}", opts.requests - warmup);
    let first = load(&mut server, dir, &format!("soak-{tag}-warm"), &call, warmup)?;
    all_ok(&server, &first)?;
    let rss_warm_kib = server.memory_kib("VmRSS")?;
    let before = server.cpu_ticks()?;
    let rest = load(&mut server, dir, &format!("soak-{tag}"), &call, opts.requests - warmup)?;
    let after = server.cpu_ticks()?;
    let done = all_ok(&server, &rest)?;
    server.verify(&call).map_err(|e| format!("soak {name}: {e}"))?;
    Ok(Era {
        name,
        requests: first.statuses.map_or(0, |s| s[0]) + done,
        // wrk divides by its -d bound when the script stops it early: use the wall time.
        rps: done as f64 / rest.elapsed.as_secs_f64().max(1e-3),
        p99_us: rest.p99_us,
        cpu_us: after.saturating_sub(before) as f64 * 1e6 / ticks as f64 / done.max(1) as f64,
        rss_warm_kib,
        rss_end_kib: server.memory_kib("VmRSS")?,
        peak_kib: server.memory_kib("VmHWM")?,
    })
}

/// A fresh server flooded with `initialize`; counts of 200 and 503, RSS before and after; whether
/// the requests were authenticated.
fn sessions(dir: &Path, opts: &Options) -> Result<(Sessions, bool)> {
    let mut server = Server::start(Target::Ours, dir, true)?;
    let modern = server.authorize(&probe::modern_call());
    server.verify(&modern)?;
    let rss_before_kib = server.memory_kib("VmRSS")?;
    eprintln!("  soak sessions: {} initialize requests", opts.sessions);
    let init = server.authorize(&probe::initialize());
    let r = load(&mut server, dir, "soak-initialize", &init, opts.sessions)?;
    let [accepted, refused, other] = r.statuses.ok_or("the counting script printed no status counts")?;
    if other > 0 || r.socket_errors > 0 || accepted == 0 {
        return Err(server.failure(&format!(
            "initialize flood: {accepted} accepted, {refused} refused (503), {other} other statuses, {} socket errors",
            r.socket_errors
        )));
    }
    // The cap refuses new sessions; stateless (modern) requests must still be served.
    server.verify(&modern).map_err(|e| format!("after the initialize flood: {e}"))?;
    let sessions = Sessions {
        sent: accepted + refused,
        accepted,
        refused,
        rss_before_kib,
        rss_after_kib: server.memory_kib("VmRSS")?,
        peak_kib: server.memory_kib("VmHWM")?,
    };
    Ok((sessions, server.authenticated()))
}

/// `n` requests of `call` (a counting script stops wrk after `n` responses).
fn load(server: &mut Server, dir: &Path, name: &str, call: &Call, n: u64) -> Result<wrk::Report> {
    let script = wrk::script(dir, name, call, server.addr, Some(n))?;
    // A bound, not a target: the script stops wrk after n responses (≥ 2000 req/s assumed).
    let bound = 30 + n / 2000;
    let report = wrk::run(&script, server.addr, CONNECTIONS, bound)?;
    server.check_alive()?;
    let got: u64 = report.statuses.map_or(0, |s| s.iter().sum());
    if got < n {
        return Err(server.failure(&format!("{name}: only {got} of {n} responses within {bound} s")));
    }
    Ok(report)
}

/// Fail unless every response was a 200; the number of responses.
fn all_ok(server: &Server, r: &wrk::Report) -> Result<u64> {
    match r.statuses {
        Some([ok, 0, 0]) if r.socket_errors == 0 && r.non_2xx == 0 => Ok(ok),
        _ => Err(server.failure(&format!(
            "soak load failed: statuses [200, 503, other] = {:?}, {} non-2xx, {} socket errors",
            r.statuses, r.non_2xx, r.socket_errors
        ))),
    }
}

pub fn print(report: &Report, opts: &Options) {
    println!(
        "memory soak: mcp-server alone, fresh process per line, {CONNECTIONS} connections, RSS after {} requests (warm) and at the end",
        WARMUP.min(opts.requests / 2)
    );
    println!("{}", auth_line(report.authenticated));
    println!();
    println!(
        "{:<30} {:>9} {:>8} {:>9} {:>11} {:>10} {:>10} {:>10} {:>10}",
        "load", "requests", "req/s", "p99", "CPU µs/req", "RSS warm", "RSS end", "growth", "peak RSS"
    );
    for e in &report.eras {
        println!(
            "{:<30} {:>9} {:>8.0} {:>9} {:>11.1} {:>10} {:>10} {:>10} {:>10}",
            e.name,
            e.requests,
            e.rps,
            latency(e.p99_us),
            e.cpu_us,
            mib(e.rss_warm_kib),
            mib(e.rss_end_kib),
            growth(e.rss_warm_kib, e.rss_end_kib),
            mib(e.peak_kib)
        );
    }
    let s = &report.sessions;
    let per_session = (s.rss_after_kib.saturating_sub(s.rss_before_kib) * 1024).checked_div(s.accepted).unwrap_or(0);
    println!();
    println!(
        "session flood: {} initialize -> {} sessions opened (200), {} refused (503: the per-principal session cap, {} caller)",
        s.sent,
        s.accepted,
        s.refused,
        if report.authenticated { "one authenticated" } else { "every anonymous" }
    );
    println!(
        "  RSS {} -> {} ({}, about {} bytes per opened session); peak {}",
        mib(s.rss_before_kib),
        mib(s.rss_after_kib),
        growth(s.rss_before_kib, s.rss_after_kib),
        per_session,
        mib(s.peak_kib)
    );
}

/// "+1.2 MiB" / "-0.3 MiB".
fn growth(from: u64, to: u64) -> String {
    let d = to as f64 - from as f64;
    format!("{}{:.1} MiB", if d < 0.0 { "-" } else { "+" }, d.abs() / 1024.0)
}
