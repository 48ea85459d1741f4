//! The A/B table: a row per (connections, target), each "ours" variant's ratios to bare, what
//! each variant sent, and notes against the project's goals.

use super::server::{self, Target};
use super::{Options, Row};

/// Width of the target column ("ours-jwt-hs256/bare").
const TARGET_WIDTH: usize = 19;

/// "812 µs" or "1.25 ms".
pub fn latency(us: f64) -> String {
    if us < 1000.0 { format!("{us:.0} µs") } else { format!("{:.2} ms", us / 1000.0) }
}

/// KiB as "12.3 MiB".
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Rows of one connection count (rows come grouped by connections, targets in table order).
fn groups(rows: &[Row]) -> impl Iterator<Item = &[Row]> {
    rows.chunk_by(|a, b| a.conns == b.conns)
}

pub fn print_table(rows: &[Row], opts: &Options) {
    println!();
    println!(
        "tools/call calculate, HTTP/1.1 keep-alive; server on core {} (1 worker thread), wrk -t1 on core {}; {} s x {} run(s), median",
        server::SERVER_CORE,
        server::LOAD_CORE,
        opts.duration,
        opts.runs
    );
    for r in groups(rows).next().unwrap_or_default() {
        println!("{}", describe(r.target, r.authenticated, opts.jwt_cache));
    }
    println!();
    println!(
        "{:>5}  {:<w$} {:>9} {:>19} {:>9} {:>9} {:>11} {:>6} {:>10}",
        "conns",
        "target",
        "req/s",
        "(min-max)",
        "p50",
        "p99",
        "CPU µs/req",
        "CPU %",
        "peak RSS",
        w = TARGET_WIDTH
    );
    for group in groups(rows) {
        for r in group {
            let m = &r.median;
            println!(
                "{:>5}  {:<w$} {:>9.0} {:>19} {:>9} {:>9} {:>11.1} {:>5.0}% {:>10}",
                r.conns,
                r.target.name(),
                m.rps,
                format!("({:.0}-{:.0})", r.rps_range.0, r.rps_range.1),
                latency(m.p50_us),
                latency(m.p99_us),
                m.cpu_us,
                m.cpu_share * 100.0,
                mib(r.peak_rss_kib),
                w = TARGET_WIDTH
            );
        }
        let bare = group.iter().find(|r| r.target == Target::Bare);
        for (ours, bare) in group.iter().filter(|r| r.target.is_ours()).filter_map(|o| Some((o, bare?))) {
            let (o, b) = (&ours.median, &bare.median);
            println!(
                "{:>5}  {:<w$} {:>8.2}x {:>19} {:>9} {:>8.2}x {:>10.2}x",
                ours.conns,
                format!("{}/bare", ours.target.name()),
                o.rps / b.rps,
                "",
                "",
                o.p99_us / b.p99_us,
                o.cpu_us / b.cpu_us,
                w = TARGET_WIDTH
            );
        }
        println!();
    }
    notes(rows);
}

/// How `target` was called.
fn describe(target: Target, authenticated: bool, jwt_cache: bool) -> String {
    let Some(alg) = target.jwt() else {
        return match target {
            Target::Bare => "bare: JSON-RPC parse and a fixed answer, no security (the ceiling)".into(),
            Target::OursPlain => {
                "ours-plain: embedded default with authorization, rate limits, audit log, prompt guard and \
                                  monitoring off; API key kept (the foundation's tools/call path)"
                    .into()
            }
            Target::OursOpen => "ours-open: ours-plain without authentication ([danger] allow_unauthenticated): \
                                 no security layer (issue 2's foundation path)"
                .into(),
            _ => auth_line(authenticated).into(),
        };
    };
    let cache = if jwt_cache {
        "verified-token cache on: the one token is checked once, then each request costs a SHA-256 and a cache lookup"
    } else {
        "verified-token cache off (--no-jwt-cache): every request verifies the signature"
    };
    format!(
        "{}: default configuration + [auth.jwt] ({alg}), every request carries Authorization: Bearer <{alg} JWT>; {cache}",
        target.name(),
        alg = alg.name()
    )
}

/// How the API-key variant (and the soak) was called.
pub fn auth_line(authenticated: bool) -> &'static str {
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
    for group in groups(rows) {
        let bare = group.iter().find(|r| r.target == Target::Bare);
        for ours in group.iter().filter(|r| r.target.is_ours()) {
            let ratio = bare.map(|b| ours.median.rps / b.median.rps);
            if let Some(ratio) = ratio.filter(|&r| r < 0.6) {
                println!(
                    "NOTE: at {} connections {} serves {:.1}% of bare's req/s (below 60%)",
                    ours.conns,
                    ours.target.name(),
                    ratio * 100.0
                );
            }
            if ours.median.cpu_us > 22.0 {
                println!(
                    "NOTE: at {} connections {} costs {:.1} µs CPU per request (goal: at most 22)",
                    ours.conns,
                    ours.target.name(),
                    ours.median.cpu_us
                );
            }
        }
        if let Some(bare) = bare.filter(|b| b.median.cpu_share < 0.9 && b.worst_others <= 0.05) {
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
    fn descriptions_name_the_credential() {
        assert!(describe(Target::Ours, true, true).contains("API key (x-api-key)"));
        assert!(describe(Target::Ours, false, true).contains("anonymous"));
        let hs = describe(Target::OursJwtHs256, true, true);
        assert!(hs.starts_with("ours-jwt-hs256: ") && hs.contains("Bearer <HS256 JWT>") && hs.contains("cache on"));
        let es = describe(Target::OursJwtEs256, true, false);
        assert!(es.contains("Bearer <ES256 JWT>") && es.contains("cache off"), "{es}");
        assert!(describe(Target::Bare, false, true).starts_with("bare: "));
    }

    #[test]
    fn latency_units() {
        assert_eq!(latency(812.4), "812 µs");
        assert_eq!(latency(1250.0), "1.25 ms");
        assert_eq!(mib(2048), "2.0 MiB");
    }
}
