//! Online and offline agree, every path scores alike, and `eval` reports
//! what scikit-learn reported.

use std::time::{Duration, Instant};

use edgescore_test_support::repo_root;
use serde_json::{Value, json};

use crate::{edgescore, generate, holdout, path, read_csv, score, start, transaction};

#[test]
fn online_and_offline_agree_and_every_path_scores_alike() {
    let tmp = tempfile::tempdir().expect("tmp");
    let input = holdout(tmp.path());
    let pipeline = repo_root().join("examples/fraud");

    // Offline: the transform over the file, then the model over its output.
    let features = tmp.path().join("features.csv");
    edgescore(&[
        "transform",
        "--pipeline",
        path(&pipeline),
        "--input",
        path(&input),
        "--output",
        path(&features),
    ]);
    let transform_wasm = tmp.path().join("transform.wasm");
    let model_wasm = tmp.path().join("model.wasm");
    edgescore(&[
        "build",
        "--transform",
        path(&pipeline.join("transform.toml")),
        "--output",
        path(&transform_wasm),
    ]);
    edgescore(&[
        "build",
        "--model",
        path(&pipeline.join("model/xgboost.json")),
        "--name",
        "fraud",
        "--version",
        "1",
        "--output",
        path(&model_wasm),
    ]);
    let scores_csv = tmp.path().join("scores.csv");
    edgescore(&[
        "score",
        "--component",
        path(&model_wasm),
        "--input",
        path(&features),
        "--output",
        path(&scores_csv),
        "--ignore-extra-columns",
    ]);
    let eval_scores = tmp.path().join("eval_scores.csv");
    let report = edgescore(&[
        "eval",
        "--pipeline",
        path(&pipeline),
        "--input",
        path(&input),
        "--label",
        "is_fraud",
        "--plots",
        path(&tmp.path().join("plots")),
        "--scores",
        path(&eval_scores),
    ]);
    assert!(report.contains("PR-AUC"), "{report}");
    for png in ["roc.png", "precision_recall.png", "score_distribution.png"] {
        let bytes = std::fs::read(tmp.path().join("plots").join(png)).expect(png);
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png}");
    }

    let (feature_header, feature_rows) = read_csv(&features);
    let (_, offline_scores) = read_csv(&scores_csv);
    let (_, eval_rows) = read_csv(&eval_scores);
    let (input_header, input_rows) = read_csv(&input);
    assert_eq!(feature_rows.len(), input_rows.len());
    let first_feature = feature_header
        .iter()
        .position(|h| h == "amount")
        .expect("amount column");

    // Online: a fresh server, one transaction per request, in time order
    // (the generator writes in time order; the transform's replay keeps it).
    let alerts = tmp.path().join("alerts.jsonl");
    let server = start(&[
        "--alert-log",
        path(&alerts),
        "--alert-webhook",
        "http://127.0.0.1:9/down",
    ]);
    let mut flagged = 0;
    for (i, row) in input_rows.iter().enumerate() {
        let answer = score(
            &server,
            &json!({"transactions": [transaction(&input_header, row)], "features": true}),
        );
        let result = &answer["results"][0];
        let score = result["score"].as_f64().expect("score");
        // The same feature row, value for value (NaN travels as null / an empty cell).
        for (name, offline) in feature_header[first_feature..]
            .iter()
            .zip(&feature_rows[i][first_feature..])
        {
            let online = &result["features"][name];
            let same = match (online.as_f64(), offline.as_str()) {
                (None, "") => true,
                (Some(v), cell) if !cell.is_empty() => {
                    v.to_bits() == cell.parse::<f64>().expect("f64").to_bits()
                }
                _ => false,
            };
            assert!(
                same,
                "transaction {i}, feature {name}: online {online} vs offline {offline:?}"
            );
        }
        // The same score three ways.
        let offline: f64 = offline_scores[i][0].parse().expect("score");
        let evaluated: f64 = eval_rows[i][0].parse().expect("score");
        assert_eq!(
            score.to_bits(),
            offline.to_bits(),
            "transaction {i}: server {score} vs transform+score {offline}"
        );
        assert_eq!(
            score.to_bits(),
            evaluated.to_bits(),
            "transaction {i}: server {score} vs eval {evaluated}"
        );
        let decision = result["decision"].as_str().expect("decision");
        if decision != "allow" {
            flagged += 1;
            assert!(!result["reasons"].as_array().expect("reasons").is_empty());
        }
    }
    assert!(
        flagged > 0,
        "the slice has fraud; some transaction must be flagged"
    );

    // Every review or block is in the alert log, though the webhook is down
    // (beside them, the drift alerts of the demo's profile: the slice starts
    // from empty windows, unlike the training data).
    let deadline = Instant::now() + Duration::from_secs(10);
    let logged = loop {
        let lines = std::fs::read_to_string(&alerts)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l).is_ok_and(|a| a["kind"] != "drift")
            })
            .count();
        if lines >= flagged || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(logged, flagged, "alerts logged");
    let metrics = server.metrics();
    let retries = metrics
        .lines()
        .find_map(|l| l.strip_prefix("edgescore_alert_webhook_retries_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("retry counter");
    assert!(retries > 0, "the down webhook is retried:\n{metrics}");
}

/// `edgescore eval` on the held-out fortnight `examples/fraud/train.sh`
/// held out reports what scikit-learn reported for the same scores.
#[test]
fn eval_matches_scikit_learn_on_the_training_holdout() {
    let tmp = tempfile::tempdir().expect("tmp");
    let transactions = generate::generate(&generate::Config {
        start_day: 60,
        days: 14,
        ..generate::Config::default()
    });
    let input = tmp.path().join("holdout.csv");
    generate::write_csv(
        &transactions,
        std::fs::File::create(&input).expect("create"),
    )
    .expect("write");
    let pipeline = repo_root().join("examples/fraud");
    let report = edgescore(&[
        "eval",
        "--pipeline",
        path(&pipeline),
        "--input",
        path(&input),
        "--label",
        "is_fraud",
        "--plots",
        path(&tmp.path().join("plots")),
    ]);
    let metrics: Value = serde_json::from_str(
        &std::fs::read_to_string(pipeline.join("model/metrics.json")).expect("metrics.json"),
    )
    .expect("JSON");
    let read = |label: &str| -> f64 {
        report
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {label} in:\n{report}"))
    };
    let (roc, pr) = (read("ROC-AUC"), read("PR-AUC"));
    let reference = &metrics["xgboost"];
    assert!(
        (roc - reference["roc_auc"].as_f64().expect("roc")).abs() < 1e-4,
        "ROC-AUC {roc} vs {reference}"
    );
    assert!(
        (pr - reference["pr_auc"].as_f64().expect("pr")).abs() < 1e-4,
        "PR-AUC {pr} vs {reference}"
    );
    let base = metrics["holdout_positives"].as_f64().expect("n")
        / metrics["holdout_rows"].as_f64().expect("n");
    assert!(
        pr > 20.0 * base,
        "PR-AUC {pr} is not well above the base rate {base}"
    );
}
