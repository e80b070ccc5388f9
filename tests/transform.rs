//! Transform components: specs refused at build time with the line and the
//! reason; every operation computing what its definition says, inside the
//! component; and a transform written in Rust with the guest SDK
//! (`guest/transform-example`) running in the same host with the same
//! feature-store grant rules.

use std::sync::Arc;

use edgescore_events::{Event, EventValue as FieldValue};
use edgescore_runtime::compiled_cache::CompiledCache;
use edgescore_runtime::component_scorer::ComponentError;
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::feature_store::EmbeddedStore;
use edgescore_runtime::host_state::{FeatureAccess, Grants};
use edgescore_runtime::limits::Limits;
use edgescore_runtime::transform_component::TransformComponent;
use edgescore_spec::compile;
use edgescore_test_programs as guests;

const HEADER: &str = r#"name = "t"
version = "1"
time = "ts"

[inputs]
ts = { type = "timestamp", required = true }
card = { type = "text", required = true }
amount = { type = "number" }
country = { type = "text", default = "US" }

[entities.card]
key = "card"
value = "amount"
"#;

/// Each broken spec, the line the error must name and a phrase of the reason.
#[test]
fn broken_specs_are_refused_with_line_and_reason() {
    let cases: &[(&str, usize, &str)] = &[
        // An unknown field as an operand.
        (
            "[[features]]\nname = \"x\"\nlog1p = \"amonut\"\n",
            17,
            "'amonut', which is neither an input nor an earlier feature",
        ),
        // A type mismatch: log1p of text.
        (
            "[[features]]\nname = \"x\"\nlog1p = \"country\"\n",
            17,
            "needs a number but input 'country' is text",
        ),
        // A bad window: zero minutes, and one past retention.
        (
            "[[features]]\nname = \"x\"\ncount = \"card\"\nminutes = 0\n",
            18,
            "window of 0 minutes is out of range",
        ),
        (
            "[[features]]\nname = \"x\"\ncount = \"card\"\nminutes = 20000\n",
            18,
            "out of range",
        ),
        // An unknown entity.
        (
            "[[features]]\nname = \"x\"\nsum = \"device\"\nminutes = 5\n",
            17,
            "entity 'device', which is not declared",
        ),
        // A parameter that does not belong, and one missing.
        (
            "[[features]]\nname = \"x\"\nlog1p = \"amount\"\nmean = 3.0\n",
            18,
            "`mean` does not apply to `log1p`",
        ),
        (
            "[[features]]\nname = \"x\"\nstandardize = \"amount\"\nmean = 3.0\n",
            17,
            "`standardize` needs `std`",
        ),
        // Two operations in one feature.
        (
            "[[features]]\nname = \"x\"\nlog1p = \"amount\"\nclip = \"amount\"\n",
            18,
            "names two operations",
        ),
        // An unknown key (a typo) in a feature table.
        (
            "[[features]]\nname = \"x\"\nlogp1 = \"amount\"\n",
            17,
            "logp1",
        ),
        // hour_of_day of a number.
        (
            "[[features]]\nname = \"x\"\nhour_of_day = \"amount\"\n",
            17,
            "needs timestamp but input 'amount' is a number",
        ),
        // A duplicate feature name.
        (
            "[[features]]\nname = \"x\"\nlog1p = \"amount\"\n[[features]]\nname = \"x\"\nvalue = \"amount\"\n",
            19,
            "already defined",
        ),
    ];
    for (features, line, reason) in cases {
        let spec = format!("{HEADER}\n{features}");
        let error = compile(&spec).expect_err(features);
        assert_eq!(error.line, *line, "{features}\n→ {error}");
        assert!(
            error.message.contains(reason),
            "{features}\n→ {error}\nwanted: {reason}"
        );
    }
    // A timestamp's default as an integer (no unit) or a date that does
    // not exist.
    for (default, reason) in [
        ("1767225600", "names no unit"),
        ("\"2026-02-30T00:00:00Z\"", "not a timestamp"),
    ] {
        let spec = HEADER.replace(
            "[entities.card]",
            &format!("issued = {{ type = \"timestamp\", default = {default} }}\n\n[entities.card]"),
        );
        let error = compile(&format!(
            "{spec}[[features]]\nname = \"x\"\nvalue = \"amount\"\n"
        ))
        .expect_err(default);
        assert_eq!(error.line, 11, "{error}");
        assert!(error.message.contains(reason), "{error}");
    }
    // A bad default type, in the inputs.
    let spec = HEADER.replace(r#"default = "US""#, "default = 3");
    let error = compile(&format!(
        "{spec}[[features]]\nname = \"x\"\nvalue = \"amount\"\n"
    ))
    .expect_err("default");
    assert_eq!(error.line, 9, "{error}");
    assert!(error.message.contains("not a text"), "{error}");
}

fn event(fields: Vec<(&str, FieldValue)>) -> Event {
    fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

fn instance(
    bytes: &[u8],
    grants: Grants,
) -> edgescore_runtime::transform_component::TransformInstance {
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    let component = TransformComponent::new(&engine, None, bytes).expect("loads");
    component
        .instantiate(FeatureAccess {
            store: Some(Arc::new(EmbeddedStore::default())),
            grants,
            component: "test".into(),
            ..FeatureAccess::default()
        })
        .expect("instance")
}

/// Every operation, built into a component and run there, against values
/// worked out by hand from the operations' definitions.
#[test]
fn every_operation_computes_its_definition() {
    let spec = format!(
        "{HEADER}{}",
        r#"
[[features]]
name = "amount"
value = "amount"
[[features]]
name = "z"
standardize = "amount"
mean = 10.0
std = 4.0
[[features]]
name = "mm"
min_max = "amount"
min = 0.0
max = 50.0
[[features]]
name = "l"
log1p = "amount"
[[features]]
name = "c"
clip = "amount"
min = 0.0
max = 12.0
[[features]]
name = "b"
bucketize = "amount"
bounds = [5.0, 20.0, 100.0]
[[features]]
name = "country"
one_hot = "country"
categories = ["US", "GB"]
[[features]]
name = "h"
hash = "card"
buckets = 1000
[[features]]
name = "hour"
hour_of_day = "ts"
[[features]]
name = "dow"
day_of_week = "ts"
[[features]]
name = "r"
ratio = ["amount", "z"]
[[features]]
name = "d"
difference = ["amount", "mm"]
[[features]]
name = "n"
count = "card"
minutes = 60
[[features]]
name = "s"
sum = "card"
minutes = 60
[[features]]
name = "gap"
seconds_since_last = "card"
default = -1.0
"#
    );
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("spec.toml");
    std::fs::write(&path, spec).expect("write");
    let bytes = edgescore_runtime::component_build::build_transform(&path).expect("builds");
    let mut transform = instance(&bytes, Grants::All);
    // 2026-11-21T10:30:00Z is a Saturday; an hour later the same card again.
    let t0 = 1_795_257_000_000;
    let events = vec![
        event(vec![
            ("ts", FieldValue::Timestamp(t0)),
            ("card", FieldValue::Text("c1".into())),
            ("amount", FieldValue::Number(18.0)),
        ]),
        event(vec![
            ("ts", FieldValue::Timestamp(t0 + 1_800_000)),
            ("card", FieldValue::Text("c1".into())),
            ("amount", FieldValue::Number(2.0)),
            ("country", FieldValue::Text("GB".into())),
        ]),
    ];
    let rows = transform.transform(&events).expect("transform");
    let width = rows.len() / 2;
    let h = (fnv1a(b"c1") % 1000) as f64;
    // Each feature by its definition, in float64 as the plan computes it.
    let first = [
        18.0,
        (18.0 - 10.0) / 4.0,
        18.0 / 50.0,
        libm::log1p(18.0),
        12.0,
        1.0,
        1.0,
        0.0,
        h,
        10.0,
        5.0,
        18.0 / ((18.0 - 10.0) / 4.0),
        18.0 - 18.0 / 50.0,
        1.0,
        18.0,
        -1.0,
    ];
    assert_eq!(&rows[..width], &first, "first event");
    let second = [
        2.0,
        (2.0 - 10.0) / 4.0,
        2.0 / 50.0,
        libm::log1p(2.0),
        2.0,
        0.0,
        0.0,
        1.0,
        h,
        11.0,
        5.0,
        2.0 / ((2.0 - 10.0) / 4.0),
        2.0 - 2.0 / 50.0,
        2.0,
        20.0,
        1800.0,
    ];
    assert_eq!(&rows[width..], &second, "second event");

    // A required field missing and a wrongly typed one are the caller's error.
    let missing = event(vec![("ts", FieldValue::Timestamp(t0))]);
    let wrong = event(vec![
        ("ts", FieldValue::Timestamp(t0)),
        ("card", FieldValue::Number(1.0)),
    ]);
    for (bad, phrase) in [
        (missing, "required field 'card' is missing"),
        (wrong, "field 'card' must be a text"),
    ] {
        match transform.transform(&[bad]) {
            Err(ComponentError::BadEvent { message, .. }) => {
                assert!(message.contains(phrase), "{message}")
            }
            other => panic!("expected bad input, got {other:?}"),
        }
    }
}

/// FNV-1a 64, written out from its definition.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A pipeline reloaded by `serve` takes its transform's compiled code from
/// the cache, as it does its model's: the first load stores the entry,
/// the next reads it back, and both describe the same transform.
#[test]
fn a_transform_is_compiled_once_then_read_from_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = CompiledCache::new(dir.path());
    let engine = ScoringEngine::new(Limits::default()).expect("engine");
    let bytes = guests::TRANSFORM_EXAMPLE_COMPONENT;
    let entry = cache.entry_path(engine.engine(), bytes);
    assert!(!entry.exists());
    let first = TransformComponent::new(&engine, Some(&cache), bytes).expect("loads");
    let stored = std::fs::metadata(&entry).expect("the first load stores the compiled code");
    let second = TransformComponent::new(&engine, Some(&cache), bytes).expect("loads again");
    let read = std::fs::metadata(&entry).expect("the entry stays");
    assert_eq!(stored.len(), read.len());
    let described = |t: &TransformComponent| format!("{:?}", t.info());
    assert_eq!(described(&first), described(&second));
    let uncached = TransformComponent::new(&engine, None, bytes).expect("loads uncached");
    assert_eq!(described(&first), described(&uncached));
}

/// The SDK example: haversine distance and a windowed count, through the
/// feature store it is granted; refused with a clear error when not granted.
#[test]
fn rust_sdk_transform_runs_and_respects_its_grant() {
    let one = |t: i64| {
        event(vec![
            ("card_id", FieldValue::Text("c9".into())),
            ("timestamp", FieldValue::Timestamp(t)),
            // Paris to London.
            ("lat", FieldValue::Number(48.8566)),
            ("lon", FieldValue::Number(2.3522)),
            ("home_lat", FieldValue::Number(51.5074)),
            ("home_lon", FieldValue::Number(-0.1278)),
        ])
    };
    let mut granted = instance(
        guests::TRANSFORM_EXAMPLE_COMPONENT,
        Grants::Namespaces(vec!["card".into()]),
    );
    let rows = granted
        .transform(&[one(0), one(60_000)])
        .expect("transform");
    assert!(
        (rows[0] - 343.5).abs() < 1.0,
        "Paris-London is about 343.5 km, got {}",
        rows[0]
    );
    assert_eq!(
        (rows[1], rows[3]),
        (1.0, 2.0),
        "the second event sees two in the hour"
    );

    let mut denied = instance(
        guests::TRANSFORM_EXAMPLE_COMPONENT,
        Grants::Namespaces(vec!["device".into()]),
    );
    match denied.transform(&[one(0)]) {
        Err(error @ ComponentError::FeatureStore { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("namespace 'card' is not granted"),
                "{message}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
