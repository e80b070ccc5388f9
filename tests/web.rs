//! The `edgescore` npm package (`guest/web`, built by `guest/web/build.sh`)
//! run in Node's V8 as a page runs it (the ES module, `init` with the wasm's
//! bytes): every golden case, every input set, scored bit-identically to the
//! native model core by both builds (`edgescore` and `edgescore/models`),
//! from a Float64Array and from a Float32Array; a bad model file is a
//! JavaScript `Error` with the CLI's message; a pipeline's answers and
//! refusals are the server's; `npm pack` makes a package that installs and
//! imports by its names.
//!
//! The package is looked for in `EDGESCORE_WEB_PACKAGE` (default
//! `target/web/edgescore`). `.ci/run` builds it and sets
//! `EDGESCORE_REQUIRE_WEB=1`, so there the tests cannot skip; elsewhere,
//! without the package or Node, they say so and pass.

use std::path::PathBuf;
use std::process::Command;

use edgescore_models::Model;
use edgescore_test_support::{case, repo_root};

/// The package folder and Node, or `None` (after saying so) where either is
/// missing and CI did not require them.
fn package_or_skip(what: &str) -> Option<PathBuf> {
    let package = std::env::var_os("EDGESCORE_WEB_PACKAGE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/web/edgescore"));
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if package.join("edgescore_bg.wasm").is_file() && node {
        return Some(package);
    }
    let why = format!(
        "no package at {} (bash guest/web/build.sh), or no node",
        package.display()
    );
    assert!(
        std::env::var_os("EDGESCORE_REQUIRE_WEB").is_none_or(|v| v != "1"),
        "{what}: {why}"
    );
    eprintln!("{what}: skipped: {why}");
    None
}

/// `node tests/web/<script> <args>`.
fn node(script: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("node")
        .arg(repo_root().join("tests/web").join(script))
        .args(args)
        .output()
        .expect("node runs")
}

fn check_case(name: &str) {
    let Some(package) = package_or_skip(name) else {
        return;
    };
    let case = case(name);
    let model = Model::from_bytes(&std::fs::read(&case.model_path).expect("model"), None)
        .expect("golden model loads");
    let tmp = tempfile::tempdir().expect("tempdir");
    let runs = [
        ("edgescore.js", false),
        ("edgescore_models.js", false),
        ("edgescore.js", true),
    ];
    for (module, f32) in runs {
        let mut args: Vec<std::ffi::OsString> =
            vec![package.join(module).into(), case.model_path.clone().into()];
        if f32 {
            args.push("--f32".into());
        }
        for (i, set) in case.sets.iter().enumerate() {
            let rows = tmp.path().join(format!("{i}.rows"));
            let bytes: Vec<u8> = set.rows.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(&rows, bytes).expect("rows");
            args.push(rows.into());
            args.push(tmp.path().join(format!("{i}.scores")).into());
        }
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let out = node("score.mjs", &refs);
        assert!(
            out.status.success(),
            "{name}, {module}: node: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (i, set) in case.sets.iter().enumerate() {
            let scores: Vec<f64> = std::fs::read(tmp.path().join(format!("{i}.scores")))
                .expect("scores")
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect();
            // A Float32Array holds each value rounded to float32.
            let rows: Vec<f64> = if f32 {
                set.rows.iter().map(|&v| f64::from(v as f32)).collect()
            } else {
                set.rows.clone()
            };
            let native = model.score(&rows).expect("native scores");
            assert_eq!(scores.len(), native.len(), "{name} / {}", set.name);
            for (row, (got, want)) in scores.iter().zip(&native).enumerate() {
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{name} / {} / row {row}, {module}, float32 {f32}: package {got:?}, native {want:?}",
                    set.name
                );
            }
        }
    }
}

mod golden {
    macro_rules! web_case {
        ($id:ident, $name:literal) => {
            #[test]
            fn $id() {
                super::check_case($name);
            }
        };
    }
    edgescore_test_support::foreach_golden_case!(web_case);
}

#[test]
fn a_bad_model_file_is_a_javascript_error_with_the_clis_message() {
    let Some(package) = package_or_skip("bad model") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("model.json");
    std::fs::write(&bad, b"{\"not\": \"a model\"}").expect("write");
    let module = package.join("edgescore.js");
    let out = node(
        "score.mjs",
        &[module.as_os_str(), bad.as_os_str(), "--load-error".as_ref()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(answer["isError"], true, "{answer}");
    let native = Model::from_bytes(b"{\"not\": \"a model\"}", None)
        .expect_err("refused")
        .to_string();
    assert_eq!(
        answer["message"].as_str().expect("message"),
        format!("cannot load model: {native}"),
        "{answer}"
    );
}

/// The demo site `edgescore demo --output` writes (the fraud pipeline's
/// transform, model and options among its files).
fn demo_site(dir: &std::path::Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgescore"))
        .args(["demo", "--output"])
        .arg(dir)
        .output()
        .expect("edgescore runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "index.html",
        "demo.js",
        "demo.css",
        "pkg/edgescore.js",
        "pkg/edgescore_bg.wasm",
        "pipeline/transform.toml",
        "pipeline/model.json",
        "pipeline/options.json",
    ] {
        assert!(dir.join(file).is_file(), "the site lacks {file}");
    }
    let site: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("site.json")).expect("site.json"))
            .expect("JSON");
    assert_eq!(
        site,
        serde_json::json!({ "server": null }),
        "a static site names no server"
    );
}

/// `node tests/web/<script> <PACKAGE> <TRANSFORM> <MODEL> <OPTIONS> <last>`
/// with the demo site's pipeline files; its standard output, once it has
/// succeeded.
fn node_on_demo_pipeline(
    script: &str,
    package: &std::path::Path,
    site: &std::path::Path,
    last: &std::ffi::OsStr,
) -> Vec<u8> {
    let p = |f: &str| site.join("pipeline").join(f).into_os_string();
    let out = node(
        script,
        &[
            package.as_os_str(),
            &p("transform.toml"),
            &p("model.json"),
            &p("options.json"),
            last,
        ],
    );
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_pipeline_in_the_package_answers_and_refuses_as_the_server_does() {
    use edgescore_test_support::same_json;
    use edgescore_test_support::server::Serve;
    use serde_json::{Value, json};

    let Some(package) = package_or_skip("pipeline") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = tmp.path().join("site");
    demo_site(&site);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let at = |minutes_ago: i64| {
        edgescore_models::transform::format_rfc3339_ms(now - minutes_ago * 60_000)
    };
    let card = format!("web-{now}");
    let tx = |minutes_ago: i64, card: &str, amount: Value, extra: Value| {
        let mut t = json!({
            "timestamp": at(minutes_ago), "card_id": card, "amount": amount,
            "merchant_id": "m1", "merchant_category": "grocery", "channel": "pos",
            "country": "US", "home_country": "US", "device_id": "d1",
        });
        for (k, v) in extra.as_object().expect("object") {
            if v.is_null() {
                t.as_object_mut().expect("object").remove(k);
            } else {
                t[k] = v.clone();
            }
        }
        t
    };
    let other = format!("{card}-b");
    let transactions = vec![
        tx(30, &card, json!(20.0), json!({})),
        tx(29, &card, json!("12.5"), json!({})),
        tx(
            28,
            &card,
            json!(5.0),
            json!({ "merchant_categroy": "fuel" }),
        ),
        tx(27, &card, json!(5.0), json!({ "card_id": null })),
        tx(-60, &card, json!(5.0), json!({})),
        tx(
            26,
            &card,
            json!(5.0),
            json!({ "timestamp": "2026-02-30T10:00:00Z" }),
        ),
        tx(25, &card, json!(5.0), json!({ "channel": true })),
        tx(20, &card, json!(35.5), json!({ "merchant_id": "m2" })),
        tx(
            5,
            &other,
            json!(1250.0),
            json!({ "country": "NG", "channel": "online", "device_id": "x" }),
        ),
        tx(4, &card, json!(7.25), json!({ "device_id": null })),
    ];
    let file = tmp.path().join("transactions.json");
    std::fs::write(&file, serde_json::to_vec(&transactions).expect("JSON")).expect("write");
    let out = node_on_demo_pipeline("pipeline.mjs", &package, &site, file.as_os_str());
    let page: Vec<Value> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON line per transaction"))
        .collect();
    assert_eq!(page.len(), transactions.len());

    // The server, fed the same transactions one by one in the same order.
    let server = Serve::new(env!("CARGO_BIN_EXE_edgescore")).start();
    let mut refused = 0;
    for (i, (transaction, page)) in transactions.iter().zip(&page).enumerate() {
        let (status, answer) = server.post_json(
            "/v1/pipelines/fraud/score",
            &json!({ "transactions": [transaction], "features": true, "explain": true }),
        );
        if status == 200 {
            assert!(
                same_json(page, &answer["results"][0]),
                "transaction {i}: the page says {page}, the server {}",
                answer["results"][0]
            );
        } else {
            assert_eq!(status, 400, "transaction {i}: {answer}");
            let message = answer["error"].as_str().expect("error");
            let message = message.strip_prefix("transaction 0: ").unwrap_or(message);
            let page = page["error"].as_str().unwrap_or_default();
            if message.contains("ahead of the server's clock") {
                // The same rule against each one's own clock, named.
                let rule = |m: &str| m.split_once("); ").map(|(_, rule)| rule.to_owned());
                assert!(
                    page.contains("ahead of the page's clock"),
                    "transaction {i}: {page}"
                );
                assert_eq!(rule(page), rule(message), "transaction {i}");
            } else {
                assert_eq!(
                    page,
                    format!("invalid transaction: {message}"),
                    "transaction {i}"
                );
            }
            refused += 1;
        }
    }
    assert_eq!(
        refused, 6,
        "the six bad transactions are refused on both sides"
    );
}

#[test]
fn npm_pack_makes_a_package_that_installs_and_imports_by_its_names() {
    let Some(package) = package_or_skip("npm pack") else {
        return;
    };
    let npm = Command::new("npm").arg("--version").output();
    if !npm.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("EDGESCORE_REQUIRE_WEB").is_none_or(|v| v != "1"),
            "no npm"
        );
        eprintln!("skipped: no npm");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new("npm")
        .args(["pack", "--json", "--pack-destination"])
        .arg(tmp.path())
        .arg(&package)
        .output()
        .expect("npm runs");
    assert!(
        out.status.success(),
        "npm pack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("npm pack --json");
    let packed = &packed[0];
    assert_eq!(packed["name"], "edgescore");
    let mut files: Vec<&str> = packed["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    files.sort_unstable();
    assert_eq!(
        files,
        [
            "README.md",
            "edgescore.d.ts",
            "edgescore.js",
            "edgescore_bg.wasm",
            "edgescore_bg.wasm.d.ts",
            "edgescore_models.d.ts",
            "edgescore_models.js",
            "edgescore_models_bg.wasm",
            "edgescore_models_bg.wasm.d.ts",
            "package.json",
        ]
    );
    let wasm = packed["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "edgescore_models_bg.wasm")
        .and_then(|f| f["size"].as_u64())
        .expect("size");
    assert!(wasm < 500_000, "edgescore/models' wasm is {wasm} bytes");

    // A project installs the tarball (offline) and imports both builds by name.
    let project = tmp.path().join("project");
    std::fs::create_dir_all(&project).expect("mkdir");
    std::fs::write(
        project.join("package.json"),
        r#"{"private": true, "type": "module"}"#,
    )
    .expect("package.json");
    let tarball = tmp
        .path()
        .join(packed["filename"].as_str().expect("filename"));
    let out = Command::new("npm")
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .arg(&tarball)
        .current_dir(&project)
        .output()
        .expect("npm runs");
    assert!(
        out.status.success(),
        "npm install: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        project.join("check.mjs"),
        r#"import { readFileSync } from "node:fs";
import init, { Model } from "edgescore/models";
import initFull, { Pipeline } from "edgescore";
const wasm = (name) => readFileSync(new URL(import.meta.resolve(`edgescore/${name}`)));
await init({ module_or_path: wasm("edgescore_models_bg.wasm") });
await initFull({ module_or_path: wasm("edgescore_bg.wasm") });
const model = Model.load(readFileSync(process.argv[2]));
const scores = model.score(new Float64Array(model.numFeatures).fill(NaN));
console.log(JSON.stringify({ kind: model.kind, scores: Array.from(scores), pipeline: typeof Pipeline.load }));
"#,
    )
    .expect("check.mjs");
    let model_path = repo_root().join("examples/quickstart/fraud_xgboost.json");
    let out = Command::new("node")
        .arg("check.mjs")
        .arg(&model_path)
        .current_dir(&project)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let model =
        Model::from_bytes(&std::fs::read(&model_path).expect("model"), None).expect("loads");
    let native = model
        .score(&vec![f64::NAN; model.num_features()])
        .expect("scores");
    assert_eq!(answer["kind"], "xgboost");
    assert_eq!(
        answer["scores"][0].as_f64().map(f64::to_bits),
        Some(native[0].to_bits())
    );
    assert_eq!(answer["pipeline"], "function");
}

#[test]
fn hostile_javascript_values_are_errors_that_say_what_to_fix_and_change_nothing() {
    let Some(package) = package_or_skip("hostile values") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = tmp.path().join("site");
    demo_site(&site);
    // The demo model saved without node covers: no contributions, so no
    // reasons.
    let mut model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("pipeline/model.json")).expect("model"))
            .expect("JSON");
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.remove("sum_hessian");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut model);
    let coverless = tmp.path().join("coverless.json");
    std::fs::write(&coverless, serde_json::to_vec(&model).expect("JSON")).expect("write");
    let out = node_on_demo_pipeline("hostile.mjs", &package, &site, coverless.as_os_str());
    let answer: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    let expected = [
        ("spec not a string", "the transform spec must be a string"),
        ("model as an ArrayBuffer", "as a Uint8Array"),
        (
            "model without covers in a pipeline",
            "cannot explain its scores",
        ),
        ("options as an array", "expected an object of named fields"),
        (
            "review NaN",
            "field 'review' must be a finite number, not NaN",
        ),
        (
            "rows as a plain array",
            "rows must be a Float64Array or a Float32Array",
        ),
        (
            "amount NaN",
            "field 'amount' must be a finite number, not NaN",
        ),
        (
            "category Infinity",
            "field 'merchant_category' must be a finite number, not inf",
        ),
        ("invalid Date", "field 'timestamp' is an invalid Date"),
        ("BigInt amount", "cannot be written as JSON"),
        ("circular", "cannot be written as JSON"),
        ("a 64 MB field", "characters long as JSON"),
        ("not an object", "expected an object of named fields"),
    ];
    let cases = answer["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), expected.len());
    for (case, (name, phrase)) in cases.iter().zip(expected) {
        assert_eq!(case["name"], name);
        assert_eq!(case["isError"], true, "{name}: {case}");
        let message = case["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(phrase),
            "{name}: {message:?} lacks {phrase:?}"
        );
    }
    assert_eq!(
        answer["same"], true,
        "after the refusals the pipeline answers {} where a fresh one answers {}",
        answer["a"], answer["b"]
    );
}
