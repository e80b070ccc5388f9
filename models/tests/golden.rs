//! Every golden case, scored natively through the model core and compared with
//! the reference library: after parsing the original file, and again after a
//! round trip through the compact encoding.

use edgescore_models::{Model, ModelKind, SimdWalk};
use edgescore_test_support::{
    Case, Library, Output, Tolerance, cases, check_references, check_scores,
};

fn load(case: &Case) -> Model {
    let bytes = std::fs::read(&case.model_path).expect("model file is readable");
    Model::from_bytes(&bytes, None).unwrap_or_else(|e| panic!("{}: {e}", case.name))
}

fn check_model(case: &Case, model: &Model, path: &str) {
    for set in &case.sets {
        if let Some(names) = model.feature_names() {
            assert_eq!(names, set.header.as_slice(), "{}: feature names", case.name);
        }
        let what = format!("{} / {} / {path}", case.name, set.name);
        let score = model
            .score(&set.rows)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        check_references(case, set, &format!("{what} score"), &score, None);
        let raw = model
            .raw_scores(&set.rows)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        check_scores(
            &format!("{what} raw"),
            &raw,
            &set.expected_raw,
            case.tolerance(Output::Raw),
        );
    }
}

#[test]
fn native_scores_match_the_reference_libraries() {
    for case in cases() {
        let model = load(&case);
        let expected_kind = match case.library {
            Library::XGBoost => ModelKind::XGBoost,
            Library::LightGbm => ModelKind::LightGbm,
            Library::ScikitLearn => ModelKind::Linear,
            Library::Onnx => ModelKind::Onnx,
        };
        assert_eq!(model.kind(), expected_kind, "{}", case.name);
        check_model(&case, &model, "parsed");
    }
}

#[test]
fn the_portable_walk_scores_as_each_simd_walk_and_the_references() {
    let walks = SimdWalk::available();
    for case in cases() {
        let model = load(&case);
        let portable = model.clone().without_simd();
        assert_eq!(portable.simd(), None);
        check_model(&case, &portable, "portable");
        let width = model.num_features();
        for &walk in &walks {
            let simd = model.clone().with_simd(Some(walk));
            if case.library == Library::XGBoost && !case.name.contains("categorical") {
                assert_eq!(
                    simd.simd(),
                    Some(walk.name()),
                    "{}: the {} walk is not used",
                    case.name,
                    walk.name()
                );
            }
            let what = format!("{} / {}", case.name, walk.name());
            for set in &case.sets {
                // Blocks of 64 rows and a short last block; small batches
                // (each row walking the trees side by side);
                // single rows.
                let tiled_rows = tiled(&set.rows, width, 64 * 5 + 23);
                let batches = std::iter::once(tiled_rows.as_slice())
                    .chain(set.rows.chunks(width * 3).take(40))
                    .chain(set.rows.chunks(width * 11).take(10))
                    .chain(set.rows.chunks(width).take(40));
                for rows in batches {
                    let a = simd.score(rows).expect("scores");
                    let b = portable.score(rows).expect("scores");
                    assert!(
                        a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{what} / {}: {} rows differ from the portable walk",
                        set.name,
                        a.len()
                    );
                }
            }
        }
    }
}

#[test]
fn compact_encoding_round_trips_exactly() {
    for case in cases() {
        let model = load(&case);
        let bytes = model.to_compact_bytes();
        let decoded =
            Model::from_bytes(&bytes, None).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(decoded, model, "{}: decoded model differs", case.name);
        assert_eq!(
            decoded.to_compact_bytes(),
            bytes,
            "{}: re-encoding differs",
            case.name
        );
        check_model(&case, &decoded, "compact");
    }
}

#[test]
fn categorical_features_are_reported_in_the_schema() {
    use edgescore_models::FeatureKind::{Categorical, Numeric};
    // (An ONNX model's category tests are equalities on a numeric input.)
    for case in cases()
        .iter()
        .filter(|c| c.name.contains("categorical") && c.library != Library::Onnx)
    {
        let model = load(case);
        let names = model.feature_names().expect("named features");
        let kind_of = |name: &str| {
            model.feature_kinds()[names.iter().position(|n| n == name).expect("feature")]
        };
        assert_eq!(kind_of("merchant_category"), Categorical, "{}", case.name);
        assert_eq!(kind_of("amount"), Numeric, "{}", case.name);
    }
}

#[test]
fn every_tree_case_has_a_boundary_set_and_xgboost_is_bit_exact() {
    for case in cases() {
        let trees = match case.library {
            Library::ScikitLearn => false,
            Library::Onnx => load(&case).num_trees() > 0,
            Library::XGBoost | Library::LightGbm => true,
        };
        if trees {
            assert!(
                case.sets.iter().any(|s| s.name == "boundary"),
                "{} lacks a boundary set",
                case.name
            );
        }
        if case.library == Library::XGBoost {
            assert_eq!(case.tolerance(Output::Score), Tolerance::BitExact);
        }
    }
}

/// XGBoost computes TreeSHAP in float32 and edgescore in float64, so the
/// values agree to float32 rounding of the sums, not bit for bit (LightGBM
/// computes in float64 and agrees much more closely).
const CONTRIBUTION_TOLERANCE: f64 = 1e-5;

/// Against XGBoost's `pred_contribs`, LightGBM's `pred_contrib` and, for
/// linear models, scikit-learn's coefficients times its standardized values.
#[test]
fn contributions_match_the_reference_libraries() {
    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for case in cases() {
        for set in &case.sets {
            let Some(expected) = &set.expected_contributions else {
                continue;
            };
            // Through the parsed file and through the compact encoding.
            let parsed = load(&case);
            let decoded = Model::from_bytes(&parsed.to_compact_bytes(), None).expect("decodes");
            for (model, path) in [(&parsed, "parsed"), (&decoded, "compact")] {
                let what = format!("{} / {} / {path}", case.name, set.name);
                let got = model
                    .contributions(&set.rows)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                check_scores(
                    &format!("{what} contributions"),
                    &got,
                    expected,
                    Tolerance::Absolute(CONTRIBUTION_TOLERANCE),
                );
                worst = got
                    .iter()
                    .zip(expected)
                    .map(|(a, b)| (a - b).abs())
                    .fold(worst, f64::max);
                // Each row's contributions add up to its margin.
                let raw = model.raw_scores(&set.rows).expect("raw");
                let width = set.header.len() + 1;
                for (r, row) in got.chunks(width).enumerate() {
                    let total: f64 = row.iter().sum();
                    assert!(
                        (total - raw[r]).abs() < 1e-4,
                        "{what}: row {r} sums to {total}, margin {}",
                        raw[r]
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} sets have contributions");
    eprintln!("contributions: {checked} sets, worst difference {worst:e}");
}

/// Each set's rows repeated to `n` rows (at least), row-major.
fn tiled(rows: &[f64], width: usize, n: usize) -> Vec<f64> {
    let have = rows.len() / width.max(1);
    let copies = n.div_ceil(have.max(1));
    rows.repeat(copies)
}

#[test]
fn every_thread_count_scores_the_same_bits() {
    for case in cases() {
        let model = load(&case);
        let width = model.num_features();
        for set in &case.sets {
            // Enough rows that every thread gets a chunk, and not a multiple
            // of the chunk size, so the last chunk is short.
            let rows = tiled(
                &set.rows,
                width,
                4 * edgescore_models::PARALLEL_MIN_ROWS + 77,
            );
            let one = model
                .score(&rows)
                .unwrap_or_else(|e| panic!("{} / {}: {e}", case.name, set.name));
            for threads in [2, 3, 4, 7] {
                let many = model
                    .score_threads(&rows, threads)
                    .unwrap_or_else(|e| panic!("{} / {}: {e}", case.name, set.name));
                let same = one
                    .iter()
                    .zip(&many)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same && one.len() == many.len(),
                    "{} / {} on {threads} threads: scores differ from one thread",
                    case.name,
                    set.name
                );
            }
        }
    }
}

#[test]
fn an_error_on_several_threads_names_its_row_in_the_whole_batch() {
    let case = edgescore_test_support::case("linear_logistic");
    let model = load(&case);
    let width = model.num_features();
    let mut rows = tiled(&case.sets[0].rows, width, 4000);
    rows.truncate(4000 * width);
    // A missing value this model has no imputation for, in the third chunk.
    rows[2500 * width + 1] = f64::NAN;
    rows[3500 * width + 1] = f64::NAN;
    for threads in [1, 4] {
        match model.score_threads(&rows, threads) {
            Err(edgescore_models::ScoreError::Missing { row, .. }) => {
                assert_eq!(row, 2500, "on {threads} threads")
            }
            other => panic!("on {threads} threads: {other:?}"),
        }
    }
}

/// A row wider than 64 values is gathered, not permuted, on the SIMD walk:
/// the deep NaN XGBoost case with its 12 features moved to columns 60-71 of
/// 80 scores as the original, on both walks, row by row and in blocks.
#[test]
fn a_wide_row_scores_the_same_on_both_walks() {
    let case = edgescore_test_support::case("xgboost_binary_deep_nan");
    let text = std::fs::read_to_string(&case.model_path).expect("model");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let learner = &mut json["learner"];
    learner["learner_model_param"]["num_feature"] = "80".into();
    let names: Vec<String> = (0..80).map(|i| format!("c{i}")).collect();
    learner["feature_names"] = names.clone().into();
    learner["feature_types"] = vec!["float"; 80].into();
    for tree in learner["gradient_booster"]["model"]["trees"]
        .as_array_mut()
        .expect("trees")
    {
        let moved: Vec<u64> = tree["split_indices"]
            .as_array()
            .expect("split_indices")
            .iter()
            .map(|v| v.as_u64().expect("index") + 60)
            .collect();
        tree["split_indices"] = moved.into();
        tree["tree_param"]["num_feature"] = "80".into();
    }
    let wide = Model::from_bytes(json.to_string().as_bytes(), None).expect("the wide model loads");
    let narrow = load(&case);
    let portable = wide.clone().without_simd();
    for set in &case.sets {
        let rows: Vec<f64> = set
            .rows
            .chunks(12)
            .flat_map(|r| {
                std::iter::repeat_n(0.5, 60)
                    .chain(r.iter().copied())
                    .chain(std::iter::repeat_n(-1.0, 8))
            })
            .collect();
        let want = narrow.score(&set.rows).expect("scores");
        let mut scored = vec![(
            portable.score(&rows).expect("scores"),
            "portable".to_owned(),
        )];
        for walk in SimdWalk::available() {
            let simd = wide.clone().with_simd(Some(walk));
            scored.push((
                simd.score(&rows).expect("scores"),
                format!("{} blocks", walk.name()),
            ));
            let singles = rows
                .chunks(80)
                .map(|r| simd.score(r).expect("scores")[0])
                .collect();
            scored.push((singles, format!("{} single rows", walk.name())));
        }
        for (scores, what) in scored {
            assert!(
                scores
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{} / {what}: the wide model differs",
                set.name
            );
        }
    }
}
