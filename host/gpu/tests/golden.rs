//! Every golden case through the GPU backend, one test per case
//! (`foreach_golden_case!`): a model with a GPU walk scores every input set
//! with the native walk's bits (and so within the case's tolerance of the
//! reference library); any other model is refused, saying why.
//!
//! Runs on whatever Vulkan adapter is present; CI installs Mesa's lavapipe
//! (`mesa-vulkan-drivers`) and sets `EDGESCORE_REQUIRE_GPU=1`, so there the
//! tests cannot skip. Elsewhere, without a Vulkan driver, the exactness
//! tests say so and pass.

use edgescore_gpu::{GpuError, GpuScorer};
use edgescore_models::Model;
use edgescore_test_support::{case, check_references};

/// The scorer of `model`, or `None` (after saying so) where no Vulkan
/// adapter is present and CI did not require one.
fn gpu_or_skip(model: &Model, what: &str) -> Option<GpuScorer> {
    match GpuScorer::new(model) {
        Ok(scorer) => Some(scorer),
        Err(GpuError::NoAdapter(why))
            if std::env::var_os("EDGESCORE_REQUIRE_GPU").is_none_or(|v| v != "1") =>
        {
            eprintln!(
                "{what}: skipped, no Vulkan adapter ({why}); set EDGESCORE_REQUIRE_GPU=1 to fail instead"
            );
            None
        }
        Err(e) => panic!("{what}: {e}"),
    }
}

fn check_case(name: &str) {
    let case = case(name);
    let model = Model::from_bytes(
        &std::fs::read(&case.model_path).expect("model readable"),
        None,
    )
    .expect("golden model loads");
    if let Err(why) = model.gpu_forest() {
        match GpuScorer::new(&model) {
            Err(GpuError::Unsupported(reason)) => {
                assert_eq!(reason, why);
                assert!(reason.contains("natively"), "{name}: {reason}");
            }
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
        return;
    }
    let Some(gpu) = gpu_or_skip(&model, name) else {
        return;
    };
    for set in &case.sets {
        let what = format!("{name} / {} / gpu ({})", set.name, gpu.adapter());
        let scores = gpu
            .score(&set.rows)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let native = model.score(&set.rows).expect("native scores");
        for (row, (got, want)) in scores.iter().zip(&native).enumerate() {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{what}: row {row}: GPU {got:?}, native {want:?}"
            );
        }
        check_references(&case, set, &what, &scores, None);
    }
}

mod golden {
    macro_rules! gpu_case {
        ($id:ident, $name:literal) => {
            #[test]
            fn $id() {
                super::check_case($name);
            }
        };
    }
    edgescore_test_support::foreach_golden_case!(gpu_case);
}

/// Many rows, in chunks smaller than the input and a dispatch narrower
/// than the rows' workgroups (so the two-dimensional dispatch that
/// millions of rows take runs here with thousands): the same bits, for
/// both walks.
#[test]
fn chunks_and_two_dimensional_dispatch_keep_the_bits() {
    for name in ["xgboost_binary_deep_nan", "lightgbm_binary_sigmoid"] {
        chunked(name);
    }
}

fn chunked(name: &str) {
    let case = case(name);
    let model =
        Model::from_bytes(&std::fs::read(&case.model_path).expect("model"), None).expect("loads");
    let Some(gpu) = gpu_or_skip(&model, name) else {
        return;
    };
    let gpu = gpu.with_chunk_rows(1000).with_dispatch_width(3);
    let rows: Vec<f64> = case
        .sets
        .iter()
        .flat_map(|s| s.rows.iter().copied())
        .cycle()
        .take(model.num_features() * 5_000)
        .collect();
    let scores = gpu.score(&rows).expect("scores");
    let native = model.score(&rows).expect("native");
    assert_eq!(scores.len(), 5_000);
    for (row, (got, want)) in scores.iter().zip(&native).enumerate() {
        assert_eq!(got.to_bits(), want.to_bits(), "{name}: row {row}");
    }
}

#[test]
fn rows_that_are_not_whole_are_refused_like_the_native_model() {
    let case = case("xgboost_binary_deep_nan");
    let model =
        Model::from_bytes(&std::fs::read(&case.model_path).expect("model"), None).expect("loads");
    let Some(gpu) = gpu_or_skip(&model, "shape") else {
        return;
    };
    let rows = vec![0.5; model.num_features() + 1];
    let native = model.score(&rows).expect_err("refused").to_string();
    let error = gpu.score(&rows).expect_err("refused");
    assert!(matches!(error, GpuError::Input(_)), "{error:?}");
    assert_eq!(error.to_string(), native);
    assert!(gpu.score(&[]).expect("no rows").is_empty());
}

/// Values at the edges of the comparisons and of the category codes, put
/// into every feature of the tree cases (categorical ones included):
/// signed zeros, subnormals, fractions either side of a code, negative
/// codes, codes past 2^24 and 2^32, infinities, NaN. Each row's GPU score
/// is the native bits.
#[test]
fn edge_values_take_the_native_branches() {
    let edges = [
        0.0,
        -0.0,
        f64::from_bits(1),
        -f64::from_bits(1),
        1e-36,
        -1e-36,
        1e-35,
        f64::from(f32::MIN_POSITIVE) / 4.0,
        0.5,
        -0.5,
        0.999_999_9,
        1.0,
        1.5,
        -1.0,
        -1.5,
        2.0,
        3.0,
        7.999,
        31.0,
        32.0,
        33.5,
        1e3,
        16_777_215.0,
        16_777_216.0,
        16_777_217.0,
        2_147_483_647.0,
        2_147_483_648.0,
        4_294_967_296.0,
        1e20,
        1e300,
        -1e300,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    for name in [
        "xgboost_categorical",
        "xgboost_binary_deep_nan",
        "lightgbm_binary_categorical_nan",
        "lightgbm_pandas_float64",
        "lightgbm_regression_zero_missing",
    ] {
        let case = case(name);
        let model = Model::from_bytes(&std::fs::read(&case.model_path).expect("model"), None)
            .expect("loads");
        let Some(gpu) = gpu_or_skip(&model, name) else {
            return;
        };
        let width = model.num_features();
        let base = &case.sets[0].rows[..width];
        let mut rows = Vec::new();
        for feature in 0..width {
            for &edge in &edges {
                let mut row = base.to_vec();
                row[feature] = edge;
                rows.extend(row);
            }
        }
        let scores = gpu.score(&rows).expect("scores");
        let native = model.score(&rows).expect("native");
        for (r, (got, want)) in scores.iter().zip(&native).enumerate() {
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{name}: feature {} = {:e}: GPU {got:?}, native {want:?}",
                r / edges.len(),
                edges[r % edges.len()]
            );
        }
    }
}
