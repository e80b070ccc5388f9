//! Specs the fuzzer found (`fuzz/fuzz_targets/transform_spec.rs`): each is
//! refused with its line, and every plan that compiles reads back from its
//! JSON (what a transform component is initialised with).

use edgescore_models::transform::TransformPlan;

use super::compile;

/// A spec of one number input `x` (declared by `input`) and one feature.
fn spec(input: &str, feature: &str) -> String {
    format!(
        "name = \"t\"\nversion = \"1\"\n\n[inputs]\nx = {input}\n\n[[features]]\nname = \"z\"\n{feature}\n"
    )
}

fn check_refused(text: &str, line: usize, says: &str) {
    let error = compile(text).expect_err(text);
    assert_eq!(error.line, line, "{text}\n{error}");
    assert!(error.message.contains(says), "{text}\n{error}");
}

#[test]
fn numbers_that_are_not_finite_are_refused_where_they_are_written() {
    let required = r#"{ type = "number", required = true }"#;
    check_refused(
        &spec(r#"{ type = "number", default = nan }"#, "value = \"x\""),
        5,
        "the default of input 'x' is nan, which is not a number",
    );
    check_refused(
        &spec(r#"{ type = "number", default = -inf }"#, "value = \"x\""),
        5,
        "which is not a number",
    );
    check_refused(
        &spec(required, "standardize = \"x\"\nmean = nan\nstd = 1.0"),
        9,
        "feature 'z': `standardize` needs a finite `mean`, not NaN",
    );
    check_refused(
        &spec(required, "standardize = \"x\"\nmean = inf\nstd = 1.0"),
        9,
        "needs a finite `mean`, not inf",
    );
    check_refused(
        &spec(required, "value = \"x\"\ndefault = nan"),
        10,
        "feature 'z': `default` must be a finite number, not NaN",
    );
}

#[test]
fn a_compiled_plan_reads_back_from_its_json() {
    let text = spec(
        r#"{ type = "number", default = -0.5 }"#,
        "standardize = \"x\"\nmean = 1e300\nstd = 2.0\ndefault = 0.0",
    );
    let plan = compile(&text).expect("compiles");
    let again = TransformPlan::from_bytes(&plan.to_bytes()).expect("reads back");
    assert_eq!(again, plan);
}
