//! Alert delivery to an HTTP webhook, from a background task fed by a bounded queue.
//!
//! Each alert is POSTed as JSON `{"alert", "count", "threshold", "window_secs", "at"}` (`at` in
//! unix milliseconds). A 2xx answer is success; a connection error, a timeout, a 5xx or a 429 is
//! retried up to `retries` times after `backoff_ms`, doubling each time; any other status is
//! final. Redirects are not followed. The URL never appears in logs or errors (it often carries
//! a token); neither does the response body.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::alerts::AlertClass;
use crate::config::{AlertsConfig, WebhookUrl};
use crate::error::MonitorError;
use crate::metrics::Metrics;
use crate::target::unix_ms;

/// One alert on its way to the webhook.
#[derive(Clone, Debug)]
pub(crate) struct AlertNotice {
    pub(crate) class: AlertClass,
    pub(crate) count: u64,
    pub(crate) threshold: u64,
    pub(crate) window_secs: u64,
    pub(crate) at: SystemTime,
}

#[derive(Serialize)]
struct Body {
    alert: &'static str,
    count: u64,
    threshold: u64,
    window_secs: u64,
    at: u64,
}

/// The sending side; dropping it ends the background task once the queue is drained.
#[derive(Debug)]
pub(crate) struct Notifier {
    tx: mpsc::Sender<AlertNotice>,
}

struct Delivery {
    client: reqwest::Client,
    url: reqwest::Url,
    retries: u32,
    backoff: Duration,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Check the URL, build the client and start the delivery task on the current runtime.
    pub(crate) fn start(cfg: &AlertsConfig, url: &WebhookUrl, metrics: Arc<Metrics>) -> Result<Self, MonitorError> {
        let url = check_url(url)?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| MonitorError::NoRuntime)?;
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(MonitorError::NoCryptoProvider);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| MonitorError::WebhookClient(e.without_url().to_string()))?;
        let (tx, mut rx) = mpsc::channel::<AlertNotice>(cfg.queue_capacity);
        let d = Delivery { client, url, retries: cfg.retries, backoff: Duration::from_millis(cfg.backoff_ms), metrics };
        handle.spawn(async move {
            while let Some(n) = rx.recv().await {
                d.deliver(&n).await;
            }
        });
        Ok(Self { tx })
    }

    /// Queue `n` without waiting; false (and counted) when the queue is full.
    pub(crate) fn notify(&self, n: AlertNotice, metrics: &Metrics) -> bool {
        let queued = self.tx.try_send(n).is_ok();
        if !queued {
            metrics.webhook_dropped.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }
}

impl Delivery {
    async fn deliver(&self, n: &AlertNotice) {
        let body = Body {
            alert: n.class.as_str(),
            count: n.count,
            threshold: n.threshold,
            window_secs: n.window_secs,
            at: unix_ms(n.at),
        };
        let mut delay = self.backoff;
        for attempt in 0..=self.retries {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            match self.client.post(self.url.clone()).json(&body).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                    tracing::warn!(
                        alert = body.alert,
                        attempt,
                        status = r.status().as_u16(),
                        "alert webhook refused; will retry"
                    );
                }
                Ok(r) => {
                    tracing::error!(
                        alert = body.alert,
                        status = r.status().as_u16(),
                        "alert webhook rejected the alert; not retrying"
                    );
                    break;
                }
                Err(e) => {
                    let e = e.without_url();
                    tracing::warn!(alert = body.alert, attempt, error = %e, "alert webhook unreachable; will retry");
                }
            }
        }
        self.metrics.webhook_failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(alert = body.alert, "alert webhook delivery failed; alert is in the log only");
    }
}

/// `https`, or `http` to a loopback host. Errors never echo the URL.
pub(crate) fn check_url(url: &WebhookUrl) -> Result<reqwest::Url, MonitorError> {
    let bad = |m: &str| MonitorError::Config(format!("alerts.webhook_url: {m}"));
    let u = reqwest::Url::parse(url.expose()).map_err(|_| bad("not a valid absolute URL"))?;
    let host = u.host_str().ok_or_else(|| bad("the URL has no host"))?;
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match u.scheme() {
        "https" => Ok(u),
        "http" if loopback => Ok(u),
        "http" => Err(bad("use https (plain http is accepted for loopback hosts only)")),
        _ => Err(bad("use an https URL")),
    }
}
