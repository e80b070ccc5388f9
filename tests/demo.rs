//! The demo page (`edgescore serve` at `/demo/`), end to end in Debian's
//! headless Chromium: the page loads with no console error, scores twenty
//! sample transactions in the page (the npm package) and on the server,
//! and every score, decision and reason it shows, on both sides, equals the
//! answer a second, independent server gives a real HTTP client for the
//! same transactions in the same order. The page's package is the one
//! `guest/web/build.sh` makes, byte for byte. The test leaves a screenshot
//! of the page at `target/demo.png` (and, with
//! `EDGESCORE_UPDATE_SCREENSHOT=1`, at `docs/demo.png`, the README's).

use edgescore_test_support::chromium::Chromium;
use edgescore_test_support::server::Serve;
use edgescore_test_support::{repo_root, same_json};
use serde_json::{Value, json};

/// What the page shows for the latest transaction and in the newest row of
/// the table: `{ page: {verdict, reasons}, server: {...}, row: [cells] }`.
const SHOWN: &str = r##"
const side = (id) => {
  const el = document.querySelector(`#side-${id}`);
  const chart = el.querySelector(".reasons");
  return {
    verdict: el.querySelector(".verdict").textContent,
    reasons: chart.dataset.reasons ? JSON.parse(chart.dataset.reasons) : null,
    labels: Array.from(chart.querySelectorAll("text"), (t) => t.textContent),
  };
};
const row = document.querySelector("#results tbody tr");
return { page: side("page"), server: side("server"), row: Array.from(row.children, (td) => td.textContent) };
"##;

#[test]
fn the_demo_page_shows_the_servers_answers_for_twenty_transactions() {
    if let Some(why) = Chromium::missing() {
        assert!(!Chromium::required(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    let binary = env!("CARGO_BIN_EXE_edgescore");
    let server = Serve::new(binary).start();
    let reference = Serve::new(binary).start();

    // The embedded package is the one the documented command builds.
    let package = std::env::var_os("EDGESCORE_WEB_PACKAGE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/web/edgescore"));
    if let Ok(built) = std::fs::read(package.join("edgescore_bg.wasm")) {
        let (status, _) = server.get("/demo/pkg/edgescore_bg.wasm");
        assert_eq!(status, 200);
        let served = ureq::get(&server.url("/demo/pkg/edgescore_bg.wasm"))
            .call()
            .expect("the wasm")
            .body_mut()
            .read_to_vec()
            .expect("bytes");
        assert!(
            served == built,
            "the served package differs from guest/web/build.sh's"
        );
    }

    let browser = Chromium::start();
    browser.open(&server.url("/demo"));
    let ready = browser.execute_async(
        "const done = arguments[0]; window.edgescoreDemo.ready.then(() => done('ready'), (e) => done(String(e)));",
        &json!([]),
    );
    assert_eq!(ready, "ready", "the page did not load");

    let mut decisions = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..20 {
        let entry = browser.execute_async(
            "const done = arguments[0]; window.edgescoreDemo.scoreNext().then(done, (e) => done({ failed: String(e) }));",
            &json!([]),
        );
        assert!(entry.get("failed").is_none(), "transaction {i}: {entry}");
        let transaction = &entry["transaction"];
        let (status, answer) = reference.post_json(
            "/v1/pipelines/fraud/score",
            &json!({ "transactions": [transaction], "features": true, "explain": true }),
        );
        assert_eq!(status, 200, "transaction {i}: {answer}");
        let want = &answer["results"][0];
        let shown = browser.execute(SHOWN, &json!([]));
        for side in ["page", "server"] {
            let verdict = shown[side]["verdict"].as_str().unwrap_or_default();
            let (decision, score) = verdict
                .split_once(" score ")
                .unwrap_or_else(|| panic!("transaction {i}, {side}: shown {verdict:?}"));
            assert_eq!(decision, want["decision"], "transaction {i}, {side}");
            let score: f64 = score.parse().expect("a score");
            assert_eq!(
                score.to_bits(),
                want["score"].as_f64().expect("score").to_bits(),
                "transaction {i}, {side}: shown {score}, the server's {}",
                want["score"]
            );
            assert!(
                same_json(&shown[side]["reasons"], &want["reasons"]),
                "transaction {i}, {side}: the reasons shown {} differ from the server's {}",
                shown[side]["reasons"],
                want["reasons"]
            );
            let labels = &shown[side]["labels"];
            for (k, reason) in want["reasons"]
                .as_array()
                .expect("reasons")
                .iter()
                .enumerate()
            {
                let label = labels[k * 2].as_str().unwrap_or_default();
                let feature = reason["feature"].as_str().expect("feature");
                assert!(
                    label.starts_with(&format!("{feature} = ")),
                    "transaction {i}, {side}: bar {k} is {label:?}, not {feature}"
                );
            }
        }
        // The table's newest row: page and server scores and decisions, "yes".
        let row: Vec<&str> = shown["row"]
            .as_array()
            .expect("row")
            .iter()
            .map(|c| c.as_str().unwrap_or_default())
            .collect();
        let want_score = want["score"].as_f64().expect("score");
        for cell in [row[4], row[6]] {
            assert_eq!(
                cell.parse::<f64>().map(f64::to_bits),
                Ok(want_score.to_bits())
            );
        }
        assert_eq!(
            (row[5], row[7], row[8]),
            (decision_of(want), decision_of(want), "yes")
        );
        *decisions.entry(decision_of(want).to_owned()).or_default() += 1;
    }

    let errors: Vec<Value> = browser
        .console()
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let page_errors = browser.execute("return window.edgescoreDemo.errors;", &json!([]));
    assert_eq!(page_errors, json!([]));
    // The samples show both ends (review depends on the hour of the day,
    // as the samples are dated from now).
    assert!(
        ["allow", "block"]
            .iter()
            .all(|d| decisions.contains_key(*d)),
        "decisions of the samples: {decisions:?}"
    );

    let png = browser.screenshot();
    std::fs::write(repo_root().join("target/demo.png"), &png).expect("screenshot");
    if std::env::var_os("EDGESCORE_UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        std::fs::write(repo_root().join("docs/demo.png"), &png).expect("screenshot");
    }
    eprintln!(
        "20 transactions, page and server identical in Chromium {}: {decisions:?}",
        browser.version
    );
}

fn decision_of(result: &Value) -> &str {
    result["decision"].as_str().unwrap_or_default()
}
