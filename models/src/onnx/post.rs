//! onnxruntime's post-transforms (onnxruntime/core/providers/cpu/ml/
//! ml_common.h), in float32 as it computes them. `exp` is taken in float64
//! and rounded, so a result may differ from onnxruntime's `expf` (or its
//! MLAS logistic) by an ulp of float32, far inside the 1e-6 bar.

use super::program::PostTransform;

/// `ComputeLogistic`: `1 / (1 + exp(-|v|))`, mirrored for negative `v`.
pub(crate) fn logistic(v: f32) -> f32 {
    let e = libm::exp(-f64::from(v.abs())) as f32;
    let p = 1.0 / (1.0 + e);
    if v < 0.0 { 1.0 - p } else { p }
}

/// `ComputeProbit`: `sqrt(2) * ErfInv(2v - 1)` with onnxruntime's
/// approximation of the inverse error function.
pub(crate) fn probit(v: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * v - 1.0)
}

fn erf_inv(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = (libm::log(f64::from(x))) as f32;
    let v = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147 * log;
    let v3 = -v + ((f64::from(v * v - v2)).sqrt() as f32);
    sign * ((f64::from(v3)).sqrt() as f32)
}

fn exp(v: f32) -> f32 {
    libm::exp(f64::from(v)) as f32
}

/// Applies `post` to one row's scores in place (`write_scores` for two or
/// more scores).
pub(crate) fn apply(post: PostTransform, scores: &mut [f32]) {
    match post {
        PostTransform::None => {}
        PostTransform::Logistic => scores.iter_mut().for_each(|s| *s = logistic(*s)),
        PostTransform::Probit => scores.iter_mut().for_each(|s| *s = probit(*s)),
        PostTransform::Softmax => {
            let max = scores.iter().copied().fold(-f32::MAX, f32::max);
            let mut sum = 0.0_f32;
            for s in scores.iter_mut() {
                *s = exp(*s - max);
                sum += *s;
            }
            scores.iter_mut().for_each(|s| *s /= sum);
        }
        PostTransform::SoftmaxZero => {
            let max = scores.iter().copied().fold(-f32::MAX, f32::max);
            let exp_neg_max = exp(-max);
            let mut sum = 0.0_f32;
            for s in scores.iter_mut() {
                if *s > 0.000_000_1 || *s < -0.000_000_1 {
                    *s = exp(*s - max);
                    sum += *s;
                } else {
                    *s *= exp_neg_max;
                }
            }
            scores.iter_mut().for_each(|s| *s /= sum);
        }
    }
}

/// [`apply`] on a pair.
pub(crate) fn transform_pair(post: PostTransform, a: f32, b: f32) -> (f32, f32) {
    let mut pair = [a, b];
    apply(post, &mut pair);
    (pair[0], pair[1])
}
