//! `edgescore profile` (a pipeline's reference profile from its training
//! data) and `edgescore drift` (a file against a reference, as JSON or an
//! HTML page with plots); the work is in `edgescore_offline::{profile,
//! drift, drift_page}`.

use std::io::Write;
use std::path::PathBuf;

use edgescore_offline::{drift, drift_page, pipeline_run, profile};

use crate::cli::deadline_ms;
use crate::offline_commands::engine;

#[derive(Debug, clap::Args)]
pub(crate) struct ProfileArgs {
    /// The pipeline: a folder with pipeline.toml (or that file).
    #[arg(long, value_name = "DIR")]
    pub(crate) pipeline: PathBuf,

    /// The training events: a CSV with a header, or Parquet (a .parquet or .pq name).
    #[arg(long, value_name = "CSV|PARQUET")]
    pub(crate) input: PathBuf,

    /// Where to write the profile (JSON), whole or not at all.
    #[arg(long, value_name = "JSON")]
    pub(crate) output: PathBuf,

    /// Reference-quantile bins per numeric feature and for the score.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) bins: u16,

    /// How long one call into a component may run, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = deadline_ms)]
    pub(crate) deadline_ms: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DriftArgs {
    /// The pipeline: a folder with pipeline.toml (or that file).
    #[arg(long, value_name = "DIR")]
    pub(crate) pipeline: PathBuf,

    /// The reference: a profile (JSON, from `edgescore profile`, made for
    /// this pipeline's features and model), or training events to profile.
    #[arg(long, value_name = "JSON|CSV|PARQUET")]
    pub(crate) reference: PathBuf,

    /// The events to compare with it: a CSV with a header, or Parquet.
    #[arg(long, value_name = "CSV|PARQUET")]
    pub(crate) current: PathBuf,

    /// The report: `json` or `html` (needs --output). Default: `html` for
    /// an --output named .html, `json` otherwise.
    #[arg(long, value_enum)]
    pub(crate) report: Option<ReportFormat>,

    /// Where to write the report (default: standard output, JSON only).
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// With training events as --reference: their bins, as `profile --bins`.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) bins: u16,

    /// How long one call into a component may run, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = deadline_ms)]
    pub(crate) deadline_ms: u64,
}

/// The format of `edgescore drift`'s report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    Json,
    Html,
}

pub(crate) fn profile(args: ProfileArgs) -> anyhow::Result<()> {
    edgescore_runtime::atomic_file::refuse_input_as_output(&args.output, [args.input.as_path()])?;
    let engine = engine(args.deadline_ms)?;
    let pipeline = pipeline_run::load(&engine, &args.pipeline)?;
    let name = pipeline_run::pipeline_name(&args.pipeline);
    let profile = profile::profile_file(&pipeline, &name, &args.input, args.bins.into())?;
    profile::write_profile(&profile, &args.output)?;
    eprint!("{}", profile::summary(&profile));
    eprintln!("wrote {}", args.output.display());
    Ok(())
}

pub(crate) fn drift(args: DriftArgs) -> anyhow::Result<()> {
    let html_name = args
        .output
        .as_ref()
        .and_then(|p| p.extension())
        .is_some_and(|e| e == "html" || e == "htm");
    let format = match args.report {
        Some(format) => format,
        None if html_name => ReportFormat::Html,
        None => ReportFormat::Json,
    };
    if format == ReportFormat::Html && args.output.is_none() {
        anyhow::bail!("--report html needs --output FILE: the page is not written to the terminal");
    }
    if let Some(output) = &args.output {
        let inputs = [args.reference.as_path(), args.current.as_path()];
        edgescore_runtime::atomic_file::refuse_input_as_output(output, inputs)?;
    }
    let engine = engine(args.deadline_ms)?;
    let found = drift::compare(
        &engine,
        &args.pipeline,
        &args.reference,
        &args.current,
        args.bins.into(),
    )?;
    let report = &found.report;
    let bytes = match format {
        ReportFormat::Json => drift::to_json(report),
        ReportFormat::Html => {
            let sources = drift_page::Sources {
                reference: &args.reference.display().to_string(),
                current: &args.current.display().to_string(),
            };
            drift_page::page(report, sources)?.into_bytes()
        }
    };
    match &args.output {
        Some(path) => edgescore_runtime::atomic_file::write_atomically(path, &bytes)?,
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    for line in drift::act_lines(report) {
        eprintln!("{line}");
    }
    let wrote = args
        .output
        .map(|p| format!("; wrote {}", p.display()))
        .unwrap_or_default();
    eprintln!(
        "{}{wrote}",
        drift::summary_line(report, found.reference_rows)
    );
    Ok(())
}
