//! Triton's own Python client, unchanged, against `edgescore serve`
//! (`tests/tritonclient/`). It needs a Python with
//! `pip install -r tests/tritonclient/requirements.txt` named by
//! `EDGESCORE_TRITONCLIENT_PYTHON`; without one these tests say so and
//! pass, unless `EDGESCORE_REQUIRE_TRITONCLIENT` is set (CI).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use edgescore_models::Model;
use edgescore_test_support::repo_root;

use crate::{Fixture, quickstart_model, quickstart_rows};

/// The Python interpreter with `tritonclient[http]`, checked once per test
/// binary; `Err` says what is missing.
static PYTHON: LazyLock<Result<PathBuf, String>> = LazyLock::new(|| {
    let python = std::env::var_os("EDGESCORE_TRITONCLIENT_PYTHON").ok_or_else(|| {
        "EDGESCORE_TRITONCLIENT_PYTHON is not set (a python with `pip install -r tests/tritonclient/requirements.txt`)".to_owned()
    })?;
    let python = PathBuf::from(python);
    let works = Command::new(&python)
        .args(["-c", "import tritonclient.http, numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if works {
        Ok(python)
    } else {
        Err(format!(
            "{} cannot import tritonclient.http and numpy",
            python.display()
        ))
    }
});

/// The Python to run Triton's client with, or `None` after saying why
/// `what` is skipped. Panics when `EDGESCORE_REQUIRE_TRITONCLIENT` is set
/// and there is none.
pub(crate) fn python_or_skip(what: &str) -> Option<&'static Path> {
    match &*PYTHON {
        Ok(python) => Some(python),
        Err(missing) => {
            assert!(
                std::env::var_os("EDGESCORE_REQUIRE_TRITONCLIENT").is_none(),
                "EDGESCORE_REQUIRE_TRITONCLIENT is set but {missing}"
            );
            eprintln!("SKIPPED {what}: {missing}");
            None
        }
    }
}

/// `tests/tritonclient/check.py`: liveness, metadata, binary and JSON infer.
#[test]
fn tritons_python_client_works_unchanged() {
    let Some(python) = python_or_skip("Triton's Python client") else {
        return;
    };
    let fixture = Fixture::start("", |_, _| {});
    let model =
        Model::from_bytes(&std::fs::read(quickstart_model()).expect("model"), None).expect("loads");
    let (header, rows) = quickstart_rows();
    let expected: Vec<u8> = model
        .score(&rows)
        .expect("native")
        .iter()
        .flat_map(|&s| (s as f32).to_le_bytes())
        .collect();
    let scratch = tempfile::tempdir().expect("tempdir");
    let rows_path = scratch.path().join("rows.f32");
    let expected_path = scratch.path().join("expected.f32");
    std::fs::write(
        &rows_path,
        rows.iter()
            .flat_map(|&v| (v as f32).to_le_bytes())
            .collect::<Vec<_>>(),
    )
    .expect("rows");
    std::fs::write(&expected_path, expected).expect("expected");
    let run = Command::new(python)
        .arg(repo_root().join("tests/tritonclient/check.py"))
        .arg(fixture.server.base_url())
        .arg("fraud")
        .arg(&rows_path)
        .arg(header.len().to_string())
        .arg(&expected_path)
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "tritonclient check failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&run.stdout));
}
