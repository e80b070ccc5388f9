//! One tiny hand-written model per exactness trap of ../shared/DESIGN.md.
//!
//! Each expectation is derived by hand from the reference library's rule
//! (quoted above each test), on models small enough to check on paper; the
//! golden cases check the same rules on real trained models.

use edgescore_models::{Format, Model};

const NAN: f64 = f64::NAN;

/// Loads `text` as `format` and checks the raw outputs (and, when given, the scores) row by row.
fn check(format: Format, text: &str, rows: &[&[f64]], raw: &[f64], score: Option<&[f64]>) {
    let model =
        Model::from_bytes(text.as_bytes(), Some(format)).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    let got = model.raw_scores(&flat).expect("scores");
    for (i, (g, e)) in got.iter().zip(raw).enumerate() {
        assert_eq!(
            g.to_bits(),
            e.to_bits(),
            "row {i} {:?}: raw {g} != {e}",
            rows[i]
        );
    }
    if let Some(score) = score {
        let got = model.score(&flat).expect("scores");
        for (i, (g, e)) in got.iter().zip(score).enumerate() {
            assert!((g - e).abs() <= 1e-15, "row {i}: score {g} != {e}");
        }
    }
}

/// An XGBoost JSON model with the given trees (JSON objects) and settings.
fn xgboost(
    objective: &str,
    base_score: &str,
    num_feature: usize,
    feature_types: &str,
    trees: &[&str],
) -> String {
    format!(
        r#"{{"learner":{{"attributes":{{"best_iteration":"0"}},"feature_names":[],"feature_types":[{feature_types}],
        "gradient_booster":{{"name":"gbtree","model":{{"gbtree_model_param":{{"num_parallel_tree":"1","num_trees":"{n}"}},
        "tree_info":[{info}],"trees":[{trees}]}}}},
        "learner_model_param":{{"base_score":"{base_score}","num_class":"0","num_feature":"{num_feature}","num_target":"1"}},
        "objective":{{"name":"{objective}"}}}},"version":[3,2,0]}}"#,
        n = trees.len(),
        info = vec!["0"; trees.len()].join(","),
        trees = trees.join(","),
    )
}

/// A stump on feature 0: `x < threshold` → `left_leaf`, else `right_leaf`.
/// `base_weights` deliberately differ from the leaf values.
fn xgboost_stump(threshold: f32, left_leaf: f32, right_leaf: f32, default_left: u8) -> String {
    format!(
        r#"{{"base_weights":[9.0,9.0,9.0],"default_left":[{default_left},0,0],"id":0,"left_children":[1,-1,-1],
        "right_children":[2,-1,-1],"parents":[2147483647,0,0],"split_conditions":[{threshold:?},{left_leaf:?},{right_leaf:?}],
        "split_indices":[0,0,0],"split_type":[0,0,0],"categories":[],"categories_nodes":[],"categories_segments":[],
        "categories_sizes":[],"loss_changes":[1,0,0],"sum_hessian":[1,1,1]}}"#
    )
}

fn leaf_tree(value: f32) -> String {
    format!(
        r#"{{"default_left":[0],"left_children":[-1],"right_children":[-1],"split_conditions":[{value:?}],"split_indices":[0],"split_type":[0]}}"#
    )
}

/// XGBoost: `node.LeftChild() + !(fvalue < node.SplitCond())` — strictly less goes left,
/// the leaf is `split_conditions`, NaN takes `default_left`.
#[test]
fn xgboost_strict_less_than_leaf_values_and_default_direction() {
    let below = f32::from_bits(0.5_f32.to_bits() - 1);
    for (default_left, nan_leaf) in [(1, -1.0), (0, 1.0)] {
        let model = xgboost(
            "reg:squarederror",
            "0E0",
            1,
            "",
            &[&xgboost_stump(0.5, -1.0, 1.0, default_left)],
        );
        check(
            Format::XGBoostJson,
            &model,
            &[&[0.5], &[f64::from(below)], &[NAN]],
            &[1.0, -1.0, nan_leaf],
            None,
        );
    }
}

/// XGBoost adds each tree's leaf onto the base margin in float32: 2^24 + 1 + 1
/// stays 2^24, where summing the trees first (or in float64) gives 2^24 + 2.
#[test]
fn xgboost_adds_trees_one_by_one_in_float32() {
    let trees = [leaf_tree(16_777_216.0), leaf_tree(1.0), leaf_tree(1.0)];
    let trees: Vec<&str> = trees.iter().map(String::as_str).collect();
    let model = xgboost("reg:squarederror", "[0E0]", 1, "", &trees);
    check(
        Format::XGBoostJson,
        &model,
        &[&[0.0]],
        &[16_777_216.0],
        None,
    );
}

/// `base_score` is stored in response space: a probability for `binary:logistic`
/// (margin = -logf(1/p - 1)), read the same from "3E-1" and "[3E-1]"; the margin
/// itself for `binary:logitraw` and the value for regression.
#[test]
fn xgboost_base_score_encodings_and_spaces() {
    let no_trees: [&str; 0] = [];
    let scalar = xgboost("binary:logistic", "3E-1", 1, "", &no_trees);
    let list = xgboost("binary:logistic", "[3E-1]", 1, "", &no_trees);
    let margin = -((1.0_f64 / 0.3 - 1.0).ln());
    for text in [scalar, list] {
        let model = Model::from_bytes(text.as_bytes(), None).expect("loads");
        let raw = model.raw_scores(&[0.0]).expect("scores")[0];
        assert!((raw - margin).abs() < 1e-6, "{raw} vs {margin}");
        let p = model.score(&[0.0]).expect("scores")[0];
        assert!((p - 0.3).abs() < 1e-7, "{p}");
    }
    let logitraw = xgboost("binary:logitraw", "[3E-1]", 1, "", &no_trees);
    check(
        Format::XGBoostJson,
        &logitraw,
        &[&[0.0]],
        &[f64::from(0.3_f32)],
        Some(&[f64::from(0.3_f32)]),
    );
    let regression = xgboost("reg:squarederror", "[3E-1]", 1, "", &no_trees);
    check(
        Format::XGBoostJson,
        &regression,
        &[&[0.0]],
        &[f64::from(0.3_f32)],
        None,
    );
}

/// XGBoost's categorical `Decision`: a category in the node's set goes right;
/// a code not in it, past the set, or negative goes left; fractions truncate;
/// NaN takes the default direction.
#[test]
fn xgboost_categorical_split_sends_members_right() {
    let tree = r#"{"default_left":[0,0,0],"left_children":[1,-1,-1],"right_children":[2,-1,-1],
        "split_conditions":[0.0,-1.0,1.0],"split_indices":[0,0,0],"split_type":[1,0,0],
        "categories":[1,3],"categories_nodes":[0],"categories_segments":[0],"categories_sizes":[2]}"#;
    let model = xgboost("reg:squarederror", "0E0", 1, r#""c""#, &[tree]);
    let rows: [&[f64]; 8] = [
        &[1.0],
        &[3.0],
        &[3.7],
        &[0.0],
        &[2.0],
        &[100.0],
        &[-1.0],
        &[NAN],
    ];
    check(
        Format::XGBoostJson,
        &model,
        &rows,
        &[1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0, 1.0],
        None,
    );
}

/// `best_iteration` is ignored: `Booster.predict` scores with every tree.
#[test]
fn xgboost_ignores_best_iteration() {
    let model = xgboost(
        "reg:squarederror",
        "0E0",
        1,
        "",
        &[&leaf_tree(1.0), &leaf_tree(2.0)],
    );
    assert!(model.contains(r#""best_iteration":"0""#));
    check(Format::XGBoostJson, &model, &[&[0.0]], &[3.0], None);
}

/// A LightGBM text model with one tree given as its `Tree=0` lines.
fn lightgbm(objective: &str, tree_lines: &str) -> String {
    format!(
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=0\n\
         objective={objective}\nfeature_names=x\nfeature_infos=[-1:1]\ntree_sizes=100\n\n\
         Tree=0\n{tree_lines}\nis_linear=0\nshrinkage=1\n\n\nend of trees\n"
    )
}

/// A LightGBM stump on feature 0 with the given threshold and decision_type;
/// the left leaf is -1, the right leaf +1.
fn lightgbm_stump(threshold: &str, decision_type: u8) -> String {
    lightgbm(
        "regression",
        &format!(
            "num_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\nthreshold={threshold}\n\
             decision_type={decision_type}\nleft_child=-1\nright_child=-2\nleaf_value=-1 1\n\
             leaf_weight=1 1\nleaf_count=1 1\ninternal_value=0\ninternal_weight=2\ninternal_count=2"
        ),
    )
}

/// LightGBM: `fval <= threshold_[node]` goes left, in double, with the double threshold.
#[test]
fn lightgbm_less_or_equal_in_float64() {
    // 0.1f32 is 0.100000001490116..., above the double 0.1: right. A threshold
    // narrowed to float32 would send it left. The double 0.1 itself is on the
    // threshold: left; so is the double just below it, and the one just above
    // goes right although both round to the same float32 as the threshold.
    check(
        Format::LightGbmText,
        &lightgbm_stump("0.5", 0),
        &[&[0.5], &[0.500_000_06]],
        &[-1.0, 1.0],
        None,
    );
    check(
        Format::LightGbmText,
        &lightgbm_stump("0.10000000000000001", 0),
        &[
            &[f64::from(0.1_f32)],
            &[0.1],
            &[0.1_f64.next_down()],
            &[0.1_f64.next_up()],
        ],
        &[1.0, -1.0, -1.0, 1.0],
        None,
    );
}

/// LightGBM scores values float32 cannot hold, against thresholds such as
/// the `1e300` it writes itself; |x| <= 1e-35 (as a double) is zero.
#[test]
fn lightgbm_takes_values_outside_the_float32_range() {
    check(
        Format::LightGbmText,
        &lightgbm_stump("1.0000000000000001e+300", 0),
        &[&[1e300], &[1e300_f64.next_up()], &[f64::MAX], &[-1e300]],
        &[-1.0, 1.0, 1.0, -1.0],
        None,
    );
    // Missing type Zero (decision_type 4) with default right: 1e-36, a
    // subnormal and -0.0 are zero, hence missing (right); 1e-34 is not (left).
    check(
        Format::LightGbmText,
        &lightgbm_stump("1", 4),
        &[&[1e-36], &[5e-324], &[-0.0], &[1e-34], &[-1e-36]],
        &[1.0, 1.0, 1.0, -1.0, 1.0],
        None,
    );
    check(
        Format::LightGbmText,
        &lightgbm_stump("1e-300", 0),
        &[&[1e-36], &[2e-300], &[5e-324], &[2e-35]],
        &[-1.0, -1.0, -1.0, 1.0],
        None,
    );
}

/// XGBoost casts each input to float32 first: `1e300` is `+inf` (right of
/// every threshold), a double just above a float32 threshold rounds onto it.
#[test]
fn xgboost_casts_inputs_to_float32() {
    let model = xgboost(
        "reg:squarederror",
        "0E0",
        1,
        "",
        &[&xgboost_stump(0.5, -1.0, 1.0, 1)],
    );
    check(
        Format::XGBoostJson,
        &model,
        &[
            &[1e300],
            &[-1e300],
            &[0.5_f64.next_down()],
            &[0.5 - 1e-9],
            &[0.5 - 1e-7],
        ],
        &[1.0, -1.0, 1.0, 1.0, -1.0],
        None,
    );
}

/// Missing type None (decision_type bits 2-3 = 0): NaN becomes 0.0 and
/// default_left is ignored. Zero (1): 0.0 and NaN are missing and take the
/// default. NaN (2): only NaN is missing.
#[test]
fn lightgbm_missing_types() {
    // None, default_left set (2): NaN -> 0.0 > -0.5 -> right despite default left.
    check(
        Format::LightGbmText,
        &lightgbm_stump("-0.5", 2),
        &[&[NAN], &[-1.0]],
        &[1.0, -1.0],
        None,
    );
    // Zero, default left (6): 0 and NaN -> left; 20 -> right.
    check(
        Format::LightGbmText,
        &lightgbm_stump("10", 6),
        &[&[0.0], &[NAN], &[5.0], &[20.0]],
        &[-1.0, -1.0, -1.0, 1.0],
        None,
    );
    // Zero, default right (4): 0 is missing -> right although 0 <= 10.
    check(
        Format::LightGbmText,
        &lightgbm_stump("10", 4),
        &[&[0.0], &[NAN], &[5.0]],
        &[1.0, 1.0, -1.0],
        None,
    );
    // NaN, default right (8): NaN -> right; 0 is an ordinary value -> left.
    check(
        Format::LightGbmText,
        &lightgbm_stump("10", 8),
        &[&[NAN], &[0.0]],
        &[1.0, -1.0],
        None,
    );
}

/// LightGBM's C API keeps only |x| > kZeroThreshold (1e-35f) when it turns a
/// dense row into pairs: smaller magnitudes reach the tree as 0.0.
#[test]
fn lightgbm_reads_near_zero_as_zero() {
    let model = lightgbm_stump("-1.0000000180025095e-35", 0);
    check(
        Format::LightGbmText,
        &model,
        &[&[-1e-35], &[-2e-35]],
        &[1.0, -1.0],
        None,
    );
}

/// LightGBM's `CategoricalDecision`: a category in the bitset goes *left*;
/// NaN and negative codes go right; `static_cast<int>` truncates toward zero,
/// so -0.5 reads as category 0.
#[test]
fn lightgbm_categorical_split_sends_members_left() {
    // Bitset word 9 = categories {0, 3}.
    let model = lightgbm(
        "regression",
        "num_leaves=2\nnum_cat=1\nsplit_feature=0\nsplit_gain=1\nthreshold=0\ndecision_type=1\n\
         left_child=-1\nright_child=-2\nleaf_value=-1 1\nleaf_weight=1 1\nleaf_count=1 1\n\
         internal_value=0\ninternal_weight=2\ninternal_count=2\ncat_boundaries=0 1\ncat_threshold=9",
    );
    let rows: [&[f64]; 7] = [&[0.0], &[3.0], &[3.9], &[-0.5], &[1.0], &[-1.0], &[NAN]];
    check(
        Format::LightGbmText,
        &model,
        &rows,
        &[-1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0],
        None,
    );
}

/// LightGBM binary: probability = 1 / (1 + exp(-sigmoid * raw)).
#[test]
fn lightgbm_binary_uses_the_sigmoid_parameter() {
    let model = lightgbm(
        "binary sigmoid:2",
        "num_leaves=1\nnum_cat=0\nleaf_value=0.5",
    );
    check(
        Format::LightGbmText,
        &model,
        &[&[0.0]],
        &[0.5],
        Some(&[1.0 / (1.0 + (-1.0_f64).exp())]),
    );
}

/// scikit-learn: StandardScaler then `X @ coef_ + intercept_`, then `expit`.
#[test]
fn linear_standardizes_then_applies_the_link() {
    let model = r#"{"format":"edgescore-linear","format_version":1,"kind":"logistic","feature_names":["a","b"],
        "coefficients":[2.0,-1.0],"intercept":0.5,"standardize":{"mean":[1.0,2.0],"scale":[2.0,4.0]},"impute":[1.0,6.0]}"#;
    // z = 0.5 + 2*(3-1)/2 - (2-2)/4 = 2.5; a missing b is imputed with 6: z = 0.5 + 2 - 1 = 1.5.
    let p = |z: f64| 1.0 / (1.0 + (-z).exp());
    check(
        Format::LinearJson,
        model,
        &[&[3.0, 2.0], &[3.0, NAN]],
        &[2.5, 1.5],
        Some(&[p(2.5), p(1.5)]),
    );
}

#[test]
fn linear_without_imputation_refuses_a_missing_value_by_name() {
    let model = r#"{"format":"edgescore-linear","format_version":1,"kind":"linear","feature_names":["a","b"],
        "coefficients":[2.0,-1.0],"intercept":0.5}"#;
    let model = Model::from_bytes(model.as_bytes(), None).expect("loads");
    let err = model.score(&[1.0, 2.0, 1.0, NAN]).expect_err("missing b");
    assert_eq!(
        err.to_string(),
        "row 1: feature 'b' is missing and this linear model has no imputation value for it"
    );
}
