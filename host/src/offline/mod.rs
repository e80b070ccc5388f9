//! Offline runs of a pipeline over a historical file: `edgescore transform`
//! (events to feature rows) and `edgescore eval` (events with labels to
//! metrics and plots).
//!
//! Both read every event first, order them by event time (stably, so ties
//! keep file order) and push them through the very transform component the
//! pipeline serves, in batches, against a fresh embedded feature store:
//! replaying history in time order gives each event the windows it had
//! online.

pub mod eval;
pub mod events_file;
pub mod pipeline_run;
pub mod plot;
pub mod transform_file;

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::bindings::transformer::exports::edgescore::scoring::transform::Field;
use crate::component_scorer::ComponentError;
use crate::feature_store::{EmbeddedLimits, EmbeddedStore};
use crate::host_state::{FeatureAccess, Grants};
use crate::transform_component::TransformComponent;

/// Runs `transform` over `events` (already in time order) against a fresh
/// embedded store, returning the row-major feature rows. Shows a progress
/// bar on standard error when it is a terminal.
pub fn replay(
    transform: &TransformComponent,
    events: &[Vec<Field>],
) -> Result<Vec<f64>, ComponentError> {
    let store = Arc::new(EmbeddedStore::new(EmbeddedLimits {
        // History holds many more cards than an edge node sees at once.
        max_entities: usize::MAX,
        ..EmbeddedLimits::default()
    }));
    let mut instance = transform.instantiate(FeatureAccess {
        store: Some(store),
        grants: Grants::All,
        component: format!("transform '{}'", transform.info().name),
    })?;
    let progress = progress_bar(events.len() as u64, "transforming");
    let rows = transform.transform_all(&mut instance, events, |n| progress.inc(n as u64))?;
    progress.finish_and_clear();
    Ok(rows)
}

/// A progress bar drawn on standard error when it is a terminal.
pub(crate) fn progress_bar(length: u64, what: &str) -> ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{what} {{bar:40}} {{pos}}/{{len}} events, {{per_sec}}, {{eta}} left"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
