//! Events read end to end through an [`EventReader`]: every source by one
//! rule per type, JSON events held to the transform's inputs, and which
//! input is the event time.

use serde_json::{Value, json};

use super::*;
use crate::{Cell, EventValue, FieldSpec, InputType};

fn spec(name: &str, ty: InputType, required: bool) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        ty,
        required,
    }
}

/// What a value reads as: taken (as what, in `Debug` form: the WIT
/// type has no `PartialEq`), missing, or refused (with a phrase of why).
#[derive(Debug, PartialEq)]
enum Read {
    Is(String),
    Missing,
    Refused(&'static str),
}

fn is(value: EventValue) -> Read {
    Read::Is(format!("{value:?}"))
}

fn outcome(got: Result<Option<EventValue>, EventError>, phrase: &'static str) -> Read {
    match got {
        Ok(Some(v)) => is(v),
        Ok(None) => Read::Missing,
        Err(e) if e.to_string().contains(phrase) => Read::Refused(phrase),
        Err(e) => panic!("refused, but not for {phrase:?}: {e}"),
    }
}

/// One value of one type through every source: JSON, CSV text and a
/// Parquet cell read alike.
#[test]
fn every_source_reads_a_value_by_the_same_rule() {
    use EventValue as V;
    use InputType::{Boolean, Integer, Number, Text, Timestamp};
    let now = 1_795_257_000_000; // 2026-11-21T10:30:00Z
    let clock = Clock {
        now_ms: now,
        name: "the test clock",
    };
    let refused = |phrase| Read::Refused(phrase);
    let long = "x".repeat(1025);
    let now_text = now.to_string();
    // (type, JSON, CSV text, cell, expected)
    #[rustfmt::skip]
    let cases: Vec<(InputType, Value, &str, Cell, Read)> = vec![
        (Number, json!(1e39), "1e39", Cell::Number(1e39), is(V::Number(1e39))),
        (Number, json!(-0.0), "-0.0", Cell::Number(-0.0), is(V::Number(-0.0))),
        (Number, json!(7), "7", Cell::Integer(7), is(V::Number(7.0))),
        (Number, Value::Null, "", Cell::Missing, Read::Missing),
        (Number, json!(""), " ", Cell::Text(String::new()), Read::Missing),
        (Number, json!("inf"), "inf", Cell::Number(f64::INFINITY), refused("'n' must be")),
        (Number, json!("NaN"), "NaN", Cell::Number(f64::NAN), refused("'n' must be")),
        (Number, json!("-inf"), "1e400", Cell::Number(f64::NEG_INFINITY), refused("'n' must be")),
        (Integer, json!(12), "12", Cell::Integer(12), is(V::Integer(12))),
        (Integer, json!(12.0), "12.0", Cell::Number(12.0), is(V::Integer(12))),
        (Integer, json!(12.5), "12.5", Cell::Number(12.5), refused("must be an integer")),
        (Integer, json!(1e300), "1e300", Cell::Number(1e300), refused("must be an integer")),
        (Boolean, json!(true), "TRUE", Cell::Boolean(true), is(V::Boolean(true))),
        (Boolean, json!("yes"), "yes", Cell::Text("yes".into()), refused("must be a boolean")),
        (Text, json!(" c1 "), " c1 ", Cell::Text("c1".into()), is(V::Text("c1".into()))),
        (Text, json!(long), &long, Cell::Text(long.clone()), refused("max_text_bytes")),
        (Timestamp, json!("2026-11-21T10:30:00Z"), "2026-11-21T10:30:00Z", Cell::Timestamp(now), is(V::Timestamp(now))),
        (Timestamp, json!("2026-02-30T10:30:00Z"), "2026-02-30T10:30:00Z", Cell::Text("2026-02-30T10:30:00Z".into()), refused("exists")),
        (Timestamp, json!(now / 1000), "1795257000", Cell::Integer(now / 1000), is(V::Timestamp(now))),
        (Timestamp, json!(now), &now_text, Cell::Integer(now), refused("is this one in another unit")),
        (Timestamp, json!("9999-12-31T23:59:59Z"), "9999-12-31T23:59:59Z", Cell::Timestamp(253_402_300_799_000), refused("ahead of the test clock")),
        (Timestamp, json!("2026-11-21T10:34:59Z"), "2026-11-21T10:34:59Z", Cell::Timestamp(now + 299_000), is(V::Timestamp(now + 299_000))),
    ];
    let rules = EventRules {
        timestamp_unit: Some(TimeUnit::Seconds),
        ..EventRules::default()
    };
    for (type_, json_value, text, cell, expected) in cases {
        let inputs = [spec(
            if type_ == Timestamp { "t" } else { "n" },
            type_,
            false,
        )];
        let reader = EventReader::new(&inputs, &rules, clock).expect("reader");
        let phrase = match &expected {
            Read::Refused(p) => p,
            _ => "",
        };
        let from_json = outcome(reader.from_json(0, &json_value), phrase);
        let from_text = outcome(reader.from_text(0, text), phrase);
        let from_cell = outcome(reader.from_cell(0, &cell), phrase);
        assert_eq!(from_json, expected, "JSON {json_value}");
        assert_eq!(from_text, expected, "text {text:?}");
        assert_eq!(from_cell, expected, "cell {cell:?}");
    }
    // Without a declared unit an integer timestamp is refused everywhere.
    let inputs = [spec("t", Timestamp, true)];
    let rules = EventRules::default();
    let reader = EventReader::new(&inputs, &rules, clock).expect("reader");
    let phrase = "integer timestamps need a unit";
    assert_eq!(
        outcome(reader.from_json(0, &json!(now)), phrase),
        refused(phrase)
    );
    assert_eq!(
        outcome(reader.from_text(0, "1795257000000"), phrase),
        refused(phrase)
    );
    assert_eq!(
        outcome(reader.from_cell(0, &Cell::Integer(now)), phrase),
        refused(phrase)
    );
}

/// A JSON event: unknown fields refused (or ignored when allowed), too
/// many fields refused, a required field missing refused.
#[test]
fn json_events_carry_only_what_the_transform_reads() {
    let inputs = [
        spec("card_id", InputType::Text, true),
        spec("merchant_category", InputType::Text, false),
    ];
    let clock = Clock::system("the test clock");
    let event = |text: &str| serde_json::from_str::<JsonEvent>(text).expect("JSON");
    let strict = EventRules::default();
    let reader = EventReader::new(&inputs, &strict, clock).expect("reader");
    let typo = event(r#"{"card_id": "c1", "merchant_categroy": "travel"}"#);
    let e = reader.event_from_json(&typo).expect_err("typo");
    assert!(
        e.to_string().contains("did you mean 'merchant_category'"),
        "{e}"
    );
    let e = reader
        .event_from_json(&event(r#"{"card_id": ""}"#))
        .expect_err("empty id");
    assert!(e.to_string().contains("required field 'card_id'"), "{e}");
    let lenient = EventRules {
        allow_unknown_fields: true,
        max_fields: 2,
        ..EventRules::default()
    };
    let reader = EventReader::new(&inputs, &lenient, clock).expect("reader");
    let taken = reader.event_from_json(&typo).expect("extras ignored");
    assert_eq!(taken.len(), 1);
    let e = reader
        .event_from_json(&event(r#"{"card_id": "c1", "a": 1, "b": 2}"#))
        .expect_err("three fields");
    assert!(e.to_string().contains("max_fields_per_event"), "{e}");
}

#[test]
fn the_time_input_is_the_only_timestamp_or_the_named_one() {
    let inputs = [
        spec("at", InputType::Timestamp, true),
        spec("issued", InputType::Timestamp, false),
    ];
    let clock = Clock {
        now_ms: 0,
        name: "the test clock",
    };
    let rules = EventRules::default();
    let several = rules.check(&inputs).expect_err("ambiguous");
    assert!(several.contains("[events] time"), "{several}");
    let unchecked = EventReader::new(&inputs, &rules, clock).expect("a bare transform");
    assert_eq!(unchecked.time(), None);
    let named = EventRules {
        time: Some("issued".into()),
        ..EventRules::default()
    };
    let reader = EventReader::new(&inputs, &named, clock).expect("named");
    assert_eq!(reader.time(), Some(1));
    let wrong = EventRules {
        time: Some("nope".into()),
        ..EventRules::default()
    };
    assert!(EventReader::new(&inputs, &wrong, clock).is_err());
    let rules = EventRules::default();
    let one = EventReader::new(&inputs[..1], &rules, clock).expect("one");
    assert_eq!(one.time(), Some(0));
}
