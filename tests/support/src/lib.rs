//! What every test tier shares: the golden cases of `models/test_cases`,
//! checked the same way on every scoring path, and (in [`server`]) the
//! harness that runs `edgescore serve` for the server tiers, and (in
//! [`grafana`]) the metric names the Grafana dashboard's queries use.
//!
//! A case is a folder with a model file, `case.json` and one or more input
//! sets `<set>.input.csv` / `<set>.expected.csv`, written by
//! `models/test_cases/generate.py` from the reference libraries. A tier
//! generates one test per case and path with [`foreach_golden_case!`],
//! reads the case with [`case`] and compares what it computed with
//! [`check_scores`]; [`cases`] reads them all.

pub mod chromium;
pub mod grafana;
pub mod redis_server;
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
    /// An ONNX model: onnxruntime (one thread) is the reference; the
    /// training library's own predictions are a second one (`trainer.csv`).
    Onnx,
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
    /// The training library's own predictions (`<set>.trainer.csv`, ONNX
    /// cases, where the trainer and onnxruntime are meant to agree).
    pub expected_trainer: Option<Vec<f64>>,
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
    ///   to the size of the result, which `1e300` inputs make huge);
    /// - onnxruntime computes in float32 with its own approximations of
    ///   `exp` and the logistic (MLAS): the acceptance bound, 1e-6 (tree
    ///   ensembles are bit-exact on all but a few rows, an ulp of float32
    ///   apart; linear models and networks about 2e-7).
    pub fn tolerance(&self, output: Output) -> Tolerance {
        match (self.library, output) {
            (Library::XGBoost, _) | (Library::LightGbm, Output::Raw) => Tolerance::BitExact,
            (Library::LightGbm, Output::Score) => Tolerance::Absolute(1e-12),
            (Library::ScikitLearn, _) => Tolerance::Relative(1e-12),
            (Library::Onnx, _) => Tolerance::Absolute(1e-6),
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
    } else if meta.contains("\"kind\": \"onnx\"") {
        Library::Onnx
    } else {
        panic!("{name}/case.json has no known \"kind\"");
    };
    let model_path = ["model.json", "model.txt", "model.onnx"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} has no model.json, model.txt or model.onnx"));
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
    let expected_trainer = std::fs::read_to_string(dir.join(format!("{set}.trainer.csv")))
        .ok()
        .map(|text| {
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("score"), "{set}: trainer header");
            let values: Vec<f64> = lines.map(parse).collect();
            assert_eq!(values.len(), num_rows, "{set}: one trainer score per row");
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
        expected_trainer,
    }
}

/// The bar against the training library's own predictions: the acceptance
/// bound (onnxruntime's float32 against the trainer's float64).
pub const TRAINER_TOLERANCE: Tolerance = Tolerance::Absolute(1e-6);

/// Checks scores against every reference of `set`: the case's reference
/// within its tolerance and, when the set has them, the training library's
/// predictions within [`TRAINER_TOLERANCE`]. `rows` picks the set's rows
/// `got` holds (all of them when `None`).
pub fn check_references(case: &Case, set: &IoSet, what: &str, got: &[f64], rows: Option<&[usize]>) {
    let pick = |all: &[f64]| -> Vec<f64> {
        match rows {
            Some(rows) => rows.iter().map(|&r| all[r]).collect(),
            None => all.to_vec(),
        }
    };
    check_scores(
        what,
        got,
        &pick(&set.expected_score),
        case.tolerance(Output::Score),
    );
    if let Some(trainer) = &set.expected_trainer {
        check_scores(
            &format!("{what} (against the trainer)"),
            got,
            &pick(trainer),
            TRAINER_TOLERANCE,
        );
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

/// Whether two JSON values are the same, numbers compared as float64 bits
/// (JavaScript writes 1.0 as `1`).
pub fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
