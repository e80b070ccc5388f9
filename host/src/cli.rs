//! The command line: `edgescore <command> [options]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use edgescore_models::Format;

/// edgescore: score fraud models (XGBoost, LightGBM, linear) exactly as the
/// library that trained them does, natively and, in later releases, inside
/// sandboxed WebAssembly components at the edge.
#[derive(Debug, Parser)]
#[command(name = "edgescore", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Score every row of a CSV file with a model.
    ///
    /// The input CSV has a header line. When the model names its features
    /// (XGBoost with feature_names, LightGBM, linear with feature_names),
    /// columns are matched by name in any order; otherwise by position. An
    /// empty cell or `NaN` is a missing value; every other cell must be a
    /// finite number and is read as the nearest float32, the type every
    /// edgescore path scores in. Blank lines are skipped.
    ///
    /// The output is a CSV with the header `score` (or `raw` with --raw) and
    /// one value per input row, printed as the shortest decimal that reads
    /// back to the same number.
    #[command(verbatim_doc_comment)]
    Score(ScoreArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScoreArgs {
    /// The model file: XGBoost JSON, LightGBM text, edgescore linear JSON or
    /// an edgescore compact model.
    #[arg(long, value_name = "FILE")]
    pub(crate) model: PathBuf,

    /// The input CSV (header line, one row per example); `-` reads standard input.
    #[arg(long, value_name = "CSV")]
    pub(crate) input: PathBuf,

    /// Where to write the scores; standard output when absent. The file is
    /// replaced only after every row has been scored.
    #[arg(long, value_name = "CSV")]
    pub(crate) output: Option<PathBuf>,

    /// The model format, when detection from the file's content is not wanted.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub(crate) format: Option<Format>,

    /// Write the raw margin (XGBoost output_margin, LightGBM raw_score, the
    /// linear predictor) instead of the score.
    #[arg(long)]
    pub(crate) raw: bool,

    /// Skip input columns that are not features of the model instead of
    /// refusing the file (useful for id or label columns).
    #[arg(long)]
    pub(crate) ignore_extra_columns: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}
