//! A pipeline loaded for offline use: its transform and model components,
//! checked to fit, scoring whole files.

use std::path::{Path, PathBuf};

use crate::{Error, Result};
use edgescore_runtime::component_scorer::{ComponentError, ScorerComponent};
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::pipeline::{self, PIPELINE_FILE, PipelineError, PipelineSpec};
use edgescore_runtime::transform_component::TransformComponent;

use crate::events_file::EventsFile;

/// A pipeline folder, loaded.
#[derive(Debug)]
pub struct OfflinePipeline {
    pub spec: PipelineSpec,
    pub transform: TransformComponent,
    pub model: ScorerComponent,
}

/// The pipeline folder `path` names: the folder itself or its `pipeline.toml`.
pub fn pipeline_dir(path: &Path) -> PathBuf {
    if path.file_name().is_some_and(|n| n == PIPELINE_FILE) {
        path.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned)
    } else {
        path.to_owned()
    }
}

impl OfflinePipeline {
    /// Loads the pipeline at `path` and checks its model reproduces its
    /// golden vectors and reads what the transform produces.
    pub fn load(engine: &ScoringEngine, path: &Path) -> Result<Self> {
        let dir = pipeline_dir(path);
        let parts = pipeline::load_parts(engine, &dir, "pipeline", "1").map_err(pipeline_error)?;
        let model = ScorerComponent::new(engine, &parts.model_bytes)
            .and_then(|m| m.verify_golden().map(|_| m))
            .map_err(|source| {
                pipeline_error(PipelineError::Model {
                    path: parts.model_path.display().to_string(),
                    source,
                })
            })?;
        pipeline::check_fit(&parts.transform, &model).map_err(pipeline_error)?;
        Ok(Self {
            spec: parts.spec,
            transform: parts.transform,
            model,
        })
    }

    /// Replays the events of `input` through the transform (in time order)
    /// and scores every row with the model. Returns the file (events and
    /// other columns, in time order) and one score per event. An event
    /// dated too far ahead is left out (reported on standard error).
    pub fn score_file(&self, input: &Path) -> Result<(EventsFile, Vec<f64>)> {
        let file = EventsFile::read(input, &crate::replay::event_reader(&self.transform)?)?;
        crate::replay::report_refused(input, &file.refused);
        let rows = crate::replay::replay(&self.transform, &file.events)?;
        let width = self.transform.info().outputs.len();
        let mut instance = None;
        let progress = crate::replay::progress_bar(file.events.len() as u64, "scoring");
        let mut scores = Vec::with_capacity(file.events.len());
        // Progress in steps of many calls; each step is split into calls
        // that fit the deadline.
        let step = self.model.rows_per_call(false) * 64;
        for batch in rows.chunks(step * width.max(1)) {
            let before = scores.len();
            let scored = self
                .model
                .score_all(&mut instance, batch)
                .map_err(|e| match e {
                    ComponentError::RowDeadline { row, deadline_ms } => {
                        ComponentError::RowDeadline {
                            row: row + before,
                            deadline_ms,
                        }
                    }
                    other => other,
                })?;
            scores.extend(scored);
            progress.inc((batch.len() / width.max(1)) as u64);
        }
        progress.finish_and_clear();
        Ok((file, scores))
    }
}

fn pipeline_error(e: PipelineError) -> Error {
    Error::Pipeline(e.to_string())
}
