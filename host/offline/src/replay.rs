//! Replaying a pipeline's transform over a historical file, shared by
//! `edgescore transform` (events to feature rows) and `edgescore eval`
//! (events with labels to metrics and plots).
//!
//! Both read every event first, by the very rules the server reads a
//! request's transactions by (the pipeline's `[events]`, the default text
//! limits), order them by event time (stably, so ties keep file order) and
//! push them through the very transform component the pipeline serves, in
//! batches, against a fresh embedded feature store: replaying history in
//! time order gives each event the windows it had online.
//!
//! The reference clock of the skew rule is the clock when the run started:
//! a history holds no event from the future, so an event dated ahead of it
//! (a far-future date, an integer in the wrong unit) is one the server
//! refused, and is left out and reported here too. (The latest event time
//! replayed so far would not do: a quiet hour between two events of a
//! history is not a sign of either being wrong.)

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use edgescore_events::Event;
use edgescore_events::{Clock, EventReader};
use edgescore_runtime::component_scorer::ComponentError;
use edgescore_runtime::feature_store::{EmbeddedLimits, EmbeddedStore};
use edgescore_runtime::host_state::{FeatureAccess, Grants};
use edgescore_runtime::transform_component::TransformComponent;

/// The feature store an offline run replays history into: in process,
/// fresh, and keeping every entity (history holds many more cards than an
/// edge node sees at once, and evicting one would change its later
/// features).
pub fn history_store() -> EmbeddedStore {
    EmbeddedStore::new(EmbeddedLimits {
        max_entities: usize::MAX,
        max_bytes: usize::MAX,
        ..EmbeddedLimits::default()
    })
}

/// Runs a transform given alone (no pipeline) over `events` (already in
/// time order) against a fresh [`history_store`] it may use whole,
/// returning the row-major feature rows. Shows a progress bar on standard
/// error when it is a terminal. (A pipeline's transform runs through
/// [`edgescore_runtime::pipeline::Pipeline::transform`], within its grant.)
pub fn replay(
    transform: &TransformComponent,
    events: &[Event],
) -> Result<Vec<f64>, ComponentError> {
    let mut instance = transform.instantiate(FeatureAccess {
        store: Some(Arc::new(history_store())),
        grants: Grants::All,
        component: format!("transform '{}'", transform.info().name),
        ..FeatureAccess::default()
    })?;
    let progress = progress_bar(events.len() as u64, "transforming");
    let rows = transform.transform_all(&mut instance, events, |n| progress.inc(n as u64))?;
    progress.finish_and_clear();
    Ok(rows)
}

/// Reads the events of a file for `transform` by its event rules, against
/// the clock now (the run's start).
pub fn event_reader(transform: &TransformComponent) -> crate::Result<EventReader<'_>> {
    EventReader::new(
        transform.inputs(),
        transform.event_rules(),
        Clock::system("the clock when the run started"),
    )
    .map_err(crate::Error::Pipeline)
}

/// Says on standard error which events of `input` were left out, and why.
pub fn report_refused(input: &std::path::Path, refused: &crate::events_file::Refused) {
    if refused.count == 0 {
        return;
    }
    eprintln!(
        "warning: {}: {} event(s) left out, as the server would have refused them:",
        input.display(),
        refused.count
    );
    for why in &refused.first {
        eprintln!("  {why}");
    }
    if refused.count > refused.first.len() {
        eprintln!("  and {} more", refused.count - refused.first.len());
    }
}

/// A progress bar drawn on standard error when it is a terminal.
pub fn progress_bar(length: u64, what: &str) -> ProgressBar {
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
