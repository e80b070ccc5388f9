//! Lists the golden cases of `models/test_cases` at build time and writes
//! `foreach_golden_case!`, which calls a macro once per case, so that each
//! test tier generates one test per case and scoring path (wasmtime's
//! `foreach_*` pattern in `crates/test-programs/artifacts`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let cases_dir = Path::new(&env("CARGO_MANIFEST_DIR")).join("../../models/test_cases");
    // A directory here makes cargo rerun this script whenever any file
    // below it changes, so a new case folder appears as new tests.
    println!("cargo:rerun-if-changed={}", cases_dir.display());
    println!("cargo:rerun-if-changed=build.rs");

    let mut names: Vec<String> = std::fs::read_dir(&cases_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cases_dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.join("case.json").is_file())
        .map(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_else(|| panic!("{} is not a UTF-8 name", path.display()))
                .to_owned()
        })
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no golden case (a folder with case.json) in {}",
        cases_dir.display()
    );

    let mut code = String::from(
        "/// Calls `$mac!(ident, \"folder\")` once for every golden case in\n\
         /// `models/test_cases`, in name order: `ident` is the folder's name,\n\
         /// usable as a test's name, and `folder` the same as a string literal.\n\
         /// Written by `tests/support/build.rs`, which reruns when a case changes.\n\
         #[macro_export]\n\
         macro_rules! foreach_golden_case {\n    ($mac:ident) => {\n",
    );
    for name in &names {
        assert!(
            is_identifier(name),
            "golden case folder {name:?} is not a Rust identifier (use lower_snake_case)"
        );
        writeln!(code, "        $mac!({name}, {name:?});").expect("write to a String");
    }
    code.push_str("    };\n}\n\n");
    code.push_str(
        "/// The golden case folders `foreach_golden_case!` lists, in the same order.\n\
         pub const GOLDEN_CASES: &[&str] = &[\n",
    );
    for name in &names {
        writeln!(code, "    {name:?},").expect("write to a String");
    }
    code.push_str("];\n");

    let out = PathBuf::from(env("OUT_DIR")).join("golden_cases.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

/// Whether `name` can be a test's name as it is (`lower_snake_case`).
fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
