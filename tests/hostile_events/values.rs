//! One rule for values online and offline.

use edgescore_test_support::repo_root;
use serde_json::{Value, json};

use crate::{at, edgescore, path, post, start};

/// One rule for numbers and times, online and offline: each value is taken
/// by both paths to the same feature bits, or refused by both, naming the
/// field.
#[test]
fn one_rule_for_values_online_and_offline() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = start(&["--alert-log", path(&tmp.path().join("alerts.jsonl"))]);
    let pipeline = repo_root().join("examples/fraud");
    // Each value as JSON and as a CSV cell, and whether it is taken.
    let amounts: [(&str, Value, bool); 9] = [
        ("1e39", json!(1e39), true),
        ("1.7976931348623157e308", json!(f64::MAX), true),
        ("5e-324", json!(5e-324), true),
        ("-0.0", json!(-0.0), true),
        ("12.5", json!(12.5), true),
        ("inf", json!("inf"), false),
        ("-inf", json!("-inf"), false),
        ("NaN", json!("NaN"), false),
        ("1e400", Value::Null, false),
    ];
    let header = "timestamp,card_id,amount,merchant_id,country,home_country\n";
    let mut accepted_csv = String::from(header);
    let mut online = Vec::new();
    for (i, (cell, value, taken)) in amounts.iter().enumerate() {
        let time = at(-100 + i as i64);
        let card = format!("v{i}");
        let body = match value {
            // 1e400 cannot be a JSON value: sent as text in the body.
            Value::Null => format!(
                "{{\"transactions\": [{{\"timestamp\": \"{time}\", \"card_id\": \"{card}\", \"amount\": 1e400, \"merchant_id\": \"m\", \"country\": \"US\", \"home_country\": \"US\"}}], \"features\": true}}"
            ),
            value => json!({"transactions": [{
                "timestamp": time, "card_id": card, "amount": value,
                "merchant_id": "m", "country": "US", "home_country": "US",
            }], "features": true})
            .to_string(),
        };
        let (status, answer) = post(&server, body);
        let row = format!("{time},{card},{cell},m,US,US\n");
        if *taken {
            assert_eq!(status, 200, "{cell}: {answer}");
            online.push(answer["results"][0]["features"].clone());
            accepted_csv.push_str(&row);
            continue;
        }
        assert_eq!(status, 400, "{cell}: {answer}");
        // Offline, the same cell stops `edgescore transform`, naming it.
        let input = tmp.path().join(format!("refused{i}.csv"));
        std::fs::write(&input, format!("{header}{row}")).expect("write");
        let output = tmp.path().join(format!("refused{i}.out.csv"));
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
        assert!(!run.status.success(), "{cell} is taken offline");
        assert!(
            stderr.contains("'amount' must be a finite number"),
            "{cell}: {stderr}"
        );
        assert!(!output.exists());
    }
    let input = tmp.path().join("accepted.csv");
    std::fs::write(&input, accepted_csv).expect("write");
    let output = tmp.path().join("accepted.out.csv");
    let run = edgescore(&[
        "transform",
        "--pipeline",
        path(&pipeline),
        "--input",
        path(&input),
        "--output",
        path(&output),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
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
    assert_eq!(rows.len(), online.len());
    for (row, features) in rows.iter().zip(&online) {
        for name in ["amount", "amount_log"] {
            let column = header.iter().position(|h| h == name).expect(name);
            let offline: f64 = row[column].parse().expect("f64");
            let online = features[name].as_f64().expect("a number");
            assert_eq!(offline.to_bits(), online.to_bits(), "{name}: {row:?}");
        }
    }
}
