//! A parsed model, used as the product uses one: scored (batches and
//! single rows, the SIMD walk and the portable one), its raw margins and
//! contributions, its compact encoding read back.

use edgescore_models::{Format, Model, ScoreError};

/// Wider models are parsed but not scored: the rows would be the
/// allocation, not the model.
const MAX_SCORED_WIDTH: usize = 1 << 16;

/// Values every feature is scored with: missing, zero, signs, extremes,
/// category codes.
const VALUES: [f64; 9] = [
    f64::NAN,
    0.0,
    -0.0,
    1.0,
    -1.0,
    3.0,
    1e300,
    f64::INFINITY,
    f64::NEG_INFINITY,
];

/// Scores rows of [`VALUES`] (a batch of one row per value and a row
/// mixing them, then each row alone) and checks what the crate promises:
/// the compact encoding decodes into the same model, a batch of the
/// model's width scores or is refused for a row (a missing value a linear
/// model cannot impute, a category an ONNX encoder does not know), never
/// for its shape, and the portable walk, the decoded model and a row
/// scored alone give the same bits as the batch.
pub fn exercise(model: &Model) {
    let compact = model.to_compact_bytes();
    let decoded = Model::from_bytes(&compact, Some(Format::Compact))
        .expect("a model's compact encoding decodes");
    assert_eq!(
        decoded.to_compact_bytes(),
        compact,
        "the compact encoding reads back into the model encoded"
    );
    let width = model.num_features();
    if width > MAX_SCORED_WIDTH {
        return;
    }
    let _ = model.feature_names();
    let _ = model.objective();
    let _ = model.steps_per_row();
    let _ = model.gpu_forest();
    let mut rows = Vec::with_capacity((VALUES.len() + 1) * width);
    for value in VALUES {
        rows.extend(std::iter::repeat_n(value, width));
    }
    rows.extend((0..width).map(|f| VALUES[f % VALUES.len()]));
    let portable = model.clone().without_simd();
    let batch = scored(model.score(&rows));
    assert_eq!(
        batch,
        scored(portable.score(&rows)),
        "SIMD and portable walks agree"
    );
    assert_eq!(
        batch,
        scored(decoded.score(&rows)),
        "the decoded model agrees"
    );
    if width > 0 {
        for (r, row) in rows.chunks(width).enumerate() {
            let alone = scored(model.score(row));
            if let (Ok(batch), Ok(alone)) = (&batch, &alone) {
                assert_eq!(
                    alone[..],
                    batch[r..=r],
                    "row {r} scores alone as in the batch"
                );
            }
        }
    }
    let _ = scored(model.raw_scores(&rows));
    let _ = scored(model.contributions(&rows));
    // A batch that is not a whole number of rows is refused, not a panic.
    if width > 1 {
        assert!(matches!(
            model.score(&rows[1..]),
            Err(ScoreError::Shape { .. })
        ));
    }
}

/// The scores' bits, or the refusal: a refusal of a batch of the model's
/// width must name a row, not the shape.
fn scored(result: Result<Vec<f64>, ScoreError>) -> Result<Vec<u64>, String> {
    match result {
        Ok(values) => Ok(values.iter().map(|v| v.to_bits()).collect()),
        Err(e @ (ScoreError::Missing { .. } | ScoreError::Refused { .. })) => Err(e.to_string()),
        Err(e @ ScoreError::NoContributions(_)) => Err(e.to_string()),
        Err(e) => panic!("a batch of the model's width is refused for its shape: {e}"),
    }
}
