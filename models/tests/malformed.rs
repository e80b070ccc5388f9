//! Malformed model files are errors that say what is wrong, never panics,
//! and a model that does load always scores without panicking.

use edgescore_models::{Format, Model, ModelError};
use edgescore_test_support::cases;

/// Loads `bytes`; if that succeeds the model must score a few rows (with NaN) cleanly.
fn load_and_score(bytes: &[u8], format: Option<Format>) -> Result<Model, ModelError> {
    let model = Model::from_bytes(bytes, format)?;
    let n = model.num_features();
    let mut rows = vec![0.5_f64; 3 * n];
    rows[n] = f64::NAN;
    rows[2 * n..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, v)| *v = i as f64 - 1.0);
    let _ = model.score(&rows);
    Ok(model)
}

/// A cut JSON file is never valid JSON. A cut LightGBM file is refused up to
/// its `end of trees` line, and loads whole after it: what follows (feature
/// importances, parameters) is not needed to score, and LightGBM reads it
/// only if it is there.
#[test]
fn every_truncation_of_every_golden_model_is_handled() {
    for case in cases() {
        let bytes = std::fs::read(&case.model_path).expect("readable");
        let is_json = case.model_path.extension().is_some_and(|e| e == "json");
        let is_lightgbm = case.model_path.extension().is_some_and(|e| e == "txt");
        let trees_end = find(&bytes, b"\nend of trees").map(|at| at + b"\nend of trees".len());
        assert!(
            !is_lightgbm || trees_end.is_some(),
            "{}: no `end of trees`",
            case.name
        );
        let whole = Model::from_bytes(&bytes, None).expect("the golden model loads");
        for k in 0..64 {
            let cut = bytes.len() * k / 64;
            let result = std::panic::catch_unwind(|| {
                load_and_score(&bytes[..cut], None).map(|m| m.num_trees())
            });
            let result = result
                .unwrap_or_else(|_| panic!("{}: panicked on the first {cut} bytes", case.name));
            if is_json {
                assert!(
                    result.is_err(),
                    "{}: truncated JSON ({cut} bytes) loaded",
                    case.name
                );
            }
            if let (true, Some(end)) = (is_lightgbm, trees_end) {
                match result {
                    Ok(trees) => assert!(
                        cut >= end && trees == whole.num_trees(),
                        "{}: the first {cut} bytes loaded with {trees} trees",
                        case.name
                    ),
                    Err(e) => assert!(
                        cut < end,
                        "{}: the first {cut} bytes hold every tree, yet: {e}",
                        case.name
                    ),
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn every_strict_prefix_of_a_compact_encoding_is_an_error() {
    for case in cases().iter().filter(|c| {
        c.name.contains("logitraw")
            || c.name.contains("linear")
            || c.name == "onnx_mlp"
            || c.name == "onnx_gradient_boosting"
    }) {
        let model = Model::from_bytes(&std::fs::read(&case.model_path).expect("readable"), None)
            .expect("loads");
        let bytes = model.to_compact_bytes();
        for cut in 0..bytes.len() {
            let err = Model::from_bytes(&bytes[..cut], Some(Format::Compact))
                .expect_err("a prefix must not load");
            assert!(!err.to_string().is_empty());
        }
    }
}

#[test]
fn corrupting_any_byte_of_a_compact_encoding_never_panics() {
    // A tree family with categorical splits, an ONNX forest and an ONNX network.
    for name in [
        "xgboost_categorical",
        "onnx_hist_gradient_boosting_nan",
        "onnx_mlp",
    ] {
        let case = cases().into_iter().find(|c| c.name == name).expect("case");
        let model = Model::from_bytes(&std::fs::read(&case.model_path).expect("readable"), None)
            .expect("loads");
        let bytes = model.to_compact_bytes();
        let mut loaded = 0;
        // Every byte of the header and first trees, then a sample of the rest.
        let positions = (0..bytes.len()).filter(|&at| at < 4096 || at % 13 == 0);
        let tried = positions.clone().count();
        for at in positions {
            for value in [0x00, 0xFF, bytes[at] ^ 0x01, bytes[at].wrapping_add(0x80)] {
                let mut corrupt = bytes.clone();
                corrupt[at] = value;
                let result = std::panic::catch_unwind(|| {
                    load_and_score(&corrupt, Some(Format::Compact)).is_ok()
                });
                loaded += usize::from(result.unwrap_or_else(|_| {
                    panic!("{name}: panicked with byte {at} set to {value:#x}")
                }));
            }
        }
        // Flipping a float's bits yields another valid model; structure bytes do not.
        assert!(
            loaded > 0 && loaded < tried * 4,
            "{name}: {loaded} of {tried}"
        );
    }
}

/// Fuzzing's reproducers (`target/fuzz-runs/artifacts/<target>/`), kept in
/// `tests/data/fuzz/<target>/` and read as the format the folder names:
/// each is refused with an error, without a panic and without the abort of
/// an allocation sized by a count the file declares. A reproducer that is
/// a valid model is named `valid-*`: it must load and score.
#[test]
fn fuzz_reproducers_are_refused_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut tried = 0;
    for dir in std::fs::read_dir(&root).expect("tests/data/fuzz") {
        let dir = dir.expect("a folder entry").path();
        let format = match dir.file_name().and_then(|n| n.to_str()) {
            Some("lightgbm_text") => Format::LightGbmText,
            Some("xgboost_json") => Format::XGBoostJson,
            Some("linear_json") => Format::LinearJson,
            Some("onnx") => Format::Onnx,
            Some("compact_encoding") => Format::Compact,
            other => panic!("{}: no format is named {other:?}", dir.display()),
        };
        for file in std::fs::read_dir(&dir).expect("a reproducer folder") {
            let path = file.expect("a reproducer").path();
            let bytes = std::fs::read(&path).expect("readable");
            let result = std::panic::catch_unwind(|| {
                load_and_score(&bytes, Some(format)).map(|m| m.num_features())
            })
            .unwrap_or_else(|_| panic!("{}: panicked", path.display()));
            let valid = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("valid-"));
            match result {
                Ok(_) if valid => {}
                Ok(features) => panic!("{}: loaded with {features} features", path.display()),
                Err(e) => assert!(!valid, "{}: a valid model is refused: {e}", path.display()),
            }
            tried += 1;
        }
    }
    assert!(
        tried >= 2,
        "only {tried} reproducers under {}",
        root.display()
    );
}

/// One corruption of a valid model file and words its error must contain.
struct Corruption {
    name: &'static str,
    base: &'static str,
    find: &'static str,
    replace: &'static str,
    expect: &'static str,
}

const CORRUPTIONS: &[Corruption] = &[
    Corruption {
        name: "XGBoost split on a feature past num_feature",
        base: "xgboost_logitraw",
        find: "\"split_indices\":[6,",
        replace: "\"split_indices\":[99,",
        expect: "uses feature 99 but the model has 12 features",
    },
    Corruption {
        name: "XGBoost node that is its own child",
        base: "xgboost_logitraw",
        find: "\"left_children\":[1,",
        replace: "\"left_children\":[0,",
        expect: "reached twice",
    },
    Corruption {
        name: "XGBoost dart booster",
        base: "xgboost_logitraw",
        find: "\"name\":\"gbtree\"",
        replace: "\"name\":\"dart\"",
        expect: "booster 'dart'",
    },
    Corruption {
        name: "XGBoost non-numeric base_score",
        base: "xgboost_logitraw",
        find: "\"base_score\":\"[",
        replace: "\"base_score\":\"[x",
        expect: "base_score",
    },
    Corruption {
        name: "XGBoost multi-target base_score",
        base: "xgboost_logitraw",
        find: "\"base_score\":\"[",
        replace: "\"base_score\":\"[1E-1,",
        expect: "one target",
    },
    Corruption {
        name: "XGBoost unknown feature type",
        base: "xgboost_categorical",
        find: "\"feature_types\":[\"q\"",
        replace: "\"feature_types\":[\"z\"",
        expect: "unknown feature type 'z'",
    },
    Corruption {
        name: "XGBoost num_feature past the feature limit",
        base: "xgboost_logitraw",
        find: "\"num_class\":\"0\",\"num_feature\":\"12\"",
        replace: "\"num_class\":\"0\",\"num_feature\":\"99999999999999\"",
        expect: "99999999999999 features (at most 268435455 are supported)",
    },
    Corruption {
        name: "LightGBM max_feature_idx past the feature limit",
        base: "lightgbm_binary_sigmoid",
        find: "max_feature_idx=11",
        replace: "max_feature_idx=99999999999999",
        expect: "100000000000000 features (at most 268435455 are supported)",
    },
    Corruption {
        name: "LightGBM max_feature_idx at i64::MAX",
        base: "lightgbm_binary_sigmoid",
        find: "max_feature_idx=11",
        replace: "max_feature_idx=9223372036854775807",
        expect: "9223372036854775808 features (at most 268435455 are supported)",
    },
    Corruption {
        name: "LightGBM num_cat past its cat_boundaries",
        base: "lightgbm_binary_categorical_nan",
        find: "num_cat=1\n",
        replace: "num_cat=99999999999999\n",
        expect: "tree 0: cat_boundaries has 2 entries for num_cat=99999999999999",
    },
    Corruption {
        name: "LightGBM splits off the tree (the root skips split 3)",
        base: "lightgbm_binary_sigmoid",
        find: "right_child=3 5 8 6",
        replace: "right_child=6 5 8 6",
        expect: "tree 0: 6 of 29 nodes are not reachable from the root",
    },
    Corruption {
        name: "LightGBM leaf count mismatch",
        base: "lightgbm_binary_sigmoid",
        find: "num_leaves=15",
        replace: "num_leaves=16",
        expect: "tree 0",
    },
    Corruption {
        name: "LightGBM child out of range",
        base: "lightgbm_binary_sigmoid",
        find: "left_child=1 ",
        replace: "left_child=77 ",
        expect: "out of range",
    },
    Corruption {
        name: "LightGBM split on a missing feature",
        base: "lightgbm_binary_sigmoid",
        find: "max_feature_idx=11",
        replace: "max_feature_idx=1",
        expect: "12 feature names for 2 features",
    },
    Corruption {
        name: "LightGBM non-numeric threshold",
        base: "lightgbm_binary_sigmoid",
        find: "threshold=",
        replace: "threshold=abc ",
        expect: "'abc' is not a valid number",
    },
    Corruption {
        name: "LightGBM unsupported objective",
        base: "lightgbm_binary_sigmoid",
        find: "objective=binary sigmoid:0.7",
        replace: "objective=lambdarank",
        expect: "objective 'lambdarank'",
    },
    Corruption {
        name: "LightGBM linear trees",
        base: "lightgbm_binary_sigmoid",
        find: "is_linear=0",
        replace: "is_linear=1",
        expect: "linear trees",
    },
    Corruption {
        name: "LightGBM category set past cat_boundaries",
        base: "lightgbm_binary_categorical_nan",
        find: "cat_boundaries=0 ",
        replace: "cat_boundaries=0 99999 ",
        expect: "cat_boundaries",
    },
    Corruption {
        name: "linear unknown field",
        base: "linear_logistic",
        find: "\"intercept\"",
        replace: "\"bias\": 1, \"intercept\"",
        expect: "unknown field `bias`",
    },
    Corruption {
        name: "linear wrong format version",
        base: "linear_logistic",
        find: "\"format_version\": 1",
        replace: "\"format_version\": 7",
        expect: "format_version 7",
    },
    Corruption {
        name: "linear zero scale",
        base: "linear_logistic",
        find: "\"scale\": [",
        replace: "\"scale\": [0.0, ",
        expect: "scale has 13 entries for 12 coefficients",
    },
];

#[test]
fn specific_corruptions_give_specific_errors() {
    let all = cases();
    for c in CORRUPTIONS {
        let case = all
            .iter()
            .find(|k| k.name == c.base)
            .unwrap_or_else(|| panic!("no case {}", c.base));
        let text = std::fs::read_to_string(&case.model_path).expect("readable");
        assert!(
            text.contains(c.find),
            "{}: '{}' not in {}",
            c.name,
            c.find,
            c.base
        );
        let corrupt = text.replacen(c.find, c.replace, 1);
        let err = Model::from_bytes(corrupt.as_bytes(), None)
            .expect_err(c.name)
            .to_string();
        assert!(
            err.contains(c.expect),
            "{}: error '{err}' should contain '{}'",
            c.name,
            c.expect
        );
    }
}

#[test]
fn format_detection_explains_what_it_saw() {
    let err = |bytes: &[u8]| {
        Model::from_bytes(bytes, None)
            .expect_err("not a model")
            .to_string()
    };
    assert!(err(b"").contains("empty"));
    assert!(err(b"{\"hello\": 1}").contains("neither an XGBoost"));
    assert!(err(b"{L\x00\x00\x00\x07learner").contains("UBJSON"));
    assert!(err(b"\x89PNG").contains("starts with neither"));
}
