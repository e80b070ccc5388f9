//! `edgescore drift`: a file of events against a pipeline's reference
//! profile, as the server's drift monitor would judge it with the whole
//! file in its window.
//!
//! The reference is a profile (`edgescore profile`'s JSON, checked to fit
//! the pipeline: the same features in the same order, the same model file)
//! or a file of training events, profiled on the spot with the same code.
//! The current file is replayed as `edgescore eval` replays it and every
//! row goes into one [`DriftMonitor`] whose window holds the whole file
//! ([`whole_file`]); its report is the result: per feature and for the
//! score the PSI (Jensen-Shannon too for a categorical feature), the state
//! and both sides' counts per bin. The report is written as JSON or as a
//! self-contained HTML page ([`crate::drift_page`]).

use std::io::Read as _;
use std::path::Path;

use edgescore_drift::monitor::DistributionDrift;
use edgescore_drift::{DriftConfig, DriftMonitor, DriftReport, Profile, State};
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::pipeline::Pipeline;

use crate::pipeline_run::{self, FileRun};
use crate::{Error, Result};

/// The version a report made offline names (there is no registry
/// version; the profile names the transform and the model file).
pub const OFFLINE_VERSION: &str = "offline";

/// Whether `path` holds a profile's JSON rather than events: a `.json`
/// name, or a file whose first non-blank byte is `{` (CSV starts with a
/// header, Parquet with `PAR1`).
pub fn is_profile(path: &Path) -> Result<bool> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        return Ok(true);
    }
    let read_error = |source| Error::ReadInput {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let n = file.read(&mut head).map_err(read_error)?;
    Ok(head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{'))
}

/// Reads the profile at `path` and checks that it fits `pipeline`.
pub fn read_profile(pipeline: &Pipeline, path: &Path) -> Result<Profile> {
    let bytes = std::fs::read(path).map_err(|source| Error::ReadInput {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |source| Error::Profile {
        path: path.to_owned(),
        source,
    };
    let features: Vec<String> = pipeline.features().iter().map(|f| f.name.clone()).collect();
    Profile::from_json_fitting(&bytes, &features, pipeline.model_file_sha256()).map_err(invalid)
}

/// What `edgescore drift` found.
#[derive(Debug)]
pub struct Comparison {
    pub report: DriftReport,
    /// The rows the reference profiled.
    pub reference_rows: u64,
}

/// Compares the events in `current` with `reference` for the pipeline at
/// `pipeline_path`. The reference is a profile ([`read_profile`]) or
/// training events, profiled now with `bins` bins
/// ([`crate::profile::profile_file`]). Each file replays against a fresh
/// store (training events in a pipeline loaded for them), as `edgescore
/// eval` replays one, so a profile and the events it was made from give
/// the same report. Both files are opened before anything is loaded.
pub fn compare(
    engine: &ScoringEngine,
    pipeline_path: &Path,
    reference: &Path,
    current: &Path,
    bins: usize,
) -> Result<Comparison> {
    for path in [reference, current] {
        std::fs::File::open(path).map_err(|source| Error::ReadInput {
            path: path.to_owned(),
            source,
        })?;
    }
    let pipeline = pipeline_run::load(engine, pipeline_path)?;
    let name = pipeline_run::pipeline_name(pipeline_path);
    let profile = if is_profile(reference)? {
        read_profile(&pipeline, reference)?
    } else {
        let training = pipeline_run::load(engine, pipeline_path)?;
        crate::profile::profile_file(&training, &name, reference, bins)?
    };
    let reference_rows = profile.rows;
    let report = drift_file(&pipeline, &name, profile, current)?;
    Ok(Comparison {
        report,
        reference_rows,
    })
}

/// A monitor's settings for one judgement over a whole file of `events`:
/// a window that holds them all (whatever their times), judged from the
/// first event, at the server's thresholds.
pub fn whole_file(events: usize) -> DriftConfig {
    DriftConfig {
        window_events: events.max(1),
        // Every event is placed at time 0, so none ages out; the settings
        // stay numbers a JavaScript reader of the report holds exactly.
        window_seconds: 1 << 40,
        min_events: 1,
        check_every: events.max(1),
        ..DriftConfig::default()
    }
}

/// The drift of the rows `run` (already through `pipeline`) against
/// `profile`.
pub fn drift_run(pipeline: &Pipeline, name: &str, profile: Profile, run: &FileRun) -> DriftReport {
    let monitor = DriftMonitor::new(name, OFFLINE_VERSION, profile, whole_file(run.scores.len()));
    let decisions: Vec<&str> = run
        .scores
        .iter()
        .map(|&s| pipeline.spec.decision.decide(s).name())
        .collect();
    // Every event at one instant: the window's age never drops one.
    monitor.observe(0, &run.rows, &run.scores, &decisions);
    monitor.report(0)
}

/// The drift of the events in `current` against `profile`.
pub fn drift_file(
    pipeline: &Pipeline,
    name: &str,
    profile: Profile,
    current: &Path,
) -> Result<DriftReport> {
    let run = pipeline_run::run_file(pipeline, current)?;
    Ok(drift_run(pipeline, name, profile, &run))
}

/// The report as pretty JSON, with a final newline.
pub fn to_json(report: &DriftReport) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(report)
        .expect("a drift report serializes: numbers, names and counts");
    json.push(b'\n');
    json
}

/// The features and then the score, most drifted first (by PSI; a
/// distribution without one last), ties in the profile's order.
pub fn most_drifted_first(report: &DriftReport) -> Vec<&DistributionDrift> {
    let mut all: Vec<&DistributionDrift> = report.features.iter().chain([&report.score]).collect();
    all.sort_by(|a, b| {
        let key = |d: &DistributionDrift| d.psi.unwrap_or(f64::NEG_INFINITY);
        key(b).total_cmp(&key(a))
    });
    all
}

/// One line per distribution in the `act` state, most drifted first:
/// `drift: amount is act (PSI 1.2345 >= 0.25)`.
pub fn act_lines(report: &DriftReport) -> Vec<String> {
    most_drifted_first(report)
        .into_iter()
        .filter(|d| d.state == State::Act)
        .map(|d| {
            let js = d
                .jensen_shannon
                .map(|v| format!(", Jensen-Shannon {v:.4}"))
                .unwrap_or_default();
            format!(
                "drift: {} is act (PSI {:.4} >= {}{js})",
                d.name,
                d.psi.unwrap_or(f64::NAN),
                report.config.act
            )
        })
        .collect()
}

/// One line for the whole comparison: how many distributions are in each
/// state, over how many events.
pub fn summary_line(report: &DriftReport, reference_rows: u64) -> String {
    let all = most_drifted_first(report);
    let count = |state: State| all.iter().filter(|d| d.state == state).count();
    format!(
        "compared {} events with the reference's {reference_rows} rows: {} act, {} moderate, {} stable{}",
        report.window_events,
        count(State::Act),
        count(State::Moderate),
        count(State::Stable),
        match count(State::Collecting) {
            0 => String::new(),
            n => format!(", {n} without events"),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgescore_drift::{Kind, ProfileBuilder};

    fn report(shift: f64) -> DriftReport {
        let mut builder = ProfileBuilder::new(
            vec![
                ("amount".into(), Kind::Numeric),
                ("hour".into(), Kind::Numeric),
            ],
            10,
        );
        for i in 0..1000 {
            builder.add(&[f64::from(i), f64::from(i % 24)], 0.1, "allow");
        }
        let profile = builder.finish("fraud", "t 1", "00");
        let monitor = DriftMonitor::new("fraud", OFFLINE_VERSION, profile, whole_file(1000));
        let rows: Vec<f64> = (0..1000)
            .flat_map(|i| [f64::from(i) * shift, f64::from(i % 24)])
            .collect();
        monitor.observe(0, &rows, &[0.1; 1000], &["allow"; 1000]);
        monitor.report(0)
    }

    #[test]
    fn the_reference_itself_does_not_drift() {
        let report = report(1.0);
        assert_eq!(report.window_events, 1000);
        for d in report.features.iter().chain([&report.score]) {
            assert_eq!(d.psi, Some(0.0), "{}", d.name);
            assert_eq!(d.state, State::Stable, "{}", d.name);
        }
        assert!(act_lines(&report).is_empty());
    }

    #[test]
    fn the_most_drifted_come_first_and_act_is_named() {
        let report = report(3.0);
        let order: Vec<&str> = most_drifted_first(&report)
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(order[0], "amount");
        let lines = act_lines(&report);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("drift: amount is act (PSI "),
            "{lines:?}"
        );
        assert!(summary_line(&report, 1000).contains("1 act, 0 moderate, 2 stable"));
    }

    #[test]
    fn a_profile_is_told_from_events_by_name_or_content() {
        let dir = tempfile::tempdir().expect("tmp");
        let json = dir.path().join("reference");
        std::fs::write(&json, " \n{\"format\": 1}").expect("write");
        let csv = dir.path().join("train.csv");
        std::fs::write(&csv, "timestamp,amount\n").expect("write");
        assert!(is_profile(&json).expect("readable"));
        assert!(!is_profile(&csv).expect("readable"));
        assert!(is_profile(&dir.path().join("missing.json")).expect("by name"));
        let missing = is_profile(&dir.path().join("missing.csv")).expect_err("missing");
        assert!(missing.to_string().contains("missing.csv"), "{missing}");
    }
}
