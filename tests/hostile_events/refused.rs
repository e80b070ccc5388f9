//! Every kind of bad request or transaction: a 4xx that says what to fix,
//! and nothing changed.

use std::time::Duration;

use edgescore_models::transform::format_rfc3339_ms;
use serde_json::{Map, Value, json};

use crate::{
    PROBE, after_a_valid_one, at, grocery, now_ms, path, post, request, score, start, with, without,
};

/// One hostile request: what it is, its body, the status and a phrase the
/// message must hold.
struct Case {
    what: &'static str,
    body: Vec<u8>,
    status: u16,
    says: &'static str,
}

fn case(what: &'static str, body: Vec<u8>, status: u16, says: &'static str) -> Case {
    Case {
        what,
        body,
        status,
        says,
    }
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let now = now_ms();
    let many: Vec<Map<String, Value>> = (0..10_001).map(|_| Map::new()).collect();
    let mut wide = grocery(PROBE, &at(-20));
    for i in 0..300 {
        wide.insert(format!("extra{i}"), json!(i));
    }
    let valid = serde_json::to_string(&grocery(PROBE, &at(-20))).expect("json");
    let twice = valid.replacen("\"amount\":23.5", "\"amount\":23.5,\"amount\":9000", 1);
    assert_ne!(twice, valid);
    let deep = format!(
        "{{\"transactions\": [{}]}}",
        "[".repeat(5000) + &"]".repeat(5000)
    );
    vec![
        // The request.
        case("not JSON", b"transactions please".to_vec(), 400, "expected"),
        case("JSON, not an object", b"[1, 2]".to_vec(), 400, "expected"),
        case("no transactions", b"{}".to_vec(), 400, "missing field `transactions`"),
        case("empty transactions", b"{\"transactions\": []}".to_vec(), 400, "is empty"),
        case("transactions not a list", b"{\"transactions\": {}}".to_vec(), 400, "an array"),
        case("a transaction not an object", b"{\"transactions\": [42]}".to_vec(), 400, "an object of event fields"),
        case("an unknown request field", format!("{{\"transactions\": [{valid}], \"explain_all\": true}}").into_bytes(), 400, "unknown field `explain_all`"),
        case("transactions given twice", format!("{{\"transactions\": [{valid}], \"transactions\": [{valid}]}}").into_bytes(), 400, "duplicate field"),
        case("10,001 transactions", request(many), 413, "max_rows_per_request"),
        case("nesting 5,000 deep", deep.into_bytes(), 400, "expected"),
        // Fields.
        case("a repeated key", format!("{{\"transactions\": [{twice}]}}").into_bytes(), 400, "'amount' is given twice"),
        case("a typo of a field", after_a_valid_one(with("merchant_categroy", json!("gift_cards"))), 400, "did you mean 'merchant_category'"),
        case("an unknown field", after_a_valid_one(with("tip", json!(5))), 400, "unknown field 'tip'"),
        case("an unknown field named by 1 MB", after_a_valid_one(with(&"k".repeat(1 << 20), json!(1))), 400, "unknown field"),
        case("300 fields", after_a_valid_one(wide), 400, "max_fields_per_event"),
        case("a 100 KB card id", after_a_valid_one(with("card_id", json!("c".repeat(100_000)))), 400, "max_text_bytes"),
        case("a 2 KB merchant id", after_a_valid_one(with("merchant_id", json!("m".repeat(2048)))), 400, "max_text_bytes"),
        case("a 1 MB country", after_a_valid_one(with("country", json!("U".repeat(1 << 20)))), 400, "max_text_bytes"),
        case("an empty card id", after_a_valid_one(with("card_id", json!(""))), 400, "required field 'card_id'"),
        case("a blank card id", after_a_valid_one(with("card_id", json!("   "))), 400, "required field 'card_id'"),
        case("a null card id", after_a_valid_one(with("card_id", Value::Null)), 400, "required field 'card_id'"),
        case("no card id", after_a_valid_one(without("card_id")), 400, "required field 'card_id'"),
        case("a numeric card id", after_a_valid_one(with("card_id", json!(42))), 400, "'card_id' must be a text"),
        case("no timestamp", after_a_valid_one(without("timestamp")), 400, "required field 'timestamp'"),
        case("amount \"inf\"", after_a_valid_one(with("amount", json!("inf"))), 400, "'amount' must be a number"),
        case("amount \"NaN\"", after_a_valid_one(with("amount", json!("NaN"))), 400, "'amount' must be a number"),
        case("amount 1e400", format!("{{\"transactions\": [{}]}}", valid.replace("23.5", "1e400")).into_bytes(), 400, "out of range"),
        case("amount as text", after_a_valid_one(with("amount", json!("12.50"))), 400, "'amount' must be a number"),
        case("amount a boolean", after_a_valid_one(with("amount", json!(true))), 400, "'amount' must be a number"),
        case("amount a list", after_a_valid_one(with("amount", json!([1, 2]))), 400, "'amount' is an array"),
        case("amount an object", after_a_valid_one(with("amount", json!({"value": 1}))), 400, "'amount' is an object"),
        case("device id a list", after_a_valid_one(with("device_id", json!(["d1"]))), 400, "'device_id' is an array"),
        case("30 February", after_a_valid_one(with("timestamp", json!("2026-02-30T12:00:00Z"))), 400, "exists"),
        case("month 13", after_a_valid_one(with("timestamp", json!("2026-13-01T00:00:00Z"))), 400, "exists"),
        case("hour 24", after_a_valid_one(with("timestamp", json!("2026-01-01T24:00:00Z"))), 400, "exists"),
        case("an offset of 25 hours", after_a_valid_one(with("timestamp", json!("2026-01-01T00:00:00+25:00"))), 400, "RFC 3339"),
        case("a date without a time", after_a_valid_one(with("timestamp", json!("2026-01-01"))), 400, "RFC 3339"),
        case("\"yesterday\"", after_a_valid_one(with("timestamp", json!("yesterday"))), 400, "RFC 3339"),
        case("a fractional timestamp", after_a_valid_one(with("timestamp", json!(1.5e12))), 400, "must be a timestamp"),
        case("9999-12-31", after_a_valid_one(with("timestamp", json!("9999-12-31T23:59:59Z"))), 400, "ahead of the server's clock"),
        case("8 days ahead", after_a_valid_one(with("timestamp", json!(at(8 * 86_400)))), 400, "max_skew_seconds"),
        case("10 minutes ahead", after_a_valid_one(with("timestamp", json!(at(600)))), 400, "max_skew_seconds"),
        case("microseconds", after_a_valid_one(with("timestamp", json!(now * 1000))), 400, "is this one in another unit"),
        case("nanoseconds", after_a_valid_one(with("timestamp", json!(now * 1_000_000))), 400, "ahead of the server's clock"),
        case("seconds read as milliseconds", after_a_valid_one(with("timestamp", json!(now / 1000))), 400, "seconds read as milliseconds"),
        case("past the range of timestamps", after_a_valid_one(with("timestamp", json!(i64::MAX))), 400, "ahead of the server's clock"),
    ]
}

#[test]
fn hostile_transactions_are_refused_and_change_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let alerts = tmp.path().join("alerts.jsonl");
    let server = start(&["--alert-log", path(&alerts)]);
    let start_s = now_ms() / 1000;
    let probe = |seconds: i64| {
        let time = format_rfc3339_ms((start_s + seconds) * 1000);
        let mut t = grocery(PROBE, &time);
        t.insert("merchant_id".into(), json!(format!("m{seconds}")));
        score(&server, &json!({"transactions": [t], "features": true}))["features"].clone()
    };
    let before = probe(-60);
    for name in [
        "card_txn_10m",
        "card_txn_24h",
        "card_country_txn_7d",
        "card_device_txn_7d",
    ] {
        assert_eq!(before[name], json!(1.0), "{name}: {before}");
    }

    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut refused = 0;
    for case in &cases {
        let (status, answer) = post(&server, case.body.clone());
        assert_eq!(status, case.status, "{}: {answer}", case.what);
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(case.says),
            "{}: {message:?} does not say {:?}",
            case.what,
            case.says
        );
        assert!(
            message.len() < 4096,
            "{}: a {} byte message",
            case.what,
            message.len()
        );
        assert_ne!(answer["kind"], json!("model_failure"), "{}", case.what);
        let (live, _) = server.get("/v2/health/live");
        assert_eq!(live, 200, "{}: the server still serves", case.what);
        refused += 1;
    }

    // The probe card saw exactly its two probes; nothing else was recorded.
    let after = probe(-10);
    for name in [
        "card_txn_10m",
        "card_txn_24h",
        "card_country_txn_7d",
        "card_device_txn_7d",
    ] {
        assert_eq!(after[name], json!(2.0), "{name}: {after}");
    }
    assert_eq!(after["seconds_since_last"], json!(50.0), "{after}");
    let metrics = server.metrics();
    assert!(
        !metrics.contains("kind=\"model_failure\""),
        "no client mistake is a model failure:\n{metrics}"
    );
    let counted: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("edgescore_errors_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(counted, refused, "{metrics}");
    // The blocked companion was never scored: no alert.
    std::thread::sleep(Duration::from_millis(300));
    let logged = std::fs::read_to_string(&alerts).unwrap_or_default();
    assert!(logged.is_empty(), "alerts from refused requests: {logged}");
}
