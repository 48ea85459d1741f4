//! A one-line progress display on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Redraws at most ten times a second; clears its line when dropped.
pub struct Line {
    label: &'static str,
    tty: bool,
    last: Option<Instant>,
}

impl Line {
    pub fn new(label: &'static str) -> Self {
        Self { label, tty: std::io::stderr().is_terminal(), last: None }
    }

    /// Show `records` processed and the share of `bytes` of `total` done.
    pub fn update(&mut self, records: u64, bytes: u64, total: u64) {
        if !self.tty || self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.last = Some(Instant::now());
        let pct = bytes.saturating_mul(100).checked_div(total).unwrap_or(100).min(100);
        let mut e = std::io::stderr();
        let _ = write!(e, "\r{}: {records} records, {pct}%   ", self.label);
        let _ = e.flush();
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.tty && self.last.is_some() {
            let mut e = std::io::stderr();
            let _ = write!(e, "\r\x1b[2K");
            let _ = e.flush();
        }
    }
}
