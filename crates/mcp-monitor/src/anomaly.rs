//! Per-client baselines and the anomaly test.
//!
//! Time is cut into buckets of `bucket_secs`. Each client counts requests and failures in its
//! current bucket. When a request arrives in a later bucket, the finished bucket is folded into
//! two exponentially weighted moving averages: `rate` (requests per bucket) and `ratio`
//! (failures / requests); buckets skipped without any request fold in as zero requests (the
//! rate decays by `(1 - alpha)` per empty bucket, the ratio is unchanged). The very first bucket
//! initializes the averages instead of being averaged with zero.
//!
//! The test runs on every request against the bucket in progress, so a burst is noticed within
//! the bucket, not after it:
//! - rate: `count > anomaly_factor * max(rate, min_rate)`;
//! - failures: `count >= min_requests_for_ratio` and `failures / count > ratio + failure_margin`.
//!
//! Nothing fires before `min_observations` buckets have been folded (warm-up), and at most one
//! anomaly per client per bucket. A burst that lasts is folded into the baseline like any other
//! bucket, so an anomaly that becomes the new normal stops alarming after a few buckets.

use std::sync::Arc;

use crate::config::AnomalyConfig;
use crate::shard::{LastSeen, ShardedMap};

/// Which deviation was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deviation {
    /// Request rate above the baseline.
    Rate,
    /// Failure ratio above the baseline.
    FailureRatio,
}

impl Deviation {
    pub(crate) const fn rule(self) -> &'static str {
        match self {
            Self::Rate => "anomaly:rate",
            Self::FailureRatio => "anomaly:failure_ratio",
        }
    }

    pub(crate) const fn reason(self) -> &'static str {
        match self {
            Self::Rate => "request rate far above the client's baseline",
            Self::FailureRatio => "failure ratio far above the client's baseline",
        }
    }
}

#[derive(Debug)]
struct Baseline {
    bucket: u64,
    count: u32,
    failures: u32,
    rate: f64,
    ratio: f64,
    observations: u32,
    alerted: Option<u64>,
    last_seen: u64,
}

impl LastSeen for Baseline {
    fn last_seen(&self) -> u64 {
        self.last_seen
    }
}

impl Baseline {
    fn new(bucket: u64) -> Self {
        Self { bucket, count: 0, failures: 0, rate: 0.0, ratio: 0.0, observations: 0, alerted: None, last_seen: 0 }
    }

    fn roll(&mut self, bucket: u64, alpha: f64) {
        if bucket <= self.bucket {
            return;
        }
        let count = f64::from(self.count);
        if self.observations == 0 {
            self.rate = count;
            self.ratio = if self.count > 0 { f64::from(self.failures) / count } else { 0.0 };
        } else {
            self.rate += alpha * (count - self.rate);
            if self.count > 0 {
                self.ratio += alpha * (f64::from(self.failures) / count - self.ratio);
            }
        }
        let empty = (bucket - self.bucket - 1).min(1000);
        self.rate *= (1.0 - alpha).powi(i32::try_from(empty).unwrap_or(1000));
        self.observations =
            self.observations.saturating_add(1).saturating_add(u32::try_from(empty).unwrap_or(u32::MAX));
        self.bucket = bucket;
        self.count = 0;
        self.failures = 0;
    }

    fn observe(&mut self, bucket: u64, now: u64, ok: bool, c: &AnomalyConfig) -> Option<Deviation> {
        self.roll(bucket, c.alpha);
        self.last_seen = self.last_seen.max(now);
        self.count = self.count.saturating_add(1);
        self.failures = self.failures.saturating_add(u32::from(!ok));
        if self.observations < c.min_observations || self.alerted == Some(self.bucket) {
            return None;
        }
        let count = f64::from(self.count);
        let deviation = if count > c.anomaly_factor * self.rate.max(c.min_rate) {
            Some(Deviation::Rate)
        } else if self.count >= c.min_requests_for_ratio
            && f64::from(self.failures) / count > self.ratio + c.failure_margin
        {
            Some(Deviation::FailureRatio)
        } else {
            None
        };
        if deviation.is_some() {
            self.alerted = Some(self.bucket);
        }
        deviation
    }
}

/// Baselines of every active client, bounded.
pub(crate) struct AnomalyDetector {
    clients: ShardedMap<Arc<str>, Baseline>,
    config: AnomalyConfig,
    bucket_ms: u64,
}

impl AnomalyDetector {
    pub(crate) fn new(config: &AnomalyConfig) -> Self {
        Self {
            clients: ShardedMap::new(config.max_clients),
            config: config.clone(),
            bucket_ms: config.bucket_secs.saturating_mul(1000).max(1),
        }
    }

    /// Count one request of `client` at `now` (ms); `Some` when it makes the client anomalous.
    pub(crate) fn observe(&self, client: &str, now: u64, ok: bool) -> Option<Deviation> {
        let bucket = now / self.bucket_ms;
        self.clients.with(
            client,
            || Arc::from(client),
            || Baseline::new(bucket),
            |b| b.observe(bucket, now, ok, &self.config),
        )
    }

    /// Drop clients idle for longer than ten times the warm-up (their baseline decayed anyway).
    pub(crate) fn purge(&self, now: u64) {
        let idle = self.bucket_ms.saturating_mul(u64::from(self.config.min_observations.max(1)) * 10);
        self.clients.retain_mut(|b| now.saturating_sub(b.last_seen) < idle);
    }

    /// Number of clients with a baseline.
    pub(crate) fn len(&self) -> usize {
        self.clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AnomalyConfig {
        AnomalyConfig { min_observations: 5, ..AnomalyConfig::default() }
    }

    /// `per_bucket` requests spread over each of `buckets` buckets starting at `start`.
    fn traffic(d: &AnomalyDetector, id: &str, start: u64, buckets: u64, per_bucket: u64, ok: bool) -> usize {
        let mut anomalies = 0;
        for b in start..start + buckets {
            for i in 0..per_bucket {
                let now = b * 60_000 + i * (60_000 / per_bucket.max(1));
                anomalies += usize::from(d.observe(id, now, ok).is_some());
            }
        }
        anomalies
    }

    #[test]
    fn steady_traffic_is_quiet_and_burst_fires_once() {
        let d = AnomalyDetector::new(&cfg());
        assert_eq!(traffic(&d, "a", 0, 30, 20, true), 0);
        assert_eq!(traffic(&d, "a", 30, 1, 200, true), 1, "10x burst fires once in its bucket");
    }

    #[test]
    fn warm_up_suppresses_new_clients() {
        let d = AnomalyDetector::new(&cfg());
        assert_eq!(traffic(&d, "new", 0, 1, 500, true), 0);
        assert_eq!(traffic(&d, "new", 1, 3, 20, false), 0);
    }

    #[test]
    fn failure_ratio_jump_fires() {
        let d = AnomalyDetector::new(&cfg());
        assert_eq!(traffic(&d, "a", 0, 20, 20, true), 0);
        assert_eq!(traffic(&d, "a", 20, 1, 20, false), 1);
        assert_eq!(d.len(), 1);
        d.purge(10_000_000);
        assert_eq!(d.len(), 0);
    }
}
