//! Sample rows that exercise a model: the golden vectors `edgescore build`
//! embeds in a component, so a host can check the component scores exactly as
//! the native model before serving it.

use crate::Model;
use crate::model::Evaluator;

/// `count` rows (row-major) for `model`, the same for the same model and `seed`.
///
/// For tree models each value is one of the feature's split thresholds,
/// exactly or one step either side in the precision the family compares in
/// (float32 for XGBoost, float64 for LightGBM, which also gets the nearest
/// float32, often on the other side of the threshold), or NaN (an ONNX
/// ensemble's thresholds when it reads the model's inputs directly); for linear
/// models it is spread around the standardization mean. Every tenth value
/// is NaN; no value is infinite.
pub fn probe_rows(model: &Model, count: usize, seed: u64) -> Vec<f64> {
    let width = model.num_features();
    let mut per_feature: Vec<Vec<f64>> = vec![Vec::new(); width];
    match model.evaluator() {
        Evaluator::XGBoost(m) => {
            for (feature, threshold) in m.split_thresholds() {
                per_feature[feature]
                    .extend([threshold, threshold.next_down(), threshold.next_up()].map(f64::from));
            }
        }
        Evaluator::LightGbm(m) => {
            for (feature, threshold) in m.split_thresholds() {
                per_feature[feature].extend([
                    threshold,
                    threshold.next_down(),
                    threshold.next_up(),
                    f64::from(threshold as f32),
                ]);
            }
        }
        Evaluator::Onnx(m) => {
            for (feature, threshold) in m.split_thresholds() {
                let t = threshold as f32;
                per_feature[feature].extend([t, t.next_down(), t.next_up()].map(f64::from));
            }
        }
        Evaluator::Linear(m) => {
            for (i, values) in per_feature.iter_mut().enumerate() {
                let (mean, scale) = (m.mean[i], m.scale[i]);
                values.extend([-2.0, -0.5, 0.0, 0.5, 2.0].map(|z| mean + z * scale));
            }
        }
    }
    // Golden vectors travel as JSON, which has no infinity (a LightGBM
    // threshold may be `inf`): keep finite values only.
    for values in &mut per_feature {
        values.retain(|v| v.is_finite());
    }
    let mut rng = SplitMix64(seed);
    let mut rows = Vec::with_capacity(count * width);
    for _ in 0..count {
        for values in &per_feature {
            let pick = rng.next();
            let value =
                if pick.is_multiple_of(10) && !matches!(model.evaluator(), Evaluator::Linear(_)) {
                    f64::NAN
                } else if values.is_empty() {
                    (pick % 7) as f64
                } else {
                    values[(pick >> 8) as usize % values.len()]
                };
            rows.push(value);
        }
    }
    rows
}

/// A small, well-mixed deterministic generator (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
