//! `breach_suspected`: repeated authorization failures on PHI-tagged tools and resources (and
//! breaches reported by other parts: a broken audit chain, a secret that does not decrypt) go to
//! the `[hipaa] notification` target — a webhook (JSON POST) or a command (JSON on stdin, no
//! shell) — with a timeout, from a background task that never blocks the request path.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcp_core::{SecurityEvent, SecurityEventKind};
use tokio::sync::mpsc;

use super::NotificationTarget;

/// Deliveries waiting at most; more are dropped (and logged).
const QUEUE: usize = 64;

/// Watches the security events of a server for suspected breaches.
#[derive(Debug)]
pub struct BreachWatch {
    phi: HashSet<String>,
    threshold: usize,
    recent: Mutex<VecDeque<Instant>>,
    tx: mpsc::Sender<SecurityEvent>,
}

impl BreachWatch {
    /// Watch denials on the `phi` targets (tool names, resource URIs): more than `threshold` in
    /// a minute make a `breach_suspected` event delivered to `target`. Starts the delivery task.
    pub fn start(target: NotificationTarget, phi: HashSet<String>, threshold: usize) -> Arc<Self> {
        let (tx, mut rx) = mpsc::channel::<SecurityEvent>(QUEUE);
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                if let Err(why) = deliver(&target, &e).await {
                    tracing::error!(target: "mcp_security", error = %why, "breach notification failed");
                }
            }
        });
        Arc::new(Self { phi, threshold: threshold.max(1), recent: Mutex::new(VecDeque::new()), tx })
    }

    /// Look at one security event (subscribe this to the monitor's bus).
    pub fn observe(&self, e: &SecurityEvent) {
        match e.kind {
            SecurityEventKind::BreachSuspected => self.notify(e.clone()),
            SecurityEventKind::AuthorizeFail if e.resource.as_deref().is_some_and(|r| self.phi.contains(r)) => {
                let now = Instant::now();
                let fire = {
                    let Ok(mut q) = self.recent.lock() else { return };
                    while q.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
                        q.pop_front();
                    }
                    q.push_back(now);
                    let fire = q.len() > self.threshold;
                    if fire {
                        q.clear();
                    }
                    fire
                };
                if fire {
                    let mut b = SecurityEvent::new(
                        SecurityEventKind::BreachSuspected,
                        "repeated authorization failures on PHI",
                        SystemTime::now(),
                    )
                    .with_rule("hipaa:phi_denials_per_minute");
                    b.principal = e.principal.clone();
                    b.peer = e.peer;
                    b.resource = e.resource.clone();
                    tracing::error!(target: "mcp_security", kind = "breach_suspected", principal = b.principal.as_deref(), resource = b.resource.as_deref(), "suspected breach: repeated authorization failures on PHI");
                    self.notify(b);
                }
            }
            _ => {}
        }
    }

    fn notify(&self, e: SecurityEvent) {
        if self.tx.try_send(e).is_err() {
            tracing::error!(target: "mcp_security", "breach notification queue full: a notification was dropped");
        }
    }
}

/// Report a suspected breach found outside the request path (a broken audit chain, a secret
/// store that does not decrypt): logged at error level and, with `[hipaa]` and a notification
/// target, delivered there.
pub async fn report_breach(cfg: &crate::Config, reason: &'static str) {
    tracing::error!(target: "mcp_security", kind = "breach_suspected", reason, "suspected breach");
    let Some(target) = cfg.hipaa.notification.as_ref().filter(|_| cfg.hipaa.enabled) else { return };
    let e = SecurityEvent::new(SecurityEventKind::BreachSuspected, reason, SystemTime::now());
    if let Err(why) = deliver(target, &e).await {
        tracing::error!(target: "mcp_security", error = %why, "breach notification failed");
    }
}

/// Deliver one event; `Err` says why it failed.
pub async fn deliver(target: &NotificationTarget, e: &SecurityEvent) -> Result<(), String> {
    let at = e.at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let body = serde_json::json!({"event": "breach_suspected", "at_ms": at, "detail": e});
    let timeout = Duration::from_millis(target.timeout_ms.max(1));
    if let Some(url) = &target.webhook_url {
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| format!("http client: {e}"))?;
        let r = client.post(url).json(&body).send().await.map_err(|e| format!("webhook: {}", e.without_url()))?;
        if !r.status().is_success() {
            return Err(format!("webhook answered {}", r.status()));
        }
    }
    if let Some(argv) = target.command.as_ref().filter(|a| !a.is_empty()) {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("command {:?}: {e}", argv[0]))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(body.to_string().as_bytes()).await;
        }
        let status = tokio::time::timeout(timeout, child.wait())
            .await
            .map_err(|_| format!("command {:?} took longer than {} ms", argv[0], target.timeout_ms))?
            .map_err(|e| format!("command {:?}: {e}", argv[0]))?;
        if !status.success() {
            return Err(format!("command {:?} exited with {status}", argv[0]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn repeated_phi_denials_reach_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("breach.json");
        let target = NotificationTarget {
            webhook_url: None,
            command: Some(vec!["sh".into(), "-c".into(), format!("cat > {}", out.display())]),
            timeout_ms: 5000,
        };
        let watch = BreachWatch::start(target, ["patient_record".to_owned()].into(), 3);
        let denial = |r: &str| {
            SecurityEvent::new(SecurityEventKind::AuthorizeFail, "denied", SystemTime::now())
                .with_principal("mallory")
                .with_resource(r)
        };
        for _ in 0..10 {
            watch.observe(&denial("calculate")); // not PHI: never counts
        }
        for _ in 0..3 {
            watch.observe(&denial("patient_record"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!out.exists(), "three denials are at the threshold, not over it");
        watch.observe(&denial("patient_record"));
        for _ in 0..50 {
            if out.exists() && std::fs::metadata(&out).unwrap().len() > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains("breach_suspected") && text.contains("mallory") && text.contains("patient_record"),
            "{text}"
        );
    }
}
