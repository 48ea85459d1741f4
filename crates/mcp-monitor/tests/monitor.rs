//! End-to-end tests of the monitor with an injected clock, a real block file and a real local
//! HTTP server for the webhook.

mod blockfile;
mod common;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "webhook")]
mod webhook;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{ManualClock, auth_fail, monitor_with, recv_all};
use mcp_core::{SecurityEvent, SecurityEventKind};
use mcp_monitor::AlertClass;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn failures_block_ip_and_client_with_escalation() {
    let clock = ManualClock::new();
    let m = monitor_with("", &clock);
    let (_sub, mut rx) = m.subscribe_channel(64);
    for _ in 0..4 {
        m.publish(&auth_fail(Some("mallory"), Some("203.0.113.7:999")));
    }
    assert!(m.is_blocked_ip(ip("203.0.113.7")).is_none());
    assert_eq!(m.failures(&"ip:203.0.113.7".parse().expect("t")), 4);
    m.publish(&auth_fail(Some("mallory"), Some("203.0.113.7:999")));
    let b = m.is_blocked_ip(ip("203.0.113.7")).expect("ip blocked");
    assert_eq!(b.until, clock.now() + Duration::from_secs(300));
    assert_eq!(&*b.reason, "too many failed attempts");
    assert!(m.is_blocked_client("mallory").is_some());
    assert!(m.is_blocked_client("alice").is_none());
    assert_eq!(m.metrics().blocked_requests_total(), 2);
    let blocked: Vec<SecurityEvent> =
        recv_all(&mut rx).into_iter().filter(|e| e.kind == SecurityEventKind::ClientBlocked).collect();
    assert_eq!(blocked.len(), 2, "one event per blocked key");
    assert!(blocked.iter().any(|e| e.principal.as_deref() == Some("mallory")));
    assert!(blocked.iter().any(|e| e.peer.map(|p| p.ip()) == Some(ip("203.0.113.7"))));
    assert!(blocked.iter().all(|e| e.rule.as_deref() == Some("block:failed_attempts")));

    // After the block expires, the next round of failures blocks twice as long.
    clock.advance(Duration::from_secs(301));
    assert!(m.is_blocked_ip(ip("203.0.113.7")).is_none());
    for _ in 0..5 {
        m.publish(&auth_fail(None, Some("203.0.113.7:1000")));
    }
    let b = m.is_blocked_ip(ip("203.0.113.7")).expect("blocked again");
    assert_eq!(b.until, clock.now() + Duration::from_secs(600));
}

#[test]
fn escalation_is_capped_and_decays() {
    let clock = ManualClock::new();
    let m = monitor_with(
        "[blocking]\nblock_after = 2\nblock_secs = 100\nmax_block_secs = 350\nrepeat_decay_secs = 1000",
        &clock,
    );
    let mut durations = Vec::new();
    for _ in 0..4 {
        m.publish(&auth_fail(None, Some("198.51.100.1:1")));
        m.publish(&auth_fail(None, Some("198.51.100.1:1")));
        let b = m.is_blocked_ip(ip("198.51.100.1")).expect("blocked");
        durations.push(b.until.duration_since(clock.now()).expect("future").as_secs());
        clock.advance(b.until.duration_since(clock.now()).expect("future") + Duration::from_secs(1));
    }
    assert_eq!(durations, vec![100, 200, 350, 350]);
    clock.advance(Duration::from_secs(1001));
    m.publish(&auth_fail(None, Some("198.51.100.1:1")));
    m.publish(&auth_fail(None, Some("198.51.100.1:1")));
    let b = m.is_blocked_ip(ip("198.51.100.1")).expect("blocked");
    assert_eq!(b.until.duration_since(clock.now()).expect("future").as_secs(), 100, "repeat count decayed");
}

#[test]
fn anonymous_principal_and_uncounted_kinds_never_block() {
    let clock = ManualClock::new();
    let m = monitor_with("", &clock);
    for _ in 0..50 {
        m.publish(&auth_fail(Some("anonymous"), None));
        m.publish(&SecurityEvent::new(SecurityEventKind::ValidationFail, "bad", clock.now()).with_principal("bob"));
    }
    assert!(m.is_blocked_client("anonymous").is_none());
    assert!(m.is_blocked_client("bob").is_none());
    assert!(m.list_blocks().is_empty());
}

#[test]
fn ipv6_counts_per_prefix() {
    let clock = ManualClock::new();
    let m = monitor_with("", &clock);
    for i in 1..=5 {
        m.publish(&auth_fail(None, Some(&format!("[2001:db8:0:1::{i}]:443"))));
    }
    assert!(m.is_blocked_ip(ip("2001:db8:0:1:ffff::9")).is_some(), "the whole /64 is blocked");
    assert!(m.is_blocked_ip(ip("2001:db8:0:2::1")).is_none());
}

#[test]
fn alerts_fire_once_per_window_with_rule_and_metric() {
    let clock = ManualClock::new();
    let m = monitor_with("[anomaly]\nenabled = false\n[blocking]\nenabled = false", &clock);
    let (_sub, mut rx) = m.subscribe_channel(256);
    for _ in 0..40 {
        m.publish(&auth_fail(None, Some("192.0.2.10:1")));
    }
    let alerts: Vec<SecurityEvent> =
        recv_all(&mut rx).into_iter().filter(|e| e.kind == SecurityEventKind::Alert).collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule.as_deref(), Some("alert:auth_failures"));
    assert_eq!(m.metrics().alerts_total(AlertClass::AuthFailures), 1);
    // Two windows later, a handful of failures stays under the threshold.
    clock.advance(Duration::from_secs(180));
    for _ in 0..10 {
        m.publish(&auth_fail(None, Some("192.0.2.10:1")));
    }
    assert_eq!(m.metrics().alerts_total(AlertClass::AuthFailures), 1);
    for _ in 0..11 {
        m.record_large_message();
    }
    assert_eq!(m.metrics().alerts_total(AlertClass::LargeMessages), 1);
    assert!(m.render_metrics().contains("mcp_large_messages_total 11\n"));
    assert!(m.render_metrics().contains("mcp_alerts_total{class=\"large_messages\"} 1\n"));
}

#[test]
fn anomaly_through_the_monitor() {
    let clock = ManualClock::new();
    let m = monitor_with("[anomaly]\nmin_observations = 5", &clock);
    let (_sub, mut rx) = m.subscribe_channel(64);
    // Steady 20 requests per minute for 20 minutes, and a new client bursting at once.
    for _ in 0..20 {
        for _ in 0..20 {
            m.observe_request("steady", true);
            clock.advance(Duration::from_secs(3));
        }
    }
    for _ in 0..300 {
        m.observe_request("newcomer", true);
    }
    assert!(recv_all(&mut rx).is_empty(), "no anomaly for steady traffic or during warm-up");
    for _ in 0..200 {
        m.observe_request("steady", true);
    }
    let events = recv_all(&mut rx);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, SecurityEventKind::Anomaly);
    assert_eq!(events[0].principal.as_deref(), Some("steady"));
    assert_eq!(events[0].rule.as_deref(), Some("anomaly:rate"));
}

#[test]
fn slow_channel_subscriber_loses_events_and_publish_goes_on() {
    let clock = ManualClock::new();
    let m = monitor_with("", &clock);
    let (sub, mut rx) = m.subscribe_channel(3);
    for _ in 0..10 {
        m.publish(&SecurityEvent::new(SecurityEventKind::Authenticated, "ok", clock.now()));
    }
    assert_eq!(m.dropped_events(), 7);
    assert_eq!(recv_all(&mut rx).len(), 3);
    drop(sub);
    m.publish(&SecurityEvent::new(SecurityEventKind::Authenticated, "ok", clock.now()));
    assert!(rx.try_recv().is_err(), "unsubscribed on drop");
    assert!(m.render_metrics().contains("mcp_security_events_dropped_total 7\n"));
    assert!(m.render_metrics().contains("mcp_security_events_total{kind=\"authenticated\"} 11\n"));
}

#[test]
fn block_table_is_bounded_and_keeps_manual_blocks() {
    let clock = ManualClock::new();
    let m = monitor_with("[blocking]\nmax_blocks = 2\nblock_after = 1", &clock);
    m.block("ip:192.0.2.1".parse().expect("t"), Duration::from_secs(3600), "manual").expect("block");
    m.publish(&auth_fail(None, Some("192.0.2.2:1")));
    clock.advance(Duration::from_secs(1));
    m.publish(&auth_fail(None, Some("192.0.2.3:1")));
    // The automatic block that ends first made room; the manual one stays.
    assert!(m.is_blocked_ip(ip("192.0.2.1")).is_some());
    assert!(m.is_blocked_ip(ip("192.0.2.2")).is_none());
    assert!(m.is_blocked_ip(ip("192.0.2.3")).is_some());
    m.block("ip:192.0.2.4".parse().expect("t"), Duration::from_secs(3600), "manual").expect("block");
    let err = m.block("ip:192.0.2.5".parse().expect("t"), Duration::from_secs(3600), "manual").expect_err("full");
    assert!(err.to_string().contains("full of active manual blocks"), "{err}");
    m.publish(&auth_fail(None, Some("192.0.2.6:1")));
    assert!(m.is_blocked_ip(ip("192.0.2.6")).is_none(), "no room left: not blocked, not panicking");
    assert_eq!(m.list_blocks().len(), 2);
}

#[test]
fn concurrent_publishers_count_exactly() {
    let clock = ManualClock::new();
    let m = Arc::new(monitor_with("[blocking]\nblock_after = 5", &clock));
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                for i in 0..1000u32 {
                    // 250 addresses per thread, each failing 4 times: nobody reaches 5.
                    m.publish(&auth_fail(None, Some(&format!("10.{t}.0.{}:1", i % 250))));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert!(m.render_metrics().contains("mcp_auth_failures_total 4000\n"));
    assert!(m.list_blocks().is_empty());
    assert!(m.render_metrics().contains("mcp_tracked_keys 1000\n"));
    // One more failure tips every address over.
    m.publish(&auth_fail(None, Some("10.3.0.7:1")));
    assert!(m.is_blocked_ip(ip("10.3.0.7")).is_some());
}

#[test]
fn subscribe_raised_sees_only_what_the_monitor_raises() {
    let clock = ManualClock::new();
    let m = monitor_with("[blocking]\nblock_after = 3\n[alerts.thresholds]\nauth_failures = 2", &clock);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let _sub = m.subscribe_raised(Arc::new(move |e: &SecurityEvent| s.lock().expect("lock").push(e.kind)));
    for _ in 0..3 {
        m.publish(&auth_fail(Some("mallory"), None));
    }
    m.block("ip:192.0.2.1".parse().expect("t"), Duration::from_secs(60), "manual").expect("block");
    let kinds = seen.lock().expect("lock").clone();
    assert_eq!(
        kinds,
        [SecurityEventKind::ClientBlocked, SecurityEventKind::Alert, SecurityEventKind::ClientBlocked],
        "the automatic block and the alert on the 3rd failure, then the manual block; never the failures"
    );
}

fn authz_fail(method: &str) -> SecurityEvent {
    SecurityEvent::new(SecurityEventKind::AuthorizeFail, "missing permission", std::time::SystemTime::now())
        .with_principal("lister")
        .with_peer(Some("198.51.100.4:1".parse().expect("addr")))
        .with_method(method)
}

#[test]
fn list_denials_do_not_count_toward_blocks_unless_asked() {
    let clock = ManualClock::new();
    let m = monitor_with("[blocking]\nblock_after = 3", &clock);
    for method in ["tools/list", "resources/list", "resources/templates/list", "prompts/list"].repeat(3) {
        m.publish(&authz_fail(method));
    }
    assert!(m.is_blocked_client("lister").is_none() && m.is_blocked_ip(ip("198.51.100.4")).is_none());
    assert_eq!(m.metrics().events_total(SecurityEventKind::AuthorizeFail), 12, "still counted as events");
    // A denied call (a hidden tool asked for by name) is an attempt.
    for _ in 0..3 {
        m.publish(&authz_fail("tools/call"));
    }
    assert!(m.is_blocked_client("lister").is_some());
    let m = monitor_with("[blocking]\nblock_after = 3\ncount_list_denials = true", &clock);
    for _ in 0..3 {
        m.publish(&authz_fail("prompts/list"));
    }
    assert!(m.is_blocked_client("lister").is_some());
}
