//! The future-timestamp attack, online and in `edgescore transform`.

use edgescore_models::transform::format_rfc3339_ms;
use edgescore_test_support::repo_root;
use serde_json::{Map, Value, json};

use crate::{edgescore, grocery, now_ms, path, post, request, score, start};

/// The card's history, the burst, and (for the poisoned card) the
/// transactions dated ahead, as JSON transactions by name.
struct Attack {
    history: Vec<Map<String, Value>>,
    ahead: Vec<Map<String, Value>>,
    burst: Vec<Map<String, Value>>,
}

fn attack(card: &str, now_s: i64) -> Attack {
    let time = |offset: i64| format_rfc3339_ms((now_s + offset) * 1000);
    let history = (0..3)
        .map(|i| {
            let mut t = grocery(card, &time(-7200 + i * 600));
            t.insert("merchant_id".into(), json!(format!("g{i}")));
            t
        })
        .collect();
    let ahead = [
        json!("9999-12-31T23:59:59Z"),
        json!(time(8 * 86_400)),
        json!((now_s - 600) * 1_000_000),
    ]
    .into_iter()
    .map(|ts| {
        let mut t = grocery(card, "");
        t.insert("timestamp".into(), ts);
        t
    })
    .collect();
    let burst = (0..8)
        .map(|i| {
            let mut t = grocery(card, &time(-300 + i * 20));
            t.insert("amount".into(), json!(900.0));
            t.insert("merchant_id".into(), json!(format!("gc{i}")));
            t.insert("merchant_category".into(), json!("gift_cards"));
            t.insert("channel".into(), json!("online"));
            t
        })
        .collect();
    Attack {
        history,
        ahead,
        burst,
    }
}

/// The velocity features the attack blinded.
const VELOCITY: [&str; 4] = [
    "card_txn_10m",
    "card_txn_1h",
    "card_txn_24h",
    "seconds_since_last",
];

/// After transactions dated 9999-12-31, 8 days ahead and in microseconds,
/// a card's gift-card burst is blocked exactly as on a clean card: online
/// (each future one refused with the reason) and in `edgescore transform`
/// (each left out and reported), with the same features to the bit.
#[test]
fn a_future_dated_transaction_does_not_blind_a_card() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = start(&["--alert-log", path(&tmp.path().join("alerts.jsonl"))]);
    let now_s = now_ms() / 1000;
    let (clean, poisoned) = (attack("clean", now_s), attack("poisoned", now_s));

    let mut online = std::collections::HashMap::new();
    for (card, a) in [("clean", &clean), ("poisoned", &poisoned)] {
        for t in &a.history {
            score(&server, &json!({"transactions": [t]}));
        }
        if card == "poisoned" {
            for t in &a.ahead {
                let (status, answer) = post(&server, request(vec![t.clone()]));
                assert_eq!(status, 400, "{answer}");
                let message = answer["error"].as_str().unwrap_or_default();
                assert!(message.contains("ahead of the server's clock"), "{message}");
            }
        }
        let results: Vec<Value> = a
            .burst
            .iter()
            .map(|t| score(&server, &json!({"transactions": [t], "features": true})))
            .collect();
        online.insert(card, results);
    }
    for (clean, poisoned) in online["clean"].iter().zip(&online["poisoned"]) {
        assert_eq!(clean["features"], poisoned["features"]);
        assert_eq!(clean["score"], poisoned["score"]);
    }
    let last = &online["poisoned"][7];
    assert_eq!(last["decision"], json!("block"), "{last}");
    assert_eq!(last["features"]["card_txn_10m"], json!(8.0), "{last}");
    assert_eq!(last["features"]["card_txn_24h"], json!(11.0), "{last}");

    // Offline: the same transactions in a file, the future ones included.
    let inputs = [
        "timestamp",
        "card_id",
        "amount",
        "merchant_id",
        "merchant_category",
        "channel",
        "country",
        "home_country",
        "device_id",
    ];
    let mut csv = format!("transaction_id,{}\n", inputs.join(","));
    for (card, a) in [("clean", &clean), ("poisoned", &poisoned)] {
        let ahead = if card == "poisoned" {
            &a.ahead[..]
        } else {
            &[]
        };
        let all = a.history.iter().chain(ahead).chain(&a.burst);
        for (i, t) in all.enumerate() {
            let cells: Vec<String> = inputs
                .iter()
                .map(|f| match &t[*f] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            csv.push_str(&format!("{card}-{i},{}\n", cells.join(",")));
        }
    }
    let input = tmp.path().join("attack.csv");
    std::fs::write(&input, csv).expect("write");
    let output = tmp.path().join("features.csv");
    let pipeline = repo_root().join("examples/fraud");
    let run = edgescore(&[
        "transform",
        "--pipeline",
        path(&pipeline),
        "--input",
        path(&input),
        "--output",
        path(&output),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("3 event(s) left out"), "{stderr}");
    assert!(stderr.contains("9999-12-31T23:59:59.000Z"), "{stderr}");
    let mut reader = csv::Reader::from_path(&output).expect("features");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 2 * (3 + 8), "the 3 future ones are left out");
    for card in ["clean", "poisoned"] {
        for (k, result) in online[card].iter().enumerate() {
            let id = format!("{card}-{}", 3 + if card == "poisoned" { 3 } else { 0 } + k);
            let row = rows.iter().find(|r| r[0] == id).expect("the burst row");
            for name in VELOCITY {
                let column = header.iter().position(|h| h == name).expect(name);
                let offline: f64 = row[column].parse().expect("f64");
                assert_eq!(
                    json!(offline),
                    result["features"][name],
                    "{id} {name}: offline vs online"
                );
            }
        }
    }
}
