//! The two counting algorithms, as pure state machines over nanosecond timestamps.
//!
//! - Sliding window, **exact**: a log of admission times, at most `requests` entries per key.
//!   A request is admitted when fewer than `requests` admissions lie in `(now - window, now]`;
//!   so no window of that length ever holds more than `requests` admissions (error 0). When
//!   rejected, the wait is the time until the oldest entry that has to leave does leave.
//! - Token bucket, **exact GCRA**: one "theoretical arrival time" per key. With interval
//!   `T = 1 / rate` and tolerance `tau = burst * T`, a request of cost `c` is admitted when
//!   `max(tat, now) + c*T - now <= tau`. Equivalent to a bucket of `burst` tokens refilled
//!   continuously at `rate`, in integer nanoseconds (the interval is rounded to the nearest
//!   nanosecond).

use std::collections::VecDeque;

/// The numbers of one limit for one rate class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Params {
    /// Sliding window.
    Window {
        /// Most admissions per window.
        requests: u32,
        /// Window length.
        window_ns: u64,
    },
    /// GCRA token bucket.
    Bucket {
        /// Nanoseconds per token.
        interval_ns: u64,
        /// Bucket size.
        burst: u32,
    },
}

impl Params {
    /// Most units admitted at once.
    pub(crate) fn capacity(self) -> u64 {
        match self {
            Self::Window { requests, .. } => u64::from(requests),
            Self::Bucket { burst, .. } => u64::from(burst),
        }
    }

    /// The state of a key never seen.
    pub(crate) fn fresh(self) -> State {
        match self {
            Self::Window { .. } => State::Log(VecDeque::new()),
            Self::Bucket { .. } => State::Gcra { tat: 0 },
        }
    }
}

/// The outcome of one charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Admitted; this many units are left right now.
    Allowed {
        /// Units left.
        remaining: u64,
    },
    /// Rejected; one more unit is available after this many nanoseconds (never 0).
    Wait(u64),
}

/// Per-key state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// GCRA theoretical arrival time.
    Gcra {
        /// When the bucket would be full again.
        tat: u64,
    },
    /// Admission times, oldest first, at most `requests` long.
    Log(VecDeque<u64>),
}

impl State {
    /// Charge `cost` (at most the capacity) at `now`; with `commit = false` only tell what
    /// would happen.
    pub(crate) fn charge(&mut self, params: Params, cost: u32, now: u64, commit: bool) -> Verdict {
        match (params, &mut *self) {
            (Params::Bucket { interval_ns, burst }, Self::Gcra { tat }) => {
                let tau = interval_ns.saturating_mul(u64::from(burst));
                let new_tat = (*tat).max(now).saturating_add(interval_ns.saturating_mul(u64::from(cost)));
                let used = new_tat - now;
                if used <= tau {
                    if commit {
                        *tat = new_tat;
                    }
                    Verdict::Allowed { remaining: (tau - used) / interval_ns.max(1) }
                } else {
                    Verdict::Wait(used - tau)
                }
            }
            (Params::Window { requests, window_ns }, Self::Log(log)) => {
                while log.front().is_some_and(|&t| t.saturating_add(window_ns) <= now) {
                    log.pop_front();
                }
                let (len, cost_n, cap) = (log.len() as u64, u64::from(cost), u64::from(requests));
                if len + cost_n <= cap {
                    if commit {
                        reserve_bounded(log, cost as usize, requests as usize);
                        // Times nearly always arrive in order: append without searching.
                        let in_order = log.back().is_none_or(|&t| t <= now);
                        let pos = if in_order { log.len() } else { log.partition_point(|&t| t <= now) };
                        for _ in 0..cost {
                            log.insert(pos, now);
                        }
                    }
                    Verdict::Allowed { remaining: cap - len - cost_n }
                } else {
                    // The entry that has to leave the window for `cost` units to fit.
                    let idx = usize::try_from(len + cost_n - cap - 1).unwrap_or(usize::MAX);
                    let leaves_at = log.get(idx).map_or(now, |&t| t.saturating_add(window_ns));
                    Verdict::Wait(leaves_at.saturating_sub(now).max(1))
                }
            }
            (p, state) => {
                // The algorithm of a limit never changes at runtime; start afresh if it did.
                *state = p.fresh();
                state.charge(p, cost, now, commit)
            }
        }
    }

    /// Give back `cost` units charged at `now` (the request was rejected by a later limit).
    pub(crate) fn refund(&mut self, params: Params, cost: u32, now: u64) {
        match (params, self) {
            (Params::Bucket { interval_ns, .. }, Self::Gcra { tat }) => {
                *tat = tat.saturating_sub(interval_ns.saturating_mul(u64::from(cost))).max(now);
            }
            (Params::Window { .. }, Self::Log(log)) => {
                for _ in 0..cost {
                    if let Some(i) = log.iter().rposition(|&t| t == now) {
                        log.remove(i);
                    }
                }
            }
            _ => {}
        }
    }

    /// From when on this state is the same as a fresh one (and may be forgotten).
    pub(crate) fn idle_at(&self, params: Params) -> u64 {
        match (params, self) {
            (_, Self::Gcra { tat }) => *tat,
            (Params::Window { window_ns, .. }, Self::Log(log)) => log.back().map_or(0, |t| t.saturating_add(window_ns)),
            (Params::Bucket { .. }, Self::Log(_)) => 0,
        }
    }
}

/// Grow the log by doubling, never past `requests` entries of capacity.
fn reserve_bounded(log: &mut VecDeque<u64>, add: usize, requests: usize) {
    let need = log.len() + add;
    if need > log.capacity() {
        let target = need.max(log.capacity().saturating_mul(2).min(requests)).max(4.min(requests));
        log.reserve_exact(target - log.len());
    }
}

#[cfg(test)]
mod tests;
