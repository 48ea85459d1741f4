use super::*;

const P: Params = Params::Window { requests: 2, window_ns: 100 };
const CHARGE: Op = Op::Charge { cost: 1, commit: true };

fn key(a: &'static str, b: &'static str) -> Key<'static> {
    Key { limit: 0, a: a.as_bytes(), b: b.as_bytes() }
}

#[test]
fn keys_with_the_same_hash_are_kept_apart() {
    let mut m = ShardMap::default();
    // Same hash on purpose: the chain must still tell the keys apart, including the split.
    for k in [key("ab", "c"), key("a", "bc"), key("abc", ""), Key { limit: 1, ..key("ab", "c") }] {
        assert_eq!(m.run(7, &k, P, CHARGE, 0, 10), Ok(Verdict::Allowed { remaining: 1 }));
    }
    assert_eq!(m.len(), 4);
    assert_eq!(m.run(7, &key("a", "bc"), P, CHARGE, 0, 10), Ok(Verdict::Allowed { remaining: 0 }));
    assert_eq!(m.run(7, &key("a", "bc"), P, CHARGE, 0, 10), Ok(Verdict::Wait(100)));
    assert_eq!(m.run(7, &key("ab", "c"), P, CHARGE, 0, 10), Ok(Verdict::Allowed { remaining: 0 }));
}

#[test]
fn a_full_shard_evicts_idle_keys_then_refuses_new_ones() {
    let mut m = ShardMap::default();
    assert!(m.run(1, &key("a", ""), P, CHARGE, 0, 2).is_ok());
    assert!(m.run(2, &key("b", ""), P, CHARGE, 50, 2).is_ok());
    // Full, nothing idle yet.
    assert_eq!(m.run(3, &key("c", ""), P, CHARGE, 60, 2), Err(Full));
    // Known keys still work when full.
    assert!(m.run(1, &key("a", ""), P, CHARGE, 60, 2).is_ok());
    // At 150 "b" is idle (its only entry left the window at 150), "a" is not (entry at 60).
    assert_eq!(m.run(3, &key("c", ""), P, CHARGE, 150, 2), Ok(Verdict::Allowed { remaining: 1 }));
    assert_eq!(m.len(), 2);
    // "b" starts afresh.
    assert_eq!(
        m.run(2, &key("b", ""), P, Op::Charge { cost: 1, commit: false }, 150, 2),
        Ok(Verdict::Allowed { remaining: 1 })
    );
}

#[test]
fn sweep_drops_idle_entries_anywhere_in_a_chain() {
    let mut m = ShardMap::default();
    assert!(m.run(9, &key("old", ""), P, CHARGE, 0, 10).is_ok());
    assert!(m.run(9, &key("new", ""), P, CHARGE, 80, 10).is_ok());
    assert!(m.run(9, &key("older", ""), P, CHARGE, 10, 10).is_ok());
    assert_eq!(m.sweep(120), 2);
    assert_eq!(m.len(), 1);
    assert_eq!(m.run(9, &key("new", ""), P, CHARGE, 120, 10), Ok(Verdict::Allowed { remaining: 0 }));
    assert_eq!(m.sweep(1_000), 1);
    assert_eq!(m.len(), 0);
}

#[test]
fn dry_runs_and_refunds_of_unknown_keys_do_not_insert() {
    let mut m = ShardMap::default();
    assert!(m.run(1, &key("a", ""), P, Op::Charge { cost: 1, commit: false }, 0, 10).is_ok());
    assert_eq!(m.run(1, &key("a", ""), P, Op::Refund { cost: 1 }, 0, 10), Err(Full));
    assert_eq!(m.len(), 0);
}

#[test]
fn pass_through_hasher_uses_the_precomputed_hash() {
    let mut h = PassThrough::default();
    h.write_u64(42);
    assert_eq!(h.finish(), 42);
    h.write(&[1]);
    assert_ne!(h.finish(), 42);
}

#[test]
fn same_compares_every_byte() {
    let text = b"0123456789abcdefghij";
    for len in 0..text.len() {
        assert!(same(&text[..len], &text[..len]));
        for i in 0..len {
            let mut other = text[..len].to_vec();
            other[i] ^= 1;
            assert!(!same(&text[..len], &other), "len {len} byte {i}");
        }
        assert!(!same(&text[..len], &text[..len + 1]));
    }
}
