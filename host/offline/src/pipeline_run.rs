//! A pipeline loaded for offline use: the very [`Pipeline`] the server
//! runs, with a fresh in-process feature store that history is replayed
//! into, scoring whole files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Error, Result};
use edgescore_runtime::component_scorer::ComponentError;
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::pipeline::{PIPELINE_FILE, Pipeline, StoreAccess};

use crate::events_file::EventsFile;

/// The pipeline folder `path` names: the folder itself or its `pipeline.toml`.
pub fn pipeline_dir(path: &Path) -> PathBuf {
    if path.file_name().is_some_and(|n| n == PIPELINE_FILE) {
        path.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned)
    } else {
        path.to_owned()
    }
}

/// Loads the pipeline at `path` (its model must reproduce its golden
/// vectors and read what the transform produces), against a fresh embedded
/// feature store that keeps every entity: history holds many more cards
/// than an edge node sees at once, and evicting one would change its later
/// features.
pub fn load(engine: &ScoringEngine, path: &Path) -> Result<Pipeline> {
    let access = StoreAccess {
        store: Some(Arc::new(crate::replay::history_store())),
        undoable: false,
    };
    Pipeline::load(engine, None, &pipeline_dir(path), "pipeline", "1", access)
        .map_err(|e| Error::Pipeline(e.to_string()))
}

/// A pipeline's run over one file: the file (events and other columns, in
/// time order), the feature rows and one score per event.
#[derive(Debug)]
pub struct FileRun {
    pub file: EventsFile,
    /// Row-major, one row of [`Pipeline::features`] per event.
    pub rows: Vec<f64>,
    pub scores: Vec<f64>,
}

/// The name a pipeline folder goes by in reports: the folder's name
/// (`examples/fraud` is `fraud`).
pub fn pipeline_name(path: &Path) -> String {
    let dir = pipeline_dir(path);
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    dir.file_name().map_or_else(
        || "pipeline".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Replays the events of `input` through the pipeline's transform (in time
/// order) and scores every row with its model. Returns the file (events
/// and other columns, in time order) and one score per event. An event
/// dated too far ahead is left out (reported on standard error).
pub fn score_file(pipeline: &Pipeline, input: &Path) -> Result<(EventsFile, Vec<f64>)> {
    let run = run_file(pipeline, input)?;
    Ok((run.file, run.scores))
}

/// [`score_file`], keeping the feature rows.
pub fn run_file(pipeline: &Pipeline, input: &Path) -> Result<FileRun> {
    let reader = crate::replay::event_reader(pipeline.transform_component())?;
    let file = EventsFile::read(input, &reader)?;
    crate::replay::report_refused(input, &file.refused);
    let progress = crate::replay::progress_bar(file.events.len() as u64, "transforming");
    let (rows, _) = pipeline.transform(&file.events, |n| progress.inc(n as u64))?;
    progress.finish_and_clear();
    let width = pipeline.features().len().max(1);
    let progress = crate::replay::progress_bar(file.events.len() as u64, "scoring");
    let mut scores = Vec::with_capacity(file.events.len());
    // Progress in steps of many calls; each step is split into calls that
    // fit the deadline.
    let step = pipeline.model().component().rows_per_call(false) * 64;
    for batch in rows.chunks(step * width) {
        let before = scores.len();
        let scored = pipeline.score(batch).map_err(|e| match e {
            ComponentError::RowDeadline { row, deadline_ms } => ComponentError::RowDeadline {
                row: row + before,
                deadline_ms,
            },
            other => other,
        })?;
        scores.extend(scored);
        progress.inc((batch.len() / width) as u64);
    }
    progress.finish_and_clear();
    Ok(FileRun { file, rows, scores })
}
