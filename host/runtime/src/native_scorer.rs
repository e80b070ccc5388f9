//! A scorer component's own model, scored natively: the central backend's
//! path for trusted models (`backend = "native"` in `edgescore serve`).
//!
//! The component stays the unit that is built, deployed, hashed and
//! validated. `edgescore build` appends the artifact it pre-initialised the
//! guest with (manifest and model in the compact encoding) as the
//! `edgescore-artifact` custom section; this reads that section, so the
//! native model is the very model inside the component, and checks it
//! against the component's manifest and golden vectors, bit for bit, before
//! it may serve. Nothing is sandboxed here: the model's code is edgescore's
//! own evaluator (no guest code runs), but its memory and time are not
//! capped, which is why this is for trusted models only.

use edgescore_models::{Artifact, Manifest, Model, ScoreError};

use crate::component_scorer::ComponentError;
use crate::manifest_section;

/// A validated model scored in this process, with the SIMD walk the CPU has.
#[derive(Debug)]
pub struct NativeScorer {
    manifest: Manifest,
    model: Model,
}

impl NativeScorer {
    /// Reads the model out of component `bytes` and checks it reproduces the
    /// component's golden vectors. Refused when the component carries no
    /// artifact (built before it was written), or when its sections disagree.
    pub fn load(bytes: &[u8]) -> Result<Self, ComponentError> {
        let manifest = manifest_section::read(bytes)
            .map_err(ComponentError::Invalid)?
            .ok_or_else(|| {
                ComponentError::Invalid(format!(
                    "it has no {} section: only components made by `edgescore build` can be served natively",
                    manifest_section::SECTION
                ))
            })?;
        let artifact = manifest_section::read_artifact(bytes)
            .map_err(ComponentError::Invalid)?
            .ok_or_else(|| {
                ComponentError::Invalid(format!(
                    "it has no {} section (it was built by an edgescore before native serving): \
                     rebuild it with this edgescore's `edgescore build`, or serve it as a component",
                    manifest_section::ARTIFACT_SECTION
                ))
            })?;
        let artifact = Artifact::from_bytes(&artifact).map_err(|e| {
            ComponentError::Invalid(format!(
                "its {} section does not load: {e}",
                manifest_section::ARTIFACT_SECTION
            ))
        })?;
        if artifact.manifest != manifest {
            return Err(ComponentError::Invalid(format!(
                "its {} and {} sections describe different models",
                manifest_section::SECTION,
                manifest_section::ARTIFACT_SECTION
            )));
        }
        let scorer = Self {
            manifest,
            model: artifact.model,
        };
        scorer.verify_golden()?;
        Ok(scorer)
    }

    /// Scores the golden vectors and compares them, bit for bit, with the
    /// scores recorded at build time. Returns how many were checked.
    pub fn verify_golden(&self) -> Result<usize, ComponentError> {
        crate::golden_check::verify_golden(&self.manifest, "natively here", |rows| self.score(rows))
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Scores row-major `rows`. A refused row is `BadInput` with the same
    /// message the component gives for it.
    pub fn score(&self, rows: &[f64]) -> Result<Vec<f64>, ComponentError> {
        self.model.score(rows).map_err(bad_input)
    }

    /// Like [`NativeScorer::score`], with each row's contributions (one per
    /// feature, then the bias), as the component gives them.
    pub fn score_with_contributions(
        &self,
        rows: &[f64],
    ) -> Result<(Vec<f64>, Vec<Vec<f64>>), ComponentError> {
        let scores = self.score(rows)?;
        let contributions =
            self.model
                .contributions(rows)
                .map_err(|e| ComponentError::BadInput {
                    row: None,
                    feature: None,
                    message: e.to_string(),
                })?;
        let width = self.model.num_features() + 1;
        Ok((
            scores,
            contributions.chunks(width).map(<[f64]>::to_vec).collect(),
        ))
    }
}

/// A refused row as the scorer guest reports it (`guest/scorer`): the row and
/// feature of a missing value, the message of everything else.
fn bad_input(e: ScoreError) -> ComponentError {
    let message = e.to_string();
    match e {
        ScoreError::Missing { row, feature } => ComponentError::BadInput {
            row: u32::try_from(row).ok(),
            feature: Some(feature),
            message,
        },
        _ => ComponentError::BadInput {
            row: None,
            feature: None,
            message,
        },
    }
}
