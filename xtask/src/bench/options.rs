//! The command line of `cargo xtask bench`.

use super::server::Target;
use super::{WARMUP_SECS, jwt, soak, target};
use crate::util::Result;

/// `cargo xtask bench --help`.
pub const USAGE: &str =
    "usage: cargo xtask bench [--variants LIST] [--duration SECS] [--runs N] [--quick] [--no-jwt-cache]
                        [--soak] [--soak-requests N] [--sessions N]

  --variants LIST     comma-separated targets to measure (default all six):
                        ours            mcp-server, default configuration, API key (x-api-key)
                        ours-plain      default configuration, protection stages off, API key
                        ours-open       ours-plain without authentication (no security layer)
                        ours-jwt-hs256  default configuration + [auth.jwt], Bearer JWT signed HS256
                        ours-jwt-es256  default configuration + [auth.jwt], Bearer JWT signed ES256
                        bare            the bare hyper ceiling (no security)
  --duration SECS     length of each measured run (default 10)
  --runs N            runs per (target, connections); the median is reported (default 3)
  --quick             --duration 3 --runs 1 (unless given explicitly); all variants still run
  --no-jwt-cache      JWT variants with auth.jwt.cache_capacity = 0: every request verifies the
                      signature (default: the server's verified-token cache is on, so the one
                      token each variant sends is checked once, then found in the cache)
  --soak              after the A/B table, the memory soak (modern, legacy, session creation)
  --soak-requests N   tools/call requests per soak era (default 1000000)
  --sessions N        initialize requests of the session soak (default 20000)";

/// What to measure and how long.
#[derive(Debug)]
pub struct Options {
    /// Targets measured, in table order.
    pub variants: Vec<Target>,
    /// Seconds per measured run.
    pub duration: u64,
    /// Runs per (target, connections).
    pub runs: usize,
    /// The verified-token cache of the JWT variants.
    pub jwt_cache: bool,
    /// The memory soak, when asked for.
    pub soak: Option<soak::Options>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self> {
        let (mut duration, mut runs, mut quick, mut soak) = (None, None, false, false);
        let (mut variants, mut jwt_cache) = (Target::ALL.to_vec(), true);
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
                "--variants" => {
                    let list = it.next().ok_or_else(|| format!("--variants needs a value\n\n{USAGE}"))?;
                    variants = target::parse_list(list)?;
                }
                "--no-jwt-cache" => jwt_cache = false,
                "--quick" => quick = true,
                "--soak" => soak = true,
                other => return Err(format!("unknown option {other}\n\n{USAGE}")),
            }
        }
        let opts = Self {
            variants,
            duration: duration.unwrap_or(if quick { 3 } else { 10 }),
            runs: runs.unwrap_or(if quick { 1 } else { 3 }),
            jwt_cache,
            soak: soak.then_some(soak_opts),
        };
        opts.check_token_lifetime()?;
        Ok(opts)
    }

    /// The JWT variants mint one token per connection count, valid for [`jwt::TOKEN_TTL_SECS`]:
    /// refuse runs that would outlast it (every request after would be refused).
    fn check_token_lifetime(&self) -> Result {
        if !self.variants.iter().any(|t| t.jwt().is_some()) {
            return Ok(());
        }
        // Per server: the warm-up, each run with a few seconds of wrk start-up and checks.
        let per_server = WARMUP_SECS + self.runs as u64 * (self.duration + 3);
        let group = self.variants.len() as u64 * per_server + 30;
        if group < jwt::TOKEN_TTL_SECS {
            return Ok(());
        }
        Err(format!(
            "--duration {} --runs {} with {} variants takes about {group} s per connection count, longer than the \
             JWT variants' tokens live ({} s): lower --duration or --runs, or measure fewer --variants",
            self.duration,
            self.runs,
            self.variants.len(),
            jwt::TOKEN_TTL_SECS
        ))
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

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn variants() {
        let o = Options::parse(&args(&["--quick"])).expect("quick");
        assert_eq!(o.variants, Target::ALL.to_vec(), "--quick keeps every variant");
        assert!(o.jwt_cache);
        let o = Options::parse(&args(&["--variants", "bare,ours-jwt-es256", "--no-jwt-cache"])).expect("two");
        assert_eq!(o.variants, vec![Target::OursJwtEs256, Target::Bare]);
        assert!(!o.jwt_cache);
        assert!(Options::parse(&args(&["--variants"])).is_err());
        assert!(Options::parse(&args(&["--variants", "ours,nope"])).is_err());
    }

    #[test]
    fn runs_must_fit_the_token_lifetime() {
        let long = ["--duration", "300", "--runs", "3"];
        let e = Options::parse(&args(&long)).expect_err("4 x 3 x 300 s outlives a token");
        assert!(e.contains("longer than the JWT variants' tokens live"), "{e}");
        let mut no_jwt = args(&long);
        no_jwt.extend(args(&["--variants", "ours,bare"]));
        assert!(Options::parse(&no_jwt).is_ok(), "no token, no limit");
        let mut one = args(&long);
        one.extend(args(&["--variants", "ours-jwt-hs256"]));
        assert!(Options::parse(&one).is_ok(), "1 x 3 x 303 s fits");
    }
}
