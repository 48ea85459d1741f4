//! How busy the machine is, from `/proc/stat`: before the runs (all cores) and during each run
//! (the server's core, to tell when other processes took part of it).

use std::time::Duration;

use super::server::SERVER_CORE;

/// Busy and total jiffies of one `/proc/stat` line (`cpu` for all cores, `cpuN` for one).
#[derive(Clone, Copy, Debug)]
pub struct CoreTimes {
    busy: u64,
    total: u64,
}

impl CoreTimes {
    fn read(name: &str) -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().find(|l| l.split_whitespace().next() == Some(name))?;
        let nums: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
        let total: u64 = nums.iter().take(8).sum();
        let idle = nums.get(3)? + nums.get(4)?;
        Some(Self { busy: total - idle, total })
    }

    /// The server's core, now.
    pub fn server_core() -> Option<Self> {
        Self::read(&format!("cpu{SERVER_CORE}"))
    }

    /// Share of the time since `earlier` this core (or set) was busy.
    pub fn busy_since(self, earlier: Self) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total).filter(|&t| t > 0)?;
        Some(self.busy.saturating_sub(earlier.busy) as f64 / total as f64)
    }
}

/// Warn when other processes keep the machine busy (the numbers would be noisy).
pub fn check_quiet() {
    let Some(before) = CoreTimes::read("cpu") else { return };
    std::thread::sleep(Duration::from_secs(1));
    let Some(busy) = CoreTimes::read("cpu").and_then(|now| now.busy_since(before)) else { return };
    eprintln!("machine busy before the runs: {:.0}% of all cores", busy * 100.0);
    if busy > 0.10 {
        eprintln!("WARNING: other processes are using the CPU; req/s and CPU/request will be noisy");
    }
}
