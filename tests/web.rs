//! The `edgescore` npm package (`guest/web`, built by `guest/web/build.sh`)
//! run in Node's V8 as a page runs it (the ES module, `init` with the wasm's
//! bytes): every golden case, every input set, scored bit-identically to the
//! native model core; a bad model file is a JavaScript `Error` with the
//! CLI's message.
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

fn node(package: &std::path::Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("node")
        .arg(repo_root().join("tests/web/score.mjs"))
        .arg(package)
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
    let mut args: Vec<std::ffi::OsString> = vec![case.model_path.clone().into()];
    for (i, set) in case.sets.iter().enumerate() {
        let rows = tmp.path().join(format!("{i}.rows"));
        let bytes: Vec<u8> = set.rows.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&rows, bytes).expect("rows");
        args.push(rows.into());
        args.push(tmp.path().join(format!("{i}.scores")).into());
    }
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = node(&package, &refs);
    assert!(
        out.status.success(),
        "{name}: node: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (i, set) in case.sets.iter().enumerate() {
        let scores: Vec<f64> = std::fs::read(tmp.path().join(format!("{i}.scores")))
            .expect("scores")
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let native = model.score(&set.rows).expect("native scores");
        assert_eq!(scores.len(), native.len(), "{name} / {}", set.name);
        for (row, (got, want)) in scores.iter().zip(&native).enumerate() {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{name} / {} / row {row}: package {got:?}, native {want:?}",
                set.name
            );
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
    let out = node(&package, &[bad.as_os_str(), "--load-error".as_ref()]);
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
