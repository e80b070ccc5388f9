//! `edgescore transform`: a file of raw events to a file of feature rows.

use std::path::Path;

use crate::Result;
use crate::table::{self, FeatureColumns};
use edgescore_events::Event;
use edgescore_runtime::component_scorer::ComponentError;
use edgescore_runtime::pipeline::Pipeline;
use edgescore_runtime::transform_component::TransformComponent;

use crate::events_file::EventsFile;

/// What turns events into feature rows: a pipeline (its transform, within
/// its grant: what the server runs) or a transform given alone.
#[derive(Debug, Clone, Copy)]
pub enum Transformer<'a> {
    Pipeline(&'a Pipeline),
    Alone(&'a TransformComponent),
}

impl Transformer<'_> {
    pub fn component(&self) -> &TransformComponent {
        match self {
            Self::Pipeline(pipeline) => pipeline.transform_component(),
            Self::Alone(transform) => transform,
        }
    }

    /// The feature rows of `events` (in time order), replayed against the
    /// run's fresh store, with a progress bar.
    fn rows(&self, events: &[Event]) -> Result<Vec<f64>, ComponentError> {
        match self {
            Self::Pipeline(pipeline) => {
                let progress = crate::replay::progress_bar(events.len() as u64, "transforming");
                let (rows, _) = pipeline.transform(events, |n| progress.inc(n as u64))?;
                progress.finish_and_clear();
                Ok(rows)
            }
            Self::Alone(transform) => crate::replay::replay(transform, events),
        }
    }
}

/// Runs `transformer` over the events in `input` (read by its event rules)
/// and writes `output` (CSV, or Parquet for a `.parquet` name): the input's
/// other columns (ids, labels: everything the transform does not read) and
/// then one column per feature, one row per event in event-time order. An
/// event dated too far ahead is left out and reported on standard error. A missing feature value
/// is an empty cell or a null, which `edgescore score` reads back as
/// missing. The file appears only when complete; `output` naming the same
/// file as `input` is refused before anything is read. Returns how many
/// events were transformed.
pub fn transform_file(transformer: Transformer<'_>, input: &Path, output: &Path) -> Result<u64> {
    edgescore_runtime::atomic_file::refuse_input_as_output(output, [input])?;
    let transform = transformer.component();
    let file = EventsFile::read(input, &crate::replay::event_reader(transform)?)?;
    crate::replay::report_refused(input, &file.refused);
    let rows = transformer.rows(&file.events)?;
    let names: Vec<String> = transform
        .info()
        .outputs
        .iter()
        .map(|f| f.name.clone())
        .collect();
    table::write_with_features(
        output,
        &file.other,
        FeatureColumns {
            names: &names,
            rows: &rows,
        },
    )?;
    Ok(file.events.len() as u64)
}
