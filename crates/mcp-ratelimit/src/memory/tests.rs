use std::sync::Arc;

use super::*;

const P: Params = Params::Bucket { interval_ns: 1_000, burst: 3 };
const CHARGE: Op = Op::Charge { cost: 1, commit: true };

#[test]
fn keys_are_independent_and_bounded_with_a_shared_overflow() {
    let store = MemoryStore::new(1, 1); // one key per shard: 64 in all
    assert_eq!(store.capacity(), 64);
    let names: Vec<String> = (0..2_000).map(|i| format!("client-{i}")).collect();
    let mut overflowed = 0;
    for n in &names {
        let out = store.run(&Key { limit: 0, a: n.as_bytes(), b: &[] }, P, CHARGE, 0);
        overflowed += usize::from(out.overflowed);
    }
    assert_eq!(store.len(), 64);
    assert_eq!(overflowed, 2_000 - 64);
    // The overflow budget is shared: it admitted 3 and rejects the rest until it refills.
    let out = store.run(&Key { limit: 0, a: b"yet-another", b: &[] }, P, CHARGE, 0);
    assert!(out.overflowed && matches!(out.verdict, Verdict::Wait(_)));
    // Once the tracked keys are idle, new keys are tracked again.
    let out = store.run(&Key { limit: 0, a: b"yet-another", b: &[] }, P, CHARGE, 1_000_000);
    assert!(!out.overflowed && matches!(out.verdict, Verdict::Allowed { remaining: 2 }));
    assert!(store.sweep(1_000_000) > 0);
}

#[test]
fn concurrent_threads_admit_exactly_the_burst() {
    let store = Arc::new(MemoryStore::new(1, 1_000));
    let admitted = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..1_000 {
                    let out = store.run(&Key { limit: 0, a: b"k", b: &[] }, P, CHARGE, 5);
                    if matches!(out.verdict, Verdict::Allowed { .. }) {
                        admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(admitted.into_inner(), 3);
}
