//! What every test tier shares: the golden cases of `models/test_cases`,
//! checked the same way on every scoring path, and (in [`server`]) the
//! harness that runs `edgescore serve` for the server tiers.
//!
//! A case is a folder with a model file, `case.json` and one or more input
//! sets `<set>.input.csv` / `<set>.expected.csv`, written by
//! `models/test_cases/generate.py` from the reference libraries. A tier
//! generates one test per case and path with [`foreach_golden_case!`],
//! reads the case with [`case`] and compares what it computed with
//! [`check_scores`]; [`cases`] reads them all.

pub mod server;

// `foreach_golden_case!` and `GOLDEN_CASES`, listed by build.rs.
include!(concat!(env!("OUT_DIR"), "/golden_cases.rs"));

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The library whose output a case records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    XGBoost,
    LightGbm,
    ScikitLearn,
}

/// One golden case: a model and its input sets.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub library: Library,
    pub model_path: PathBuf,
    pub sets: Vec<IoSet>,
}

/// One input file and the reference library's outputs for it.
#[derive(Debug, Clone)]
pub struct IoSet {
    /// `random` or `boundary`.
    pub name: String,
    pub input_path: PathBuf,
    /// The input file's header: the feature names, in the model's order.
    pub header: Vec<String>,
    /// Row-major values, NaN where the cell is empty: the float64 values the
    /// reference library was given (each cell is their shortest decimal).
    pub rows: Vec<f64>,
    pub num_rows: usize,
    /// The reference prediction (probability or regression value) per row.
    pub expected_score: Vec<f64>,
    /// The reference raw margin per row.
    pub expected_raw: Vec<f64>,
    /// The reference per-feature contributions, row-major, one value per
    /// feature then the bias (`<set>.contribs.csv`, XGBoost `random` sets).
    pub expected_contributions: Option<Vec<f64>>,
}

/// How close a score must be to the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// The same bits.
    BitExact,
    /// `|got - expected| <= bound`.
    Absolute(f64),
    /// `|got - expected| <= bound * max(1, |expected|)`: absolute near
    /// zero, relative for large values (a linear model fed `1e300`).
    Relative(f64),
}

/// Which output of a model is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The prediction: probability or regression value.
    Score,
    /// The raw margin before the link function.
    Raw,
}

impl Case {
    /// The bar for this case and output, tighter than the 1e-6 acceptance
    /// bound wherever edgescore achieves it, so a regression shows at once:
    /// - XGBoost computes in float32: bit-exact, score and margin;
    /// - LightGBM sums leaves in float64 in tree order, as edgescore does:
    ///   the raw score is bit-exact; the probability may differ by an ulp of
    ///   `exp` (glibc's against the portable one edgescore uses);
    /// - scikit-learn's BLAS sums the dot product in its own order (relative
    ///   to the size of the result, which `1e300` inputs make huge).
    pub fn tolerance(&self, output: Output) -> Tolerance {
        match (self.library, output) {
            (Library::XGBoost, _) | (Library::LightGbm, Output::Raw) => Tolerance::BitExact,
            (Library::LightGbm, Output::Score) => Tolerance::Absolute(1e-12),
            (Library::ScikitLearn, _) => Tolerance::Relative(1e-12),
        }
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The golden case in folder `name` of `models/test_cases`. Panics when it
/// is missing or malformed.
pub fn case(name: &str) -> Case {
    let dir = repo_root().join("models/test_cases").join(name);
    assert!(
        dir.join("case.json").is_file(),
        "no golden case {name}: {} has no case.json",
        dir.display()
    );
    read_case(&dir)
}

/// Every golden case, sorted by name. Panics when the folder is missing or
/// empty, so a test can never pass by checking nothing.
pub fn cases() -> Vec<Case> {
    let dir = repo_root().join("models/test_cases");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().join("case.json").is_file())
        .map(|e| read_case(&e.path()))
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        cases.len() >= 5,
        "expected the golden cases in {}, found {}",
        dir.display(),
        cases.len()
    );
    cases
}

fn read_case(dir: &Path) -> Case {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = std::fs::read_to_string(dir.join("case.json")).expect("case.json is readable");
    let library = if meta.contains("\"kind\": \"xgboost\"") {
        Library::XGBoost
    } else if meta.contains("\"kind\": \"lightgbm\"") {
        Library::LightGbm
    } else if meta.contains("\"kind\": \"linear\"") {
        Library::ScikitLearn
    } else {
        panic!("{name}/case.json has no known \"kind\"");
    };
    let model_path = ["model.json", "model.txt"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} has no model.json or model.txt"));
    let mut sets: Vec<IoSet> = std::fs::read_dir(dir)
        .expect("case folder is readable")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.strip_suffix(".input.csv")
                .map(|set| read_set(dir, set))
        })
        .collect();
    sets.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!sets.is_empty(), "{name} has no input sets");
    Case {
        name,
        library,
        model_path,
        sets,
    }
}

fn read_set(dir: &Path, set: &str) -> IoSet {
    let input_path = dir.join(format!("{set}.input.csv"));
    let input = std::fs::read_to_string(&input_path).expect("input is readable");
    let mut lines = input.lines();
    let header: Vec<String> = lines
        .next()
        .expect("input has a header")
        .split(',')
        .map(str::to_owned)
        .collect();
    let mut rows = Vec::new();
    let mut num_rows = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(
            cells.len(),
            header.len(),
            "{}: row {num_rows} has the wrong width",
            input_path.display()
        );
        rows.extend(
            cells
                .iter()
                .map(|c| if c.is_empty() { f64::NAN } else { parse(c) }),
        );
        num_rows += 1;
    }
    let expected = std::fs::read_to_string(dir.join(format!("{set}.expected.csv")))
        .expect("expected is readable");
    let mut lines = expected.lines();
    assert_eq!(lines.next(), Some("score,raw"));
    let (mut expected_score, mut expected_raw) = (Vec::new(), Vec::new());
    for line in lines {
        let (s, r) = line.split_once(',').expect("two columns");
        expected_score.push(parse(s));
        expected_raw.push(parse(r));
    }
    assert_eq!(
        expected_score.len(),
        num_rows,
        "{set}: one expected score per input row"
    );
    let expected_contributions = std::fs::read_to_string(dir.join(format!("{set}.contribs.csv")))
        .ok()
        .map(|text| {
            let mut lines = text.lines();
            let columns = lines.next().expect("contributions have a header");
            assert_eq!(
                columns,
                format!("{},bias", header.join(",")),
                "{set}: contributions header"
            );
            let values: Vec<f64> = lines.flat_map(|l| l.split(',').map(parse)).collect();
            assert_eq!(
                values.len(),
                num_rows * (header.len() + 1),
                "{set}: contributions shape"
            );
            values
        });
    IoSet {
        name: set.to_owned(),
        input_path,
        header,
        rows,
        num_rows,
        expected_score,
        expected_raw,
        expected_contributions,
    }
}

fn parse<T: std::str::FromStr>(text: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| panic!("'{text}' is not a number"))
}

/// Panics, listing the first differences, unless every `got[i]` matches
/// `expected[i]` within `tolerance`. `what` names the case, set and path.
pub fn check_scores(what: &str, got: &[f64], expected: &[f64], tolerance: Tolerance) {
    assert_eq!(
        got.len(),
        expected.len(),
        "{what}: {} scores for {} expected",
        got.len(),
        expected.len()
    );
    let mut report = String::new();
    let mut bad = 0;
    let mut worst = 0.0_f64;
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        let ok = match tolerance {
            Tolerance::BitExact => g.to_bits() == e.to_bits() || (g.is_nan() && e.is_nan()),
            Tolerance::Absolute(bound) => (g - e).abs() <= bound,
            Tolerance::Relative(bound) => (g - e).abs() <= bound * e.abs().max(1.0),
        };
        worst = worst.max((g - e).abs());
        if !ok {
            bad += 1;
            if bad <= 8 {
                let _ = writeln!(
                    report,
                    "  row {i}: got {g:?}, expected {e:?} (diff {:e})",
                    g - e
                );
            }
        }
    }
    assert!(
        bad == 0,
        "{what}: {bad} of {} rows differ from the reference beyond {tolerance:?} (worst {worst:e}):\n{report}",
        got.len()
    );
}
