//! Hot-path costs of the monitor:
//! `cargo bench -p mcp-monitor --bench monitor -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_core::{SecurityEvent, SecurityEventKind, SystemClock};
use mcp_monitor::{BlockTarget, MethodClass, MonitoringConfig, SecurityMonitor};

fn monitor() -> SecurityMonitor {
    SecurityMonitor::new(&MonitoringConfig::default(), Arc::new(SystemClock)).expect("monitor")
}

fn publish(c: &mut Criterion) {
    let m = monitor();
    let ok = SecurityEvent::new(SecurityEventKind::Authenticated, "authenticated", SystemTime::now())
        .with_principal("alice")
        .with_peer(Some("192.0.2.1:1234".parse().expect("addr")));
    c.bench_function("publish/no_subscribers/authenticated", |b| b.iter(|| m.publish(black_box(&ok))));
    // A failure from a rotating set of addresses, with blocking off so the counters never stop.
    let cfg: MonitoringConfig = toml::from_str("[blocking]\nblock_after = 1000").expect("config");
    let m = SecurityMonitor::new(&cfg, Arc::new(SystemClock)).expect("monitor");
    let fails: Vec<SecurityEvent> = (0..256u32)
        .map(|i| {
            SecurityEvent::new(SecurityEventKind::AuthorizeFail, "denied", SystemTime::now())
                .with_principal(format!("client-{i}"))
                .with_peer(Some(std::net::SocketAddr::new(IpAddr::from([10, 0, (i >> 8) as u8, i as u8]), 1)))
        })
        .collect();
    let mut i = 0usize;
    c.bench_function("publish/no_subscribers/authorize_fail", |b| {
        b.iter(|| {
            i = (i + 1) & 255;
            m.publish(black_box(&fails[i]));
        })
    });
    let m = monitor();
    let (_sub, _rx) = m.subscribe_channel(1);
    let _cb = m.subscribe(Arc::new(|e: &SecurityEvent| {
        black_box(e);
    }));
    c.bench_function("publish/callback+full_channel/authenticated", |b| b.iter(|| m.publish(black_box(&ok))));
}

fn is_blocked(c: &mut Criterion) {
    let m = monitor();
    let ip: IpAddr = "198.51.100.9".parse().expect("ip");
    c.bench_function("is_blocked_ip/empty_table", |b| b.iter(|| m.is_blocked_ip(black_box(ip))));
    for i in 0..10_000u32 {
        let t = BlockTarget::Ip(IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]));
        m.block(t, Duration::from_secs(3600), "bench").expect("block");
    }
    m.block(BlockTarget::client("mallory").expect("id"), Duration::from_secs(3600), "bench").expect("block");
    c.bench_function("is_blocked_ip/10k_blocks/miss", |b| b.iter(|| m.is_blocked_ip(black_box(ip))));
    let hit: IpAddr = "10.0.1.1".parse().expect("ip");
    c.bench_function("is_blocked_ip/10k_blocks/hit", |b| b.iter(|| m.is_blocked_ip(black_box(hit))));
    c.bench_function("is_blocked_client/10k_blocks/miss", |b| b.iter(|| m.is_blocked_client(black_box("alice"))));
}

fn observe(c: &mut Criterion) {
    let m = monitor();
    let ids: Vec<String> = (0..1024).map(|i| format!("client-{i}")).collect();
    let mut i = 0usize;
    c.bench_function("observe_request/1k_clients", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            m.observe_request(black_box(&ids[i]), true);
        })
    });
    c.bench_function("observe_latency", |b| {
        b.iter(|| m.observe_latency(black_box(MethodClass::ToolsCall), black_box(Duration::from_micros(180))))
    });
    c.bench_function("render_metrics", |b| b.iter(|| black_box(m.render_metrics())));
}

criterion_group!(benches, publish, is_blocked, observe);
criterion_main!(benches);
