//! The fraud pipeline end to end, through every path a user takes:
//!
//! - online features (the server, one transaction per request, in time
//!   order) equal offline features (`edgescore transform` over the file);
//! - the scores equal three ways: the server, `edgescore transform` then
//!   `edgescore score --component`, and `edgescore eval --scores`;
//! - `edgescore eval` reports PR-AUC far above the base rate, and the same
//!   ROC-AUC and PR-AUC as scikit-learn computed at training time
//!   (`examples/fraud/model/metrics.json`) on the same held-out fortnight;
//! - review and block decisions land in the alert log, and a webhook that
//!   is down neither fails a request nor loses an alert;
//! - Parquet files written by pandas and pyarrow give the CSV's features
//!   and metrics, and features written as Parquet read back unchanged.

#[path = "../examples/fraud/generate.rs"]
mod generate;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use edgescore_test_support::repo_root;
use serde_json::{Value, json};

fn edgescore(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(args)
        .output()
        .expect("edgescore runs");
    assert!(
        output.status.success(),
        "edgescore {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A server on the embedded demo (the fraud pipeline); killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgescore"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("edgescore serve starts");
        let url = edgescore_test_support::served::announced_url(&mut child);
        Self { child, url }
    }

    fn score(&self, body: &Value) -> Value {
        ureq::post(format!("{}/v1/pipelines/fraud/score", self.url))
            .send_json(body)
            .expect("pipeline score")
            .body_mut()
            .read_json()
            .expect("JSON")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small held-out slice of the example's population: after the training
/// period, enough cards for every window to fill and some fraud.
fn holdout(dir: &Path) -> PathBuf {
    let transactions = generate::generate(&generate::Config {
        cards: 150,
        days: 3,
        start_day: 60,
        fraud_rate: 0.02,
        ..generate::Config::default()
    });
    let file = dir.join("holdout.csv");
    generate::write_csv(&transactions, std::fs::File::create(&file).expect("create"))
        .expect("write");
    file
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).expect("csv");
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The generator's columns that are not fields of a transaction (the
/// pipeline refuses fields its transform does not read).
const NOT_FIELDS: [&str; 3] = ["transaction_id", "is_fraud", "pattern"];

/// A CSV row of the generator as the JSON transaction a client would send.
fn transaction(header: &[String], row: &[String]) -> Value {
    let mut object = serde_json::Map::new();
    for (name, cell) in header.iter().zip(row) {
        if cell.is_empty() || NOT_FIELDS.contains(&name.as_str()) {
            continue;
        }
        let value = match name.as_str() {
            "amount" => json!(cell.parse::<f64>().expect("amount")),
            _ => json!(cell),
        };
        object.insert(name.clone(), value);
    }
    Value::Object(object)
}

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
    let server = Server::start(&[
        "--alert-log",
        path(&alerts),
        "--alert-webhook",
        "http://127.0.0.1:9/down",
    ]);
    let mut flagged = 0;
    for (i, row) in input_rows.iter().enumerate() {
        let answer = server
            .score(&json!({"transactions": [transaction(&input_header, row)], "features": true}));
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

    // Every review or block is in the alert log, though the webhook is down.
    let deadline = Instant::now() + Duration::from_secs(10);
    let logged = loop {
        let lines = std::fs::read_to_string(&alerts)
            .unwrap_or_default()
            .lines()
            .count();
        if lines >= flagged || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(logged, flagged, "alerts logged");
    let metrics = ureq::get(format!("{}/metrics", server.url))
        .call()
        .expect("metrics")
        .body_mut()
        .read_to_string()
        .expect("text");
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

/// The Parquet fixtures (`tests/data/parquet/generate.py`: pandas' defaults
/// and pyarrow with millisecond, microsecond, nanosecond and integer
/// timestamps, decimal amounts, boolean and integer labels, dictionary
/// strings; Snappy, Zstandard, gzip, LZ4) hold the events of `events.csv`.
/// Each gives the CSV's features to the bit and the CSV's metrics; features
/// written as Parquet read back as the same `f64`s and score as the CSV's
/// do; a nested column is refused by name.
#[test]
fn parquet_files_give_what_the_csv_gives() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = repo_root().join("tests/data/parquet");
    let pipeline = repo_root().join("examples/fraud");
    let transform = |input: &Path, output: &Path| {
        edgescore(&[
            "transform",
            "--pipeline",
            path(&pipeline),
            "--input",
            path(input),
            "--output",
            path(output),
        ]);
    };
    let eval = |input: &Path| {
        edgescore(&[
            "eval",
            "--pipeline",
            path(&pipeline),
            "--input",
            path(input),
            "--label",
            "is_fraud",
            "--plots",
            path(&tmp.path().join("plots")),
        ])
    };
    let reference = tmp.path().join("reference.csv");
    transform(&data.join("events.csv"), &reference);
    let (header, expected) = read_csv(&reference);
    let first_feature = header.iter().position(|h| h == "amount").expect("amount");
    let reference_report = eval(&data.join("events.csv"));
    assert!(reference_report.contains("PR-AUC"), "{reference_report}");

    for name in [
        "events_pandas",
        "events_typed",
        "events_micros",
        "events_int_ms",
    ] {
        let input = data.join(format!("{name}.parquet"));
        let output = tmp.path().join(format!("{name}.csv"));
        transform(&input, &output);
        let (got_header, got) = read_csv(&output);
        assert_eq!(got_header, header, "{name}");
        assert_eq!(got.len(), expected.len(), "{name}");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g[0], e[0], "{name}: row {i}'s transaction id");
            assert_eq!(
                g[first_feature..],
                e[first_feature..],
                "{name}: row {i}'s features"
            );
        }
        assert_eq!(eval(&input), reference_report, "{name}: eval");
    }

    // Features written as Parquet: the same f64s, missing ones null, the
    // other columns typed (the CSV's 0/1 label becomes an integer column).
    let output = tmp.path().join("features.parquet");
    transform(&data.join("events.csv"), &output);
    let rows = read_parquet(&output);
    assert_eq!(rows.len(), expected.len());
    for (i, (row, e)) in rows.iter().zip(&expected).enumerate() {
        let names: Vec<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, header, "row {i}'s columns");
        assert!(
            matches!(&row[1].1, parquet::record::Field::Long(l) if l.to_string() == e[1]),
            "row {i}'s label: {:?} vs {}",
            row[1].1,
            e[1]
        );
        for ((name, field), cell) in row[first_feature..].iter().zip(&e[first_feature..]) {
            let same = match field {
                parquet::record::Field::Double(v) => {
                    !cell.is_empty() && v.to_bits() == cell.parse::<f64>().expect("f64").to_bits()
                }
                parquet::record::Field::Null => cell.is_empty(),
                _ => false,
            };
            assert!(same, "row {i}, feature {name}: {field:?} vs {cell:?}");
        }
    }

    // `edgescore score` reads the Parquet features as it reads the CSV's.
    let model = pipeline.join("model/xgboost.json");
    let score = |input: &Path, output: &Path| {
        edgescore(&[
            "score",
            "--model",
            path(&model),
            "--input",
            path(input),
            "--output",
            path(output),
            "--ignore-extra-columns",
        ]);
        std::fs::read_to_string(output).expect("scores")
    };
    let from_parquet = score(&output, &tmp.path().join("scores_parquet.csv"));
    let from_csv = score(&reference, &tmp.path().join("scores_csv.csv"));
    assert_eq!(from_parquet.lines().count(), expected.len() + 1);
    assert_eq!(
        from_parquet, from_csv,
        "scores from Parquet and CSV features"
    );

    let refused = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(["transform", "--pipeline", path(&pipeline), "--input"])
        .arg(data.join("nested.parquet"))
        .arg("--output")
        .arg(tmp.path().join("nested.csv"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("column 'amounts' is nested") && stderr.contains("flat"),
        "{stderr}"
    );
    assert!(!tmp.path().join("nested.csv").exists());
}

/// Every row of a Parquet file as (column, value) pairs.
fn read_parquet(file: &Path) -> Vec<Vec<(String, parquet::record::Field)>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(file).expect("open"))
        .expect("a Parquet file");
    reader
        .get_row_iter(None)
        .expect("rows")
        .map(|row| row.expect("row").into_columns())
        .collect()
}

/// A webhook behind a private CA: with `--alert-webhook-ca` naming that CA,
/// a blocked transaction's alert arrives over https; with another CA the
/// server refuses to trust the webhook, and the alert is retried (counted),
/// never delivered in clear. A CA file without a certificate stops the
/// server at startup with the reason.
#[test]
fn alerts_reach_an_https_webhook_verified_against_a_private_ca() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (webhook_ca, webhook_url, received) = https_webhook();
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, webhook_ca).expect("write CA");
    let blocked = json!({"transactions": [{
        "timestamp": "2026-03-01T03:12:00Z", "card_id": "c00042", "amount": 1450.0,
        "merchant_id": "m40511", "merchant_category": "electronics", "channel": "online",
        "country": "NG", "home_country": "US", "device_id": "x91"}]});

    {
        let server = Server::start(&[
            "--alert-log",
            path(&tmp.path().join("alerts.jsonl")),
            "--alert-webhook",
            &webhook_url,
            "--alert-webhook-ca",
            path(&ca_file),
        ]);
        let answer = server.score(&blocked);
        assert_eq!(answer["results"][0]["decision"], "block", "{answer}");
        let alert = received
            .recv_timeout(Duration::from_secs(20))
            .expect("the alert reaches the webhook");
        let alert: Value = serde_json::from_str(&alert).expect("JSON alert");
        assert_eq!(alert["decision"], "block", "{alert}");
        assert_eq!(alert["pipeline"], "fraud", "{alert}");
        assert_eq!(alert["transaction"]["card_id"], "c00042", "{alert}");
    }

    // Another CA: the webhook's certificate is not trusted.
    let (other_ca, _, _) = https_webhook();
    let other_file = tmp.path().join("other.pem");
    std::fs::write(&other_file, other_ca).expect("write CA");
    {
        let server = Server::start(&[
            "--alert-log",
            path(&tmp.path().join("alerts2.jsonl")),
            "--alert-webhook",
            &webhook_url,
            "--alert-webhook-ca",
            path(&other_file),
        ]);
        server.score(&blocked);
        let deadline = Instant::now() + Duration::from_secs(20);
        let metric = |metrics: &str, name: &str| -> u64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
        };
        loop {
            let metrics = ureq::get(format!("{}/metrics", server.url))
                .call()
                .expect("metrics")
                .body_mut()
                .read_to_string()
                .expect("text");
            assert_eq!(
                metric(&metrics, "edgescore_alert_webhook_delivered_total "),
                0,
                "an untrusted webhook got the alert"
            );
            if metric(&metrics, "edgescore_alert_webhook_retries_total ") > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "no retry counted:\n{metrics}");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(received.try_recv().is_err(), "nothing reached the webhook");
    }

    let empty = tmp.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").expect("write");
    let refused = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--alert-webhook",
            &webhook_url,
        ])
        .arg("--alert-webhook-ca")
        .arg(&empty)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no PEM certificate"), "{stderr}");
}

/// An https server on loopback with a certificate for `localhost` from a
/// fresh CA: returns the CA (PEM), the URL, and the bodies it receives.
fn https_webhook() -> (String, String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    use std::sync::Arc;

    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca =
        rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().expect("key"))
            .expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("leaf");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    let config = Arc::new(config);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let connection = rustls::ServerConnection::new(config.clone()).expect("connection");
            let mut tls = rustls::StreamOwned::new(connection, stream);
            // Headers, then a body of content-length bytes.
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                match tls.read(&mut byte) {
                    Ok(1) => request.push(byte[0]),
                    _ => break,
                }
            }
            let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
            let Some(length) = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
            else {
                continue; // the handshake failed, or no body
            };
            let mut body = vec![0u8; length];
            if tls.read_exact(&mut body).is_err() {
                continue;
            }
            let _ =
                tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tls.flush();
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (ca.pem(), format!("https://localhost:{port}/hook"), rx)
}
