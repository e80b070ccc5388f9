//! A model's golden vectors, scored by whatever is about to serve it (a
//! component, the native model, the GPU) and compared bit for bit with the
//! scores recorded at build time.

use edgescore_models::Manifest;

use crate::component_error::ComponentError;

/// Scores `manifest`'s golden rows with `score` and checks every score is
/// bit-identical to the recorded one (`where_scored` names the scorer in
/// the error: "in the component", "natively here", "on the GPU"). Returns
/// how many were checked.
pub fn verify_golden(
    manifest: &Manifest,
    where_scored: &'static str,
    score: impl FnOnce(&[f64]) -> Result<Vec<f64>, ComponentError>,
) -> Result<usize, ComponentError> {
    let rows: Vec<f64> = manifest.golden.iter().flat_map(|g| g.values()).collect();
    let scores = score(&rows)?;
    if scores.len() != manifest.golden.len() {
        return Err(ComponentError::Internal(format!(
            "{} scores came back for {} golden vectors ({where_scored})",
            scores.len(),
            manifest.golden.len()
        )));
    }
    for (index, (got, golden)) in scores.iter().zip(&manifest.golden).enumerate() {
        if got.to_bits() != golden.score.to_bits() {
            return Err(ComponentError::GoldenMismatch {
                where_scored,
                index,
                got: *got,
                expected: golden.score,
            });
        }
    }
    Ok(scores.len())
}
