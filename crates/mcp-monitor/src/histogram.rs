//! The request latency histogram: fixed buckets, one atomic per bucket, per method class.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::prom;

/// Upper bounds of the buckets, seconds (the `+Inf` bucket is implicit). Fine below a
/// millisecond, where the security pipeline's own budget lies.
pub const BUCKETS: [f64; 16] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

const BUCKET_NANOS: [u64; 16] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The label of a latency sample: a fixed set, so a client cannot create new series by sending
/// invented method names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MethodClass {
    /// `initialize`.
    Initialize,
    /// `tools/call`.
    ToolsCall,
    /// `tools/list`.
    ToolsList,
    /// `resources/read`.
    ResourcesRead,
    /// `resources/list` and `resources/templates/list`.
    ResourcesList,
    /// `prompts/get`.
    PromptsGet,
    /// `prompts/list`.
    PromptsList,
    /// `ping`.
    Ping,
    /// Any `notifications/...`.
    Notification,
    /// Everything else.
    Other,
}

impl MethodClass {
    /// Every class, in metric order.
    pub const ALL: [Self; 10] = [
        Self::Initialize,
        Self::ToolsCall,
        Self::ToolsList,
        Self::ResourcesRead,
        Self::ResourcesList,
        Self::PromptsGet,
        Self::PromptsList,
        Self::Ping,
        Self::Notification,
        Self::Other,
    ];

    /// The class of a JSON-RPC method name.
    pub fn of(method: &str) -> Self {
        match method {
            "initialize" => Self::Initialize,
            "tools/call" => Self::ToolsCall,
            "tools/list" => Self::ToolsList,
            "resources/read" => Self::ResourcesRead,
            "resources/list" | "resources/templates/list" => Self::ResourcesList,
            "prompts/get" => Self::PromptsGet,
            "prompts/list" => Self::PromptsList,
            "ping" => Self::Ping,
            m if m.starts_with("notifications/") => Self::Notification,
            _ => Self::Other,
        }
    }

    /// The `method_class` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Initialize => "initialize",
            Self::ToolsCall => "tools_call",
            Self::ToolsList => "tools_list",
            Self::ResourcesRead => "resources_read",
            Self::ResourcesList => "resources_list",
            Self::PromptsGet => "prompts_get",
            Self::PromptsList => "prompts_list",
            Self::Ping => "ping",
            Self::Notification => "notification",
            Self::Other => "other",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Default)]
struct Series {
    /// Per-bucket counts (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; 17],
    sum_nanos: AtomicU64,
}

/// `mcp_request_duration_seconds`.
#[derive(Debug, Default)]
pub(crate) struct LatencyHistogram {
    series: [Series; 10],
}

impl LatencyHistogram {
    /// Count one request of `class` that took `d`. Two relaxed atomic adds.
    pub(crate) fn observe(&self, class: MethodClass, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let b = BUCKET_NANOS.iter().position(|&le| nanos <= le).unwrap_or(BUCKET_NANOS.len());
        let s = &self.series[class.index()];
        s.buckets[b].fetch_add(1, Ordering::Relaxed);
        s.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Append the histogram in text format; classes never observed are left out.
    pub(crate) fn render(&self, out: &mut String) {
        const NAME: &str = "mcp_request_duration_seconds";
        prom::header(out, NAME, "histogram", "Request latency through the server, by method class.");
        for class in MethodClass::ALL {
            let s = &self.series[class.index()];
            let counts: Vec<u64> = s.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let label = class.as_str();
            let mut cumulative = 0;
            for (i, c) in counts.iter().enumerate() {
                cumulative += c;
                let le = BUCKETS.get(i).map_or_else(|| "+Inf".to_owned(), |b| prom::float(*b));
                prom::sample(
                    out,
                    "mcp_request_duration_seconds_bucket",
                    &[("method_class", label), ("le", &le)],
                    cumulative,
                );
            }
            let sum = s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            prom::sample(out, "mcp_request_duration_seconds_sum", &[("method_class", label)], prom::float(sum));
            prom::sample(out, "mcp_request_duration_seconds_count", &[("method_class", label)], total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_their_nanosecond_bounds() {
        for (s, n) in BUCKETS.iter().zip(BUCKET_NANOS) {
            assert_eq!((s * 1e9).round() as u64, n);
        }
    }

    #[test]
    fn classes_and_rendering() {
        assert_eq!(MethodClass::of("tools/call"), MethodClass::ToolsCall);
        assert_eq!(MethodClass::of("notifications/initialized"), MethodClass::Notification);
        assert_eq!(MethodClass::of("made/up"), MethodClass::Other);
        let h = LatencyHistogram::default();
        h.observe(MethodClass::ToolsCall, Duration::from_micros(100));
        h.observe(MethodClass::ToolsCall, Duration::from_millis(3));
        h.observe(MethodClass::ToolsCall, Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out);
        assert!(out.contains("mcp_request_duration_seconds_bucket{method_class=\"tools_call\",le=\"0.0001\"} 1\n"));
        assert!(out.contains("{method_class=\"tools_call\",le=\"0.0025\"} 1\n"));
        assert!(out.contains("{method_class=\"tools_call\",le=\"0.005\"} 2\n"));
        assert!(out.contains("{method_class=\"tools_call\",le=\"10\"} 2\n"));
        assert!(out.contains("{method_class=\"tools_call\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("mcp_request_duration_seconds_count{method_class=\"tools_call\"} 3\n"));
        assert!(out.contains("mcp_request_duration_seconds_sum{method_class=\"tools_call\"} 60.0031\n"));
        assert!(!out.contains("tools_list"), "unobserved classes are left out");
    }
}
