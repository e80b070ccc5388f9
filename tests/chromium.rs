//! The `edgescore` npm package in a real browser: Debian's Chromium,
//! headless, driven by chromedriver over WebDriver. A page served over
//! loopback imports the package as an ES module (both builds, `edgescore`
//! and `edgescore/models`), loads each golden case's model and scores every
//! input set; every score is the native model core's, bit for bit.
//!
//! Needs the package (`guest/web/build.sh`, found in `EDGESCORE_WEB_PACKAGE`
//! or `target/web/edgescore`), `/usr/bin/chromium` and `chromedriver`.
//! `.ci/run` installs and builds them and sets `EDGESCORE_REQUIRE_CHROMIUM=1`,
//! so there the test cannot skip; elsewhere it says what is missing and
//! passes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use edgescore_models::Model;
use edgescore_test_support::chromium::Chromium;
use edgescore_test_support::{cases, repo_root};
use serde_json::json;

/// Serves the files under `root` over loopback (GET only), until the
/// process ends; returns the address.
fn serve_folder(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                // The headers, up to the blank line.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let file = root.join(path.trim_start_matches('/'));
                let (status, body) = match std::fs::read(&file) {
                    Ok(body) if !path.contains("..") => ("200 OK", body),
                    _ => ("404 Not Found", b"not found".to_vec()),
                };
                let kind = match file.extension().and_then(|e| e.to_str()) {
                    Some("js" | "mjs") => "text/javascript",
                    Some("wasm") => "application/wasm",
                    Some("html") => "text/html",
                    _ => "application/octet-stream",
                };
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            });
        }
    });
    address
}

/// What is missing for the test, or `None`.
fn missing(package: &Path) -> Option<String> {
    if !package.join("edgescore_bg.wasm").is_file() {
        return Some(format!(
            "no package at {} (bash guest/web/build.sh)",
            package.display()
        ));
    }
    Chromium::missing()
}

/// In the page: imports the package, loads the case's model, scores each
/// set's rows; answers `{ok: [[scores], ...]}` or `{error}`.
const SCORE_CASE: &str = r#"
const [module, name, sets, done] = [arguments[0], arguments[1], arguments[2], arguments[arguments.length - 1]];
(async () => {
  const { default: init, Model } = await import(`/pkg/${module}`);
  await init();
  const bytes = new Uint8Array(await (await fetch(`/cases/${name}/model`)).arrayBuffer());
  const model = Model.load(bytes);
  const out = [];
  for (const set of sets) {
    const rows = new Float64Array(await (await fetch(`/cases/${name}/${set}.rows`)).arrayBuffer());
    out.push(Array.from(model.score(rows)));
  }
  done({ ok: out });
})().catch((e) => done({ error: String((e && e.message) || e) }));
"#;

#[test]
fn every_golden_case_scores_in_chromium_with_the_native_bits() {
    let package = std::env::var_os("EDGESCORE_WEB_PACKAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/web/edgescore"));
    if let Some(why) = missing(&package) {
        assert!(!Chromium::required(), "{why}");
        eprintln!("skipped: {why}");
        return;
    }
    // The site: the package, a page, each case's model and row sets.
    let site = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(site.path().join("pkg")).expect("mkdir");
    const MODULES: [&str; 2] = ["edgescore.js", "edgescore_models.js"];
    for file in [
        "edgescore.js",
        "edgescore_bg.wasm",
        "edgescore_models.js",
        "edgescore_models_bg.wasm",
    ] {
        std::fs::copy(package.join(file), site.path().join("pkg").join(file)).expect("copy");
    }
    std::fs::write(
        site.path().join("index.html"),
        "<!doctype html><title>edgescore test</title>",
    )
    .expect("page");
    let cases = cases();
    for case in &cases {
        let dir = site.path().join("cases").join(&case.name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::copy(&case.model_path, dir.join("model")).expect("model");
        for set in &case.sets {
            let bytes: Vec<u8> = set.rows.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(dir.join(format!("{}.rows", set.name)), bytes).expect("rows");
        }
    }
    let address = serve_folder(site.path().to_owned());

    let browser = Chromium::start();
    browser.open(&format!("http://{address}/index.html"));

    let mut checked = 0;
    for case in &cases {
        let sets: Vec<&str> = case.sets.iter().map(|s| s.name.as_str()).collect();
        let model = Model::from_bytes(&std::fs::read(&case.model_path).expect("model"), None)
            .expect("golden model loads");
        for module in MODULES {
            let answer = browser.execute_async(SCORE_CASE, &json!([module, case.name, sets]));
            let scored = answer["ok"]
                .as_array()
                .unwrap_or_else(|| panic!("{}, {module}: {answer}", case.name));
            for (set, got) in case.sets.iter().zip(scored) {
                let native = model.score(&set.rows).expect("native scores");
                let got = got.as_array().expect("scores");
                assert_eq!(got.len(), native.len(), "{} / {}", case.name, set.name);
                for (row, (got, want)) in got.iter().zip(&native).enumerate() {
                    let got = got.as_f64().unwrap_or(f64::NAN);
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{} / {} / row {row} in Chromium, {module}: {got:?}, native {want:?}",
                        case.name,
                        set.name
                    );
                }
                checked += native.len();
            }
        }
    }
    eprintln!(
        "{} cases through both builds, {checked} rows, bit-identical in Chromium {}",
        cases.len(),
        browser.version
    );
}
