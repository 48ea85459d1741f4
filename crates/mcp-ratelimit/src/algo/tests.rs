use super::*;

const MS: u64 = 1_000_000;

fn window(requests: u32, ms: u64) -> Params {
    Params::Window { requests, window_ns: ms * MS }
}

fn bucket(per_sec: u64, burst: u32) -> Params {
    Params::Bucket { interval_ns: 1_000_000_000 / per_sec, burst }
}

#[test]
fn bucket_admits_burst_then_one_per_interval_with_exact_wait() {
    let p = bucket(10, 5); // 100 ms per token
    let mut s = p.fresh();
    let t0 = 1_000 * MS;
    for left in (0..5).rev() {
        assert_eq!(s.charge(p, 1, t0, true), Verdict::Allowed { remaining: left });
    }
    assert_eq!(s.charge(p, 1, t0, true), Verdict::Wait(100 * MS));
    assert_eq!(s.charge(p, 1, t0 + 100 * MS - 1, true), Verdict::Wait(1));
    assert_eq!(s.charge(p, 1, t0 + 100 * MS, true), Verdict::Allowed { remaining: 0 });
    // After a full idle period the whole burst is back.
    let later = t0 + 10_000 * MS;
    assert_eq!(s.idle_at(p), t0 + 600 * MS, "a full bucket again 500 ms after the last admission");
    assert_eq!(s.charge(p, 5, later, true), Verdict::Allowed { remaining: 0 });
    assert_eq!(s.charge(p, 2, later, true), Verdict::Wait(200 * MS));
}

#[test]
fn window_is_exact_and_slides() {
    let p = window(3, 1_000);
    let mut s = p.fresh();
    let t0 = 5_000 * MS;
    assert_eq!(s.charge(p, 1, t0, true), Verdict::Allowed { remaining: 2 });
    assert_eq!(s.charge(p, 1, t0 + 400 * MS, true), Verdict::Allowed { remaining: 1 });
    assert_eq!(s.charge(p, 1, t0 + 800 * MS, true), Verdict::Allowed { remaining: 0 });
    // Full until the first admission leaves the window, exactly at t0 + 1000 ms.
    assert_eq!(s.charge(p, 1, t0 + 900 * MS, true), Verdict::Wait(100 * MS));
    assert_eq!(s.charge(p, 1, t0 + 1_000 * MS - 1, true), Verdict::Wait(1));
    assert_eq!(s.charge(p, 1, t0 + 1_000 * MS, true), Verdict::Allowed { remaining: 0 });
    // Two units need the two oldest (t0+400, t0+800) to leave.
    assert_eq!(s.charge(p, 2, t0 + 1_000 * MS, true), Verdict::Wait(800 * MS));
    assert_eq!(s.idle_at(p), t0 + 2_000 * MS);
}

#[test]
fn window_keeps_order_when_times_arrive_out_of_order() {
    let p = window(3, 1_000);
    let mut s = p.fresh();
    assert!(matches!(s.charge(p, 1, 200 * MS, true), Verdict::Allowed { .. }));
    assert!(matches!(s.charge(p, 1, 100 * MS, true), Verdict::Allowed { .. }));
    assert!(matches!(s.charge(p, 1, 150 * MS, true), Verdict::Allowed { .. }));
    assert_eq!(s, State::Log(VecDeque::from([100 * MS, 150 * MS, 200 * MS])));
    assert_eq!(s.charge(p, 1, 300 * MS, true), Verdict::Wait(800 * MS));
}

#[test]
fn dry_run_changes_nothing() {
    for p in [window(2, 100), bucket(1, 2)] {
        let mut s = p.fresh();
        let before = s.clone();
        assert!(matches!(s.charge(p, 2, 7 * MS, false), Verdict::Allowed { remaining: 0 }));
        assert_eq!(s, before);
    }
}

#[test]
fn refund_restores_the_previous_state() {
    for p in [window(2, 100), bucket(1, 2)] {
        let mut s = p.fresh();
        assert!(matches!(s.charge(p, 1, 7 * MS, true), Verdict::Allowed { remaining: 1 }));
        let after_first = s.clone();
        assert!(matches!(s.charge(p, 1, 8 * MS, true), Verdict::Allowed { remaining: 0 }));
        s.refund(p, 1, 8 * MS);
        assert_eq!(s.charge(p, 1, 8 * MS, false), Verdict::Allowed { remaining: 0 });
        if matches!(p, Params::Window { .. }) {
            assert_eq!(s, after_first);
        }
    }
}

#[test]
fn log_capacity_never_exceeds_requests() {
    let p = window(10, 1_000);
    let mut s = p.fresh();
    for i in 0..10 {
        assert!(matches!(s.charge(p, 1, i, true), Verdict::Allowed { .. }));
    }
    let State::Log(log) = &s else { panic!("log expected") };
    assert_eq!(log.len(), 10);
    assert_eq!(log.capacity(), 10, "grows by doubling but never past `requests`");
}

#[test]
fn mismatched_state_is_reset() {
    let p = bucket(1, 1);
    let mut s = window(1, 1).fresh();
    assert_eq!(s.charge(p, 1, 0, true), Verdict::Allowed { remaining: 0 });
    assert!(matches!(s, State::Gcra { .. }));
}
