//! `edgescore profile` and `edgescore drift` on the fraud pipeline, over
//! small files from its generator (200 cards): a file against its own
//! profile does not drift at all; amounts three times larger
//! (`--amount-scale 3`) put the amount features in `act` and leave the
//! hour alone; the HTML page has a chart per distribution; a profile made
//! for other features or another model, or a missing file, is refused in
//! one line.

#[path = "../../examples/fraud/generate.rs"]
mod generate;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use edgescore_test_support::repo_root;
use serde_json::Value;

use super::{edgescore, one_clear_line, path_str};

/// The generated files and the training file's profile, made once for
/// every test here.
struct Data {
    dir: PathBuf,
    /// 10 days of 200 cards.
    train: PathBuf,
    /// The 5 days after, every amount three times larger.
    shifted: PathBuf,
    /// `edgescore profile` of `train`.
    profile: PathBuf,
    /// The transactions in `train`.
    rows: u64,
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli-drift");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let write = |name: &str, config: &generate::Config| {
            let transactions = generate::generate(config);
            let path = dir.join(name);
            let file = std::fs::File::create(&path).expect("create");
            generate::write_csv(&transactions, file).expect("write");
            (path, transactions.len() as u64)
        };
        let small = generate::Config {
            cards: 200,
            days: 10,
            ..generate::Config::default()
        };
        let (train, rows) = write("train.csv", &small);
        let (shifted, _) = write(
            "shifted.csv",
            &generate::Config {
                start_day: 10,
                days: 5,
                amount_scale: 3.0,
                ..small
            },
        );
        let profile = dir.join("profile.json");
        let out = edgescore(&[
            "profile",
            "--pipeline",
            path_str(&fraud()),
            "--input",
            path_str(&train),
            "--output",
            path_str(&profile),
        ]);
        succeeded("profile", &out);
        Data {
            dir,
            train,
            shifted,
            profile,
            rows,
        }
    })
}

fn fraud() -> PathBuf {
    repo_root().join("examples/fraud")
}

fn succeeded(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `edgescore drift` of `current` against `reference` on the fraud
/// pipeline, with `more` arguments.
fn drift(reference: &Path, current: &Path, more: &[&str]) -> Output {
    let fraud = fraud();
    let mut args = vec![
        "drift",
        "--pipeline",
        path_str(&fraud),
        "--reference",
        path_str(reference),
        "--current",
        path_str(current),
    ];
    args.extend_from_slice(more);
    edgescore(&args)
}

/// The JSON report on standard output of a run that succeeded.
fn report(out: &Output) -> Value {
    succeeded("drift", out);
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

/// The distribution `name` of a report (a feature, or `score`).
fn distribution<'a>(report: &'a Value, name: &str) -> &'a Value {
    if name == "score" {
        return &report["score"];
    }
    report["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no feature {name} in the report"))
}

#[test]
fn a_file_against_its_own_profile_does_not_drift() {
    let data = data();
    let profile: Value =
        serde_json::from_slice(&std::fs::read(&data.profile).expect("profile")).expect("JSON");
    assert_eq!(profile["rows"], data.rows);
    assert_eq!(profile["pipeline"], "fraud");
    assert_eq!(profile["transform"], "fraud-features 1");
    assert_eq!(
        profile["model_file_sha256"].as_str().map(str::len),
        Some(64)
    );
    assert_eq!(profile["features"].as_array().map(Vec::len), Some(27));

    let out = drift(&data.profile, &data.train, &[]);
    let report = report(&out);
    assert_eq!(report["window_events"], data.rows);
    assert_eq!(
        report["decisions"]["reference"],
        report["decisions"]["current"]
    );
    let features = report["features"].as_array().expect("features");
    assert_eq!(features.len(), 27);
    for d in features.iter().chain([&report["score"]]) {
        assert_eq!(d["psi"], 0.0, "{}", d["name"]);
        assert_eq!(d["state"], "stable", "{}", d["name"]);
        assert_eq!(d["reference"], d["current"], "{}", d["name"]);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("drift:"), "{stderr}");
    assert!(stderr.contains("0 act, 0 moderate, 28 stable"), "{stderr}");
}

#[test]
fn amounts_three_times_larger_are_act_and_the_hour_is_not() {
    let data = data();
    let out = drift(&data.profile, &data.shifted, &[]);
    let report = report(&out);
    for name in ["amount", "amount_log"] {
        let d = distribution(&report, name);
        let psi = d["psi"].as_f64().expect("a PSI");
        assert!(psi > 0.25, "{name}: PSI {psi}");
        assert_eq!(d["state"], "act", "{name}");
    }
    let hour = distribution(&report, "hour")["psi"]
        .as_f64()
        .expect("a PSI");
    assert!(hour < 0.1, "hour: PSI {hour}");
    assert_eq!(distribution(&report, "hour")["state"], "stable");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("drift: amount is act (PSI "), "{stderr}");
    assert!(!stderr.contains("drift: hour"), "{stderr}");

    // The training file itself as the reference: profiled on the spot,
    // against a store of its own, to the same report.
    let again = drift(&data.train, &data.shifted, &[]);
    succeeded("drift against the training file", &again);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_html_report_has_a_chart_per_distribution() {
    let data = data();
    let page = data.dir.join("drift.html");
    let _ = std::fs::remove_file(&page);
    let out = drift(
        &data.profile,
        &data.shifted,
        &["--report", "html", "--output", path_str(&page)],
    );
    succeeded("drift --report html", &out);
    assert!(out.stdout.is_empty());
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        html.matches("<svg").count(),
        28,
        "27 features and the score"
    );
    let profile: Value =
        serde_json::from_slice(&std::fs::read(&data.profile).expect("profile")).expect("JSON");
    for feature in profile["features"].as_array().expect("features") {
        let name = feature["name"].as_str().expect("a name");
        assert!(
            html.contains(&format!(">{name}</a>")),
            "{name} in the table"
        );
        assert!(html.contains(&format!("{name}: PSI ")), "{name}'s chart");
    }
    // Nothing fetched from elsewhere.
    assert!(!html.contains("<script"));
    assert!(!html.contains("<link"));

    let out = drift(&data.profile, &data.shifted, &["--report", "html"]);
    one_clear_line("html to the terminal", &out, &["--output"]);
}

#[test]
fn a_profile_for_other_features_or_another_model_is_refused() {
    let data = data();
    let mut profile: Value =
        serde_json::from_slice(&std::fs::read(&data.profile).expect("profile")).expect("JSON");
    profile["features"][2]["name"] = "hour_of_day".into();
    let other = data.dir.join("other_features.json");
    std::fs::write(&other, serde_json::to_vec(&profile).expect("JSON")).expect("write");
    let out = drift(&other, &data.shifted, &[]);
    one_clear_line(
        "other features",
        &out,
        &[
            "other_features.json",
            "position 2",
            "hour_of_day",
            "\"hour\"",
        ],
    );

    // The baseline pipeline: the same transform, the logistic model.
    let out = edgescore(&[
        "drift",
        "--pipeline",
        path_str(&repo_root().join("examples/fraud/logistic")),
        "--reference",
        path_str(&data.profile),
        "--current",
        path_str(&data.shifted),
    ]);
    one_clear_line(
        "another model",
        &out,
        &["profile.json", "model", "edgescore profile"],
    );
}

#[test]
fn a_missing_file_is_named() {
    let data = data();
    let missing = data.dir.join("no_such_events.csv");
    let out = drift(&data.profile, &missing, &[]);
    one_clear_line("missing current", &out, &["no_such_events.csv"]);
    let out = drift(&data.dir.join("no_such_profile.json"), &data.train, &[]);
    one_clear_line("missing reference", &out, &["no_such_profile.json"]);
}
