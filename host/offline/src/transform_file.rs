//! `edgescore transform`: a file of raw events to a file of feature rows.

use std::path::Path;

use crate::Result;
use crate::table::{self, FeatureColumns};
use edgescore_runtime::transform_component::TransformComponent;

use crate::events_file::EventsFile;

/// Runs `transform` over the events in `input` (read by its event rules)
/// and writes `output` (CSV, or Parquet for a `.parquet` name): the input's
/// other columns (ids, labels: everything the transform does not read) and
/// then one column per feature, one row per event in event-time order. An
/// event dated too far ahead is left out and reported on standard error. A missing feature value
/// is an empty cell or a null, which `edgescore score` reads back as
/// missing. The file appears only when complete; `output` naming the same
/// file as `input` is refused before anything is read. Returns how many
/// events were transformed.
pub fn transform_file(transform: &TransformComponent, input: &Path, output: &Path) -> Result<u64> {
    edgescore_runtime::atomic_file::refuse_input_as_output(output, [input])?;
    let file = EventsFile::read(input, &crate::replay::event_reader(transform)?)?;
    crate::replay::report_refused(input, &file.refused);
    let rows = crate::replay::replay(transform, &file.events)?;
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
