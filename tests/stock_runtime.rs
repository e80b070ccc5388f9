//! Components run unchanged on a component runtime edgescore did not write.
//!
//! Every golden case is built into a component and scored by jco (the
//! Bytecode Alliance's JavaScript component toolchain) on Node's V8, through
//! `tests/stock_runtime/score.mjs`, one test per case (`jco::<case>`). Its
//! scores must be bit-identical to edgescore's native scores and as close
//! to the reference library as ours.
//!
//! Needs Node.js and `npm install --prefix tests/stock_runtime` (CI does both and
//! sets `EDGESCORE_REQUIRE_STOCK_RUNTIME=1`, so there it cannot be skipped).
//! Elsewhere, when either is missing, the test says so and passes.

use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;

use edgescore_models::Model;
use edgescore_runtime::component_build::{BuildRequest, build_component};
use edgescore_test_support::{Tolerance, case, check_references, check_scores, repo_root};

/// Whether jco can run here; `Err` says what is missing.
fn jco_available(dir: &Path) -> Result<(), String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("Node.js (`node`) is not installed".into());
    }
    if !dir
        .join("node_modules/@bytecodealliance/jco-transpile")
        .exists()
    {
        return Err(format!(
            "jco is not installed: run `npm install --prefix {}`",
            dir.display()
        ));
    }
    Ok(())
}

/// Whether jco can run here, checked once per test binary.
static JCO: LazyLock<Result<(), String>> =
    LazyLock::new(|| jco_available(&repo_root().join("tests/stock_runtime")));

/// Every input set of golden case `name`, scored by its component in jco:
/// bit for bit the native scores, and within the case's tolerance of the
/// reference library.
fn check_jco(name: &str) {
    if let Err(missing) = &*JCO {
        assert!(
            std::env::var_os("EDGESCORE_REQUIRE_STOCK_RUNTIME").is_none(),
            "EDGESCORE_REQUIRE_STOCK_RUNTIME is set but {missing}"
        );
        eprintln!("SKIPPED: {missing}");
        return;
    }
    let dir = repo_root().join("tests/stock_runtime");
    let case = case(name);
    let tmp = tempfile::tempdir().expect("tempdir");
    let component = build_component(&BuildRequest {
        model: &case.model_path,
        format: None,
        name: &case.name,
        version: "1",
    })
    .unwrap_or_else(|e| panic!("{}: build: {e}", case.name));
    let component_path = tmp.path().join(format!("{}.wasm", case.name));
    std::fs::write(&component_path, component).expect("write component");
    let model = Model::from_bytes(
        &std::fs::read(&case.model_path).expect("model readable"),
        None,
    )
    .expect("golden model loads");

    for set in &case.sets {
        let what = format!("{} / {} / jco", case.name, set.name);
        let rows_path = tmp.path().join("rows.f64");
        let scores_path = tmp.path().join("scores.f64");
        let rows: Vec<u8> = set.rows.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&rows_path, rows).expect("write rows");
        let run = Command::new("node")
            .arg(dir.join("score.mjs"))
            .args([&component_path, &rows_path, &scores_path])
            .output()
            .expect("node runs");
        assert!(
            run.status.success(),
            "{what}: jco failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let scores: Vec<f64> = std::fs::read(&scores_path)
            .expect("jco wrote scores")
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let native = model.score(&set.rows).expect("native scores");
        check_scores(&what, &scores, &native, Tolerance::BitExact);
        check_references(&case, set, &what, &scores, None);
    }
}

/// `jco::<case>`: one test per golden case.
mod jco {
    macro_rules! jco_case {
        ($id:ident, $name:literal) => {
            #[test]
            fn $id() {
                super::check_jco($name);
            }
        };
    }
    edgescore_test_support::foreach_golden_case!(jco_case);
}
