//! Link functions, written to round the way each reference library rounds.
//!
//! Transcendental functions come from the `libm` crate rather than the
//! platform's C library, so native, `wasm32-wasip2` and browser builds give
//! the same bits.

/// XGBoost's `common::Sigmoid` for `binary:logistic` and `reg:logistic`, in float32:
/// `1 / (1 + exp(-x))` with `-x` clamped at 88.7 so `expf` stays finite.
///
/// `expf` is glibc's algorithm (see `expf.rs`), as XGBoost runs on Linux.
pub(crate) fn xgboost_sigmoid(margin: f32) -> f32 {
    let neg = (-margin).min(88.7_f32);
    1.0_f32 / (crate::expf::expf(neg) + 1.0_f32)
}

/// XGBoost's `ProbToMargin` for the logistic objectives, in float32:
/// `-logf(1 / base_score - 1)`.
pub(crate) fn xgboost_logit(probability: f32) -> f32 {
    let odds = 1.0_f32 / probability - 1.0_f32;
    -(libm::log(f64::from(odds)) as f32)
}

/// LightGBM's binary `ConvertOutput`, in float64: `1 / (1 + exp(-sigmoid * raw))`.
pub(crate) fn lightgbm_sigmoid(sigmoid: f64, raw: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-sigmoid * raw))
}

/// scikit-learn's `expit` as `LogisticRegression.predict_proba` uses it, in float64.
pub(crate) fn logistic(raw: f64) -> f64 {
    1.0 / (1.0 + libm::exp(-raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xgboost_sigmoid_saturates_without_overflow() {
        let floor = xgboost_sigmoid(-1000.0);
        assert!(floor > 0.0 && floor == xgboost_sigmoid(-88.7));
        assert_eq!(xgboost_sigmoid(1000.0), 1.0);
        assert_eq!(xgboost_sigmoid(0.0), 0.5);
    }

    #[test]
    fn xgboost_logit_inverts_sigmoid_at_one_half() {
        assert_eq!(xgboost_logit(0.5), 0.0);
    }
}
