//! `edgescore profile`: a pipeline's reference profile, made from its
//! training data with its own transform and model.
//!
//! The events are replayed as `edgescore eval` replays them (time order,
//! a fresh in-process store: [`crate::pipeline_run`]), so each row is the
//! feature row the pipeline served or would have served; every row goes
//! into an [`edgescore_drift::ProfileBuilder`] with its score and decision.
//! The profile is bound to the pipeline's features (names and kinds, in
//! order) and to the SHA-256 of the model file `pipeline.toml` names: the
//! server refuses it for a version whose features or model differ.

use std::fmt::Write as _;
use std::path::Path;

use edgescore_drift::{Bins, Kind, Profile, ProfileBuilder};
use edgescore_runtime::bindings::edgescore::scoring::types::FeatureKind;
use edgescore_runtime::pipeline::Pipeline;

use crate::Result;
use crate::pipeline_run::{self, FileRun};

/// The pipeline's features with the kind profiles bin them by: a numeric
/// feature by reference quantiles, a categorical one by its categories.
pub fn feature_kinds(pipeline: &Pipeline) -> Vec<(String, Kind)> {
    pipeline
        .features()
        .iter()
        .map(|f| {
            let kind = match f.kind {
                FeatureKind::Numeric => Kind::Numeric,
                FeatureKind::Categorical => Kind::Categorical,
            };
            (f.name.clone(), kind)
        })
        .collect()
}

/// The transform as a profile names it: its name and version
/// (`fraud-features 1`).
pub fn transform_name(pipeline: &Pipeline) -> String {
    let info = pipeline.transform_component().info();
    format!("{} {}", info.name, info.version)
}

/// The profile of `pipeline` (named `name`) over the training events in
/// `input` (CSV or Parquet, read by the pipeline's event rules), numeric
/// features cut into `bins` reference-quantile bins.
pub fn profile_file(pipeline: &Pipeline, name: &str, input: &Path, bins: usize) -> Result<Profile> {
    let run = pipeline_run::run_file(pipeline, input)?;
    Ok(profile_run(pipeline, name, &run, bins))
}

/// The profile of rows already run through `pipeline`.
pub fn profile_run(pipeline: &Pipeline, name: &str, run: &FileRun, bins: usize) -> Profile {
    let width = pipeline.features().len().max(1);
    let mut builder = ProfileBuilder::new(feature_kinds(pipeline), bins);
    let progress = crate::replay::progress_bar(run.scores.len() as u64, "profiling");
    for (row, &score) in run.rows.chunks(width).zip(&run.scores) {
        builder.add(row, score, pipeline.spec.decision.decide(score).name());
        progress.inc(1);
    }
    progress.finish_and_clear();
    builder.finish(
        name,
        &transform_name(pipeline),
        pipeline.model_file_sha256(),
    )
}

/// Writes `profile` to `output` as pretty JSON (whole or not at all).
pub fn write_profile(profile: &Profile, output: &Path) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(profile)
        .expect("a profile serializes: its numbers are finite or counts");
    json.push(b'\n');
    edgescore_runtime::atomic_file::write_atomically(output, &json)?;
    Ok(())
}

/// A few lines for people: the rows, the decisions, and the bins of each
/// distribution.
pub fn summary(profile: &Profile) -> String {
    let d = &profile.decisions;
    let mut text = format!(
        "profiled {} rows of pipeline '{}' ({}; model {}): {} allow, {} review, {} block\n",
        profile.rows,
        profile.pipeline,
        profile.transform,
        profile.model_file_sha256.get(..12).unwrap_or_default(),
        d.allow,
        d.review,
        d.block
    );
    for distribution in profile.features.iter().chain([&profile.score]) {
        // The slots besides the bins: below, above and missing, or other
        // and missing.
        let bins = match &distribution.bins {
            Bins::Numeric { .. } => plural(distribution.bins.slots() - 3, "bin"),
            Bins::Categorical { categories } => plural(categories.len(), "category"),
        };
        let _ = writeln!(text, "  {:<24} {bins}", distribution.name);
    }
    text
}

fn plural(n: usize, what: &str) -> String {
    match (n, what) {
        (1, _) => format!("1 {what}"),
        (_, "category") => format!("{n} categories"),
        _ => format!("{n} {what}s"),
    }
}
