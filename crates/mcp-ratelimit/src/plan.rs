//! The configuration compiled once into what the request path reads: limits by stage, numbers
//! by rate class.

use std::collections::HashMap;
use std::sync::Arc;

use crate::algo::Params;
use crate::config::{Algorithm, AppliesTo, LimitConfig, LimitOverride, RateLimitConfig, Scope};
use crate::error::RateLimitError;

/// Most limits in one configuration.
const MAX_LIMITS: usize = 1_000;
/// Most requests per window of a sliding window (the log holds one timestamp per request).
pub(crate) const MAX_WINDOW_REQUESTS: u64 = 100_000;
/// Longest window, and longest time a token bucket takes to refill its whole burst: one year.
const MAX_SPAN_NS: u64 = 365 * 86_400 * 1_000_000_000;

/// One compiled limit.
#[derive(Debug)]
pub(crate) struct Limit {
    /// Config name.
    pub(crate) name: Arc<str>,
    /// Keyed by.
    pub(crate) scope: Scope,
    /// Counted requests.
    pub(crate) applies_to: AppliesTo,
    /// Numbers: `[0]` the limit's own, `[i]` those of rate class `i`.
    pub(crate) params: Box<[Params]>,
}

/// All limits, grouped by the stage that checks them.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Every limit; the stage lists hold indices into it.
    pub(crate) limits: Box<[Limit]>,
    /// `scope = "ip"`.
    pub(crate) ip: Box<[u16]>,
    /// `scope = "client"` and `"method_class"`.
    pub(crate) request: Box<[u16]>,
    /// `scope = "client_tool"`.
    pub(crate) client_tool: Box<[u16]>,
    /// `scope = "tool"`, by tool name.
    pub(crate) tool: HashMap<Box<str>, Box<[u16]>>,
    /// Rate class name to params index.
    pub(crate) classes: HashMap<Box<str>, usize>,
}

impl Plan {
    /// Validate and compile.
    pub(crate) fn compile(cfg: &RateLimitConfig) -> Result<Self, RateLimitError> {
        if cfg.limits.len() > MAX_LIMITS {
            return Err(bad(format!("at most {MAX_LIMITS} limits")));
        }
        let mut plan = Plan {
            limits: Box::new([]),
            ip: Box::new([]),
            request: Box::new([]),
            client_tool: Box::new([]),
            tool: HashMap::new(),
            classes: HashMap::new(),
        };
        for (i, class) in cfg.classes.keys().enumerate() {
            check_id("rate class", class)?;
            plan.classes.insert(class.as_str().into(), i + 1);
        }
        let (mut limits, mut ip, mut request, mut client_tool) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut tool: HashMap<Box<str>, Vec<u16>> = HashMap::new();
        for (i, l) in cfg.limits.iter().enumerate() {
            let idx = u16::try_from(i).map_err(|_| bad(format!("at most {MAX_LIMITS} limits")))?;
            check_id("limit name", &l.name)?;
            if cfg.limits[..i].iter().any(|o| o.name == l.name) {
                return Err(bad(format!("limit name '{}' is used twice", l.name)));
            }
            check_scope(l)?;
            let own = params(l, None)?;
            let mut all = vec![own];
            for overrides in cfg.classes.values() {
                all.push(overrides.get(&l.name).map_or(Ok(own), |o| params(l, Some(o)))?);
            }
            match (l.scope, &l.tool) {
                (Scope::Ip, _) => ip.push(idx),
                (Scope::Client | Scope::MethodClass, _) => request.push(idx),
                (Scope::ClientTool, _) => client_tool.push(idx),
                (Scope::Tool, Some(t)) => tool.entry(t.as_str().into()).or_default().push(idx),
                (Scope::Tool, None) => return Err(bad(format!("limit '{}': scope \"tool\" needs `tool`", l.name))),
            }
            limits.push(Limit {
                name: l.name.as_str().into(),
                scope: l.scope,
                applies_to: l.applies_to,
                params: all.into(),
            });
        }
        for (class, overrides) in &cfg.classes {
            if let Some(unknown) = overrides.keys().find(|n| !cfg.limits.iter().any(|l| &&l.name == n)) {
                return Err(bad(format!("rate_limit.classes.{class}.{unknown}: no limit of that name")));
            }
        }
        plan.limits = limits.into();
        plan.ip = ip.into();
        plan.request = request.into();
        plan.client_tool = client_tool.into();
        plan.tool = tool.into_iter().map(|(k, v)| (k, v.into_boxed_slice())).collect();
        Ok(plan)
    }

    /// The params index of a rate class: 0 (the limits' own numbers) for none or an unknown one.
    pub(crate) fn class_index(&self, class: Option<&str>) -> usize {
        match class {
            Some(c) if !self.classes.is_empty() => self.classes.get(c).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// The largest `requests` of any sliding window, over all classes (0: none).
    pub(crate) fn max_window_requests(&self) -> u64 {
        let window = |p: &Params| match p {
            Params::Window { requests, .. } => u64::from(*requests),
            Params::Bucket { .. } => 0,
        };
        self.limits.iter().flat_map(|l| l.params.iter()).map(window).max().unwrap_or(0)
    }
}

fn bad(msg: String) -> RateLimitError {
    RateLimitError::Config(msg)
}

fn check_id(what: &str, id: &str) -> Result<(), RateLimitError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok { Ok(()) } else { Err(bad(format!("{what} {id:?}: use 1..=64 of [A-Za-z0-9_.-]"))) }
}

fn check_scope(l: &LimitConfig) -> Result<(), RateLimitError> {
    let name = &l.name;
    match l.scope {
        Scope::Tool => {
            let tool = l.tool.as_deref().unwrap_or_default();
            if tool.is_empty() || tool.len() > 256 {
                return Err(bad(format!("limit '{name}': scope \"tool\" needs `tool` (1..=256 characters)")));
            }
        }
        _ if l.tool.is_some() => {
            return Err(bad(format!("limit '{name}': `tool` is only for scope \"tool\" (use scope \"tool\")")));
        }
        _ => {}
    }
    let applies_ok = match l.scope {
        Scope::Ip => l.applies_to == AppliesTo::All,
        Scope::Tool | Scope::ClientTool => matches!(l.applies_to, AppliesTo::All | AppliesTo::Tools),
        Scope::Client | Scope::MethodClass => true,
    };
    if !applies_ok {
        let hint = if l.scope == Scope::Ip { "\"all\" (the method is not known before decoding)" } else { "\"tools\"" };
        return Err(bad(format!("limit '{name}': scope \"{}\" applies to {hint} only", l.scope.as_str())));
    }
    Ok(())
}

/// The params of a limit, with an optional class override merged in.
fn params(l: &LimitConfig, over: Option<&LimitOverride>) -> Result<Params, RateLimitError> {
    let name = &l.name;
    let empty = LimitOverride::default();
    let o = over.unwrap_or(&empty);
    let (requests, window_ms) = (o.requests.or(l.requests), o.window_ms.or(l.window_ms));
    let (rate, burst) = (o.rate_per_sec.or(l.rate_per_sec), o.burst.or(l.burst));
    let field_err = |field: &str| {
        let algo = match l.algorithm {
            Algorithm::SlidingWindow => "sliding_window (requests, window_ms)",
            Algorithm::TokenBucket => "token_bucket (rate_per_sec, burst)",
        };
        bad(format!("limit '{name}': `{field}` does not belong to algorithm {algo}"))
    };
    match l.algorithm {
        Algorithm::SlidingWindow => {
            if rate.is_some() {
                return Err(field_err("rate_per_sec"));
            }
            if burst.is_some() {
                return Err(field_err("burst"));
            }
            let requests = requests.ok_or_else(|| bad(format!("limit '{name}': sliding_window needs `requests`")))?;
            let window_ms =
                window_ms.ok_or_else(|| bad(format!("limit '{name}': sliding_window needs `window_ms`")))?;
            if !(1..=MAX_WINDOW_REQUESTS).contains(&requests) {
                return Err(bad(format!("limit '{name}': requests must be 1..={MAX_WINDOW_REQUESTS}")));
            }
            let window_ns = window_ms.saturating_mul(1_000_000);
            if window_ms == 0 || window_ns > MAX_SPAN_NS {
                return Err(bad(format!("limit '{name}': window_ms must be 1..=31536000000 (one year)")));
            }
            Ok(Params::Window { requests: requests as u32, window_ns })
        }
        Algorithm::TokenBucket => {
            if requests.is_some() {
                return Err(field_err("requests"));
            }
            if window_ms.is_some() {
                return Err(field_err("window_ms"));
            }
            let rate = rate.ok_or_else(|| bad(format!("limit '{name}': token_bucket needs `rate_per_sec`")))?;
            let burst = burst.ok_or_else(|| bad(format!("limit '{name}': token_bucket needs `burst`")))?;
            if !rate.is_finite() || !(1e-6..=1e9).contains(&rate) {
                return Err(bad(format!("limit '{name}': rate_per_sec must be a number in 0.000001..=1000000000")));
            }
            let burst = u32::try_from(burst).ok().filter(|b| (1..=1_000_000).contains(b));
            let burst = burst.ok_or_else(|| bad(format!("limit '{name}': burst must be 1..=1000000")))?;
            // Rounded to the nearest nanosecond; at least 1.
            let interval_ns = ((1e9 / rate).round() as u64).max(1);
            if interval_ns.saturating_mul(u64::from(burst)) > MAX_SPAN_NS {
                return Err(bad(format!("limit '{name}': burst / rate_per_sec must be at most one year")));
            }
            Ok(Params::Bucket { interval_ns, burst })
        }
    }
}

#[cfg(test)]
mod tests;
