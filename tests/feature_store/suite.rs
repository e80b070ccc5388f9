//! The checks every feature store passes, each given a way to make a fresh
//! store (`MakeStore`).

use edgescore_runtime::feature_store::{
    Aggregate, EmbeddedLimits, FeatureStore, Observation, Receipt, StoreError,
};

use crate::{MakeStore, event, window, windows};

pub(crate) fn windows_count_sum_distinct_and_gap(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = windows();
    let first = store
        .observe("card", "c1", &event(0, 10.0, "m1"), &w)
        .expect("observe")
        .values;
    assert_eq!(first, vec![Some(1.0), Some(10.0), Some(1.0), None]);
    let second = store
        .observe("card", "c1", &event(600, 5.0, "m2"), &w)
        .expect("observe")
        .values;
    assert_eq!(second, vec![Some(2.0), Some(15.0), Some(2.0), Some(600.0)]);
    let third = store
        .observe("card", "c1", &event(600 + 3600, 1.0, "m1"), &w)
        .expect("observe")
        .values;
    // (t - 3600 s, t] excludes the first event.
    assert_eq!(third, vec![Some(1.0), Some(1.0), Some(1.0), Some(3600.0)]);
    let read = store
        .read("card", "c1", (600 + 3600) * 1000, &w)
        .expect("read");
    assert_eq!(read, vec![Some(1.0), Some(1.0), Some(1.0), Some(0.0)]);
    let other = store.read("card", "c2", 0, &w).expect("read");
    assert_eq!(other, vec![Some(0.0), Some(0.0), Some(0.0), None]);
    let other = store.read("device", "c1", 4200 * 1000, &w).expect("read");
    assert_eq!(other[0], Some(0.0));
}

pub(crate) fn a_late_event_lands_in_its_place(make: MakeStore<'_>) {
    let (in_order, late) = (
        make(EmbeddedLimits::default()),
        make(EmbeddedLimits::default()),
    );
    let w = windows();
    for s in [0, 100, 200] {
        in_order
            .observe("n", "e", &event(s, 1.5, "k"), &w)
            .expect("observe");
    }
    for s in [0, 200, 100] {
        late.observe("n", "e", &event(s, 1.5, "k"), &w)
            .expect("observe");
    }
    assert_eq!(
        in_order.read("n", "e", 300_000, &w),
        late.read("n", "e", 300_000, &w)
    );
}

pub(crate) fn retention_and_the_per_entity_cap_bound_memory(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits {
        retention_seconds: 3600,
        max_events_per_entity: 3,
        max_entities: 1000,
        ..EmbeddedLimits::default()
    });
    let w = vec![window("count", Aggregate::Count, 3600)];
    for s in 0..10 {
        store
            .observe("n", "a", &event(s, 1.0, "k"), &w)
            .expect("observe");
    }
    assert_eq!(
        store.read("n", "a", 9000, &w).expect("read"),
        vec![Some(3.0)]
    );
    // Past retention, old events go.
    store
        .observe("n", "a", &event(10_000, 1.0, "k"), &w)
        .expect("observe");
    assert_eq!(
        store.read("n", "a", 10_000_000, &w).expect("read"),
        vec![Some(1.0)]
    );
    // A window past retention is refused rather than silently short.
    let long = vec![window("day", Aggregate::Count, 86_400)];
    assert!(matches!(
        store.read("n", "a", 0, &long),
        Err(StoreError::Invalid(_))
    ));
}

pub(crate) fn malformed_requests_are_refused(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = windows();
    assert!(matches!(
        store.observe("", "e", &event(0, 1.0, "k"), &w),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.observe("n", "", &event(0, 1.0, "k"), &w),
        Err(StoreError::Invalid(_))
    ));
    let zero = vec![window("zero", Aggregate::Count, 0)];
    assert!(matches!(
        store.read("n", "e", 0, &zero),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.observe("n", "e", &event(0, f64::NAN, "k"), &w),
        Err(StoreError::Invalid(_))
    ));
}

pub(crate) fn concurrent_observers_all_count(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = vec![
        window("count", Aggregate::Count, 3600),
        window("sum", Aggregate::Sum, 3600),
    ];
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (store, w) = (store.clone(), w.clone());
            std::thread::spawn(move || {
                for i in 0..250 {
                    store
                        .observe(
                            "card",
                            "same",
                            &event(i64::from(t * 250 + i) / 1000, 0.25, "k"),
                            &w,
                        )
                        .expect("observe");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(
        store.read("card", "same", 10_000, &w).expect("read"),
        vec![Some(1000.0), Some(250.0)]
    );
}

pub(crate) fn lookups_return_what_was_put(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    store
        .put("card", "c1", "chargebacks-90d", 2.0)
        .expect("put");
    let got = store
        .lookup("card", "c1", &["chargebacks-90d".into(), "unknown".into()])
        .expect("lookup");
    assert_eq!(got, vec![Some(2.0), None]);
}

/// A pseudo-random stream (values with many digits, repeated keys, late
/// events) gives bit-identical aggregates in `a` and `b`.
pub(crate) fn same_stream_same_bits(a: &dyn FeatureStore, b: &dyn FeatureStore) {
    let w = windows();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..600 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let entity = format!("c{}", x % 7);
        let late = if x.is_multiple_of(10) { 300 } else { 0 };
        let e = Observation {
            timestamp_ms: i * 20_000 - late * 1000,
            value: (x % 100_000) as f64 / 7.0,
            distinct_key: (!x.is_multiple_of(3)).then(|| format!("m{}", x % 11)),
        };
        let (ra, rb) = (
            a.observe("n", &entity, &e, &w),
            b.observe("n", &entity, &e, &w),
        );
        let bits = |r: &Result<edgescore_runtime::feature_store::Observed, StoreError>| {
            r.as_ref()
                .expect("observe")
                .values
                .iter()
                .map(|v| v.map(f64::to_bits))
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&ra), bits(&rb), "event {i}: {ra:?} vs {rb:?}");
    }
}

/// A card's normal history, then one event dated 9999-12-31 (and one a
/// week ahead): every later event still counts, itself included, and the
/// gap to the last event is to the last one before it in time.
pub(crate) fn a_future_event_does_not_blind_later_ones(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = vec![
        window("count-10m", Aggregate::Count, 600),
        window("count-24h", Aggregate::Count, 86_400),
        window("sum-1h", Aggregate::Sum, 3600),
        window("merchants-1h", Aggregate::DistinctCount, 3600),
        window("since-last", Aggregate::SecondsSinceLast, 86_400),
    ];
    // Dated now: "ahead" is ahead of the store's clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    for s in [0, 60, 120] {
        store
            .observe("card", "c", &event(now + s, 10.0, "m1"), &w)
            .expect("observe");
    }
    // 9999-12-31T23:59:59Z, and 8 days ahead.
    for far in [253_402_300_799, now + 8 * 86_400] {
        store
            .observe("card", "c", &event(far, 1.0, "m9"), &w)
            .expect("observe");
    }
    // A burst after it: each event counts all of the card's recent ones.
    for (k, s) in [180, 190, 200, 210].into_iter().enumerate() {
        let got = store
            .observe("card", "c", &event(now + s, 900.0, "m2"), &w)
            .expect("observe")
            .values;
        let count = (4 + k) as f64;
        assert_eq!(
            got,
            vec![
                Some(count),
                Some(count),
                Some(30.0 + 900.0 * (k + 1) as f64),
                Some(2.0),
                Some(if k == 0 { 60.0 } else { 10.0 }),
            ],
            "burst event {k}"
        );
    }
}

/// Forgetting a receipt removes that event and no other, not even one of
/// the same time, value and key; forgetting again, or an unknown entity's
/// event, changes nothing.
pub(crate) fn forget_takes_back_exactly_the_observed_events(make: MakeStore<'_>) {
    let store = make(EmbeddedLimits::default());
    let w = windows();
    let mut receipts = Vec::new();
    for s in [0, 60, 60, 120] {
        let observed = store
            .observe("card", "c1", &event(s, 2.5, "m1"), &w)
            .expect("observe");
        assert_eq!(observed.receipt.timestamp_ms, s * 1000);
        receipts.push(observed.receipt);
    }
    let other = store
        .observe("card", "c2", &event(60, 1.0, "m1"), &w)
        .expect("observe")
        .receipt;
    assert_eq!(
        store.read("card", "c1", 120_000, &w).expect("read"),
        vec![Some(4.0), Some(10.0), Some(1.0), Some(0.0)]
    );
    // The second of the two identical events at 60 s, and the last one.
    store
        .forget(&[receipts[2].clone(), receipts[3].clone()])
        .expect("forget");
    assert_eq!(
        store.read("card", "c1", 120_000, &w).expect("read"),
        vec![Some(2.0), Some(5.0), Some(1.0), Some(60.0)]
    );
    store
        .forget(&[
            receipts[2].clone(),
            Receipt {
                entity: "nobody".into(),
                ..receipts[0].clone()
            },
        ])
        .expect("forgetting again changes nothing");
    assert_eq!(
        store.read("card", "c1", 120_000, &w).expect("read")[0],
        Some(2.0)
    );
    assert_eq!(
        store.read("card", "c2", 120_000, &w).expect("read")[0],
        Some(1.0)
    );
    // Everything forgotten: the entity is as if never seen.
    store
        .forget(&[receipts[0].clone(), receipts[1].clone(), other])
        .expect("forget");
    for entity in ["c1", "c2"] {
        assert_eq!(
            store.read("card", entity, 120_000, &w).expect("read"),
            vec![Some(0.0), Some(0.0), Some(0.0), None]
        );
    }
    let again = store
        .observe("card", "c1", &event(180, 1.0, "m3"), &w)
        .expect("observe")
        .values;
    assert_eq!(again, vec![Some(1.0), Some(1.0), Some(1.0), None]);
}
