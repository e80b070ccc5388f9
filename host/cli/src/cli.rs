//! The command line: `edgescore <command> [options]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use edgescore_models::Format;

use crate::serve_args::ServeArgs;

/// edgescore: score fraud models (XGBoost, LightGBM, linear) exactly as the
/// library that trained them does, natively and inside sandboxed
/// WebAssembly components served at the edge, with feature transforms and
/// hot-swapped versions.
#[derive(Debug, Parser)]
#[command(name = "edgescore", version)]
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
    /// empty cell or `NaN` is a missing value; `inf` and `-inf` are
    /// infinities; every other cell must be a number, read as the nearest
    /// float64 (as pandas reads it); each model then narrows it as its
    /// library does (XGBoost to float32, LightGBM and linear models keep
    /// float64). Blank lines are skipped.
    ///
    /// With --component the rows are scored inside the sandbox in calls
    /// sized so that each finishes well inside the call deadline (a call
    /// that still runs over is split, down to one row); only a single row
    /// that cannot finish in time is an error, naming the row.
    ///
    /// The output is a CSV with the header `score` (or `raw` with --raw) and
    /// one value per input row, printed as the shortest decimal that reads
    /// back to the same number; or, for an --output named .parquet or .pq,
    /// Parquet with one nullable double column `score` (or `raw`).
    #[command(verbatim_doc_comment)]
    Score(ScoreArgs),

    /// Build a self-contained component: a scorer from a model file, or a
    /// feature transform from a TOML spec.
    ///
    /// With --model: the component embeds the model (already parsed, so
    /// instances start without parsing), a manifest (name, version, kind,
    /// features, SHA-256 of the model file, edgescore version) and golden
    /// vectors: sample rows with the scores the native model gave them,
    /// which the component is checked against before it is written. It
    /// imports nothing, so it runs with no capability at all.
    ///
    /// With --transform: the spec (inputs, entities, features; see the
    /// README's "Transforms") is checked, then compiled into a transform
    /// component that imports only the feature store. A mistake (an unknown
    /// field, a bad window, a type mismatch) is refused with the line and
    /// the reason. Name and version come from the spec.
    ///
    /// No Rust toolchain is needed for either.
    #[command(verbatim_doc_comment)]
    Build(BuildArgs),

    /// Show what a component is (a model or a transform), its manifest or
    /// the transform's inputs and outputs, imports, exports, size and hashes.
    Inspect(InspectArgs),

    /// Serve a registry of components over HTTP, with hot swap.
    ///
    /// The registry is a folder: <DIR>/<model>/<version>/model.wasm, versions
    /// positive integers. The highest valid version of each model serves; a
    /// new version is validated first (it must compile, instantiate and
    /// reproduce its golden vectors) and swapped in atomically, without
    /// dropping a request. Changes on disk are picked up from file-system
    /// events, with polling as the fallback; write a new version under
    /// another name and rename it to model.wasm.
    ///
    /// Rollout per model: a primary, a canary taking a percentage (split on
    /// the request's "key"), a shadow scored off the response path; set in
    /// <DIR>/<model>/routing.toml or through /admin/models/<m>/routing, with
    /// /promote and /rollback. A canary that fails too often is rolled back
    /// automatically.
    ///
    /// Backends and dynamic batching, per model, in the --config file:
    ///   [models.fraud]
    ///   backend = "native"        # "component" (default), "native" or "gpu"
    ///   max_batch_rows = 64       # group concurrent requests (0: off)
    ///   max_queue_delay_us = 200  # the oldest request waits at most this long
    /// "native" and "gpu" score the component's own model outside the sandbox
    /// (trusted models only), after checking its golden vectors there.
    ///
    /// With no --registry, serves the bundled demo fraud model and prints a
    /// curl line that scores a transaction.
    ///
    /// Routes: Open Inference Protocol v2 (/v2/health/live, /v2/health/ready,
    /// /v2, /v2/models/<m>[/versions/<v>][/ready|/infer], the repository API
    /// /v2/repository/...), JSON scoring with named features
    /// (POST /v1/models/<m>/score), pipelines (POST /v1/pipelines/<p>/score),
    /// GET /metrics (Prometheus), and the demo page at /demo/ (the bundled
    /// fraud pipeline scored in the browser and by this server, side by side;
    /// embedded, it works offline). Routes that
    /// change what serves need `Authorization: Bearer <admin token>`.
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),

    /// Score transactions from Kafka with a pipeline, effectively once.
    ///
    /// A consumer in a group reads JSON transactions (the fields of
    /// POST /v1/pipelines/<p>/score, plus an id) and runs each through the
    /// very pipeline `serve` runs: a pipeline folder, or a registry's
    /// pipeline hot-swapped while streaming. Review and block alerts go to
    /// --alerts-topic (keyed by card), the alert log and --alert-webhook;
    /// every scored transaction to --table (Parquet, date=YYYY-MM-DD/);
    /// malformed messages to the dead-letter topic with the reason.
    ///
    /// Offsets are committed only after every sink holds the batch, and
    /// each sink skips what it already holds, so a crash and restart write
    /// nothing twice and lose nothing. Feature windows survive a restart:
    /// in Redis (journalled per batch) or in the embedded store (snapshots
    /// in --state-dir plus a replay of the stream since).
    ///
    /// Example:
    ///   edgescore stream --brokers 127.0.0.1:9092 --topic transactions \
    ///     --group fraud --pipeline examples/fraud --alerts-topic alerts \
    ///     --table scored/ --state-dir state/ --metrics-listen 127.0.0.1:9100
    #[command(verbatim_doc_comment)]
    Stream(Box<crate::stream_command::StreamArgs>),

    /// Run a pipeline's transform over a historical file of raw events.
    ///
    /// The very transform component the pipeline serves turns each event
    /// (a CSV or Parquet row; columns matched to the transform's inputs by
    /// name) into the model's feature row. Events are replayed in
    /// event-time order against a fresh feature store, so every windowed
    /// feature (counts, sums, time since last) is what it was, or would
    /// have been, online: train on this output and there is no
    /// training-serving skew.
    ///
    /// The output has the input's other columns (ids, labels) and then one
    /// column per feature, one row per event in time order; a missing value
    /// is an empty cell (CSV) or a null (Parquet, features as float). It
    /// appears only once complete. Files named .parquet or .pq are Parquet,
    /// anything else CSV. Feed the output to
    /// `edgescore score --component <model.wasm> --ignore-extra-columns`.
    #[command(verbatim_doc_comment)]
    Transform(TransformArgs),

    /// Evaluate a pipeline on a labeled file of raw events.
    ///
    /// Replays the events through the pipeline (transform, then model) and
    /// prints the confusion matrix at the pipeline's review and block
    /// thresholds, precision, recall, F1, ROC-AUC and PR-AUC (average
    /// precision). Accuracy is not reported: at fraud's imbalance it says
    /// nothing. Writes roc, precision_recall and score_distribution, each
    /// as .png and .svg, to --plots.
    #[command(verbatim_doc_comment)]
    Eval(EvalArgs),

    /// Profile a pipeline's training data: the reference drift is judged against.
    ///
    /// Replays the events as `eval` does (the pipeline's own transform and
    /// model) and writes JSON: per feature its reference-quantile bins
    /// (--bins) or its categories, with the count in each, the same for
    /// the score, and the decision counts, bound to the pipeline's
    /// features and model file. Deployed as profile.json beside
    /// pipeline.toml, `serve` and `stream` watch drift against it.
    #[command(verbatim_doc_comment)]
    Profile(crate::drift_commands::ProfileArgs),

    /// Compare a file of events with a pipeline's reference profile.
    ///
    /// Replays --current through the pipeline and reports, per feature and
    /// for the score, the PSI against the reference (and the Jensen-Shannon
    /// distance for categorical features) and its state: stable under 0.1,
    /// moderate from 0.1, act from 0.25. --reference is a profile (from
    /// `edgescore profile`) or training events, profiled on the spot. The
    /// report is JSON (on standard output without --output) or a
    /// self-contained HTML page with a chart per distribution (--report
    /// html, or an --output named .html). Drift is a finding, not an error:
    /// the exit status is 0, and each distribution in `act` gets a line on
    /// standard error.
    #[command(verbatim_doc_comment)]
    Drift(crate::drift_commands::DriftArgs),

    /// Measure scoring speed: rows per second and single-row latency.
    ///
    /// The input's rows (CSV, or Parquet by its name; checked to score
    /// first) are repeated up to --rows and scored in calls of --batch rows
    /// by --threads workers: one untimed warm-up pass, then three timed
    /// passes, whose median gives rows/s. Single-row latency (p50, p99) is
    /// timed call by call over --single-row-calls calls on one thread,
    /// cycling over the input's first 1,024 rows (in cache, as a request's
    /// freshly parsed row is).
    ///
    /// --model takes a model file (scored by the native model core) or a
    /// component built by `edgescore build` (scored inside the sandbox,
    /// under the usual call deadline and memory cap). With --json the last
    /// line is one JSON object: backend, threads, rows, batch, features,
    /// input_rows, rows_per_s, pass_seconds, single_row_calls,
    /// single_row_p50_us, single_row_p99_us.
    ///
    /// Scores are the same bits on every thread count. Measure on a quiet
    /// machine: other work on its cores shows up in the figures.
    #[command(verbatim_doc_comment)]
    Bench(BenchArgs),

    /// Write the demo page as a static site.
    ///
    /// The page `edgescore serve` shows at /demo/: the fraud pipeline's
    /// transactions scored in the browser by the `edgescore` npm package
    /// (WebAssembly, built from this very source), with the transform, the
    /// feature windows, the model and the decision rules the server runs.
    /// Served by `edgescore serve`, the page also sends each transaction to
    /// the server and shows both answers side by side; as a static site it
    /// scores in the page only. Serve the folder with any static file
    /// server (the wasm needs the application/wasm content type); nothing
    /// is fetched from another site.
    #[command(verbatim_doc_comment)]
    Demo(DemoArgs),

    /// Make a signing key: <PREFIX>.key (secret, mode 0600) and <PREFIX>.pub.
    ///
    /// The key is Ed25519, named by --id. The .pub is a trust file by
    /// itself (one [[key]] table: id and public_key): give it to
    /// `edgescore verify --trust` or `serve --trust`, or paste its table
    /// into a shared trust file, where not_before, not_after, revoked and
    /// revoked_reason can be added. Existing files are never overwritten.
    #[command(verbatim_doc_comment)]
    Keygen(crate::trust_commands::KeygenArgs),

    /// Sign model or pipeline versions (folders) or single files.
    ///
    /// A folder's signature is <DIR>/model.sig and covers every file in it
    /// (recursively; symbolic links are refused); a file's is <FILE>.sig.
    /// The signature is a Sigstore bundle whose DSSE envelope signs an
    /// in-toto statement of the files and their SHA-256 (the OpenSSF Model
    /// Signing layout). Signing an artifact that is already signed adds a
    /// signature (several keys may sign); if its files changed since, the
    /// old signatures are void and replaced. --embed puts the bundle in a
    /// custom section of the .wasm instead (it still loads everywhere).
    #[command(verbatim_doc_comment)]
    Sign(crate::trust_commands::SignArgs),

    /// Check artifacts' signatures against trust files, as `serve` does.
    ///
    /// An artifact is accepted when its files are exactly those signed and
    /// at least one signature is by a key of the trust files that is not
    /// revoked and within its not_before/not_after now. Prints, per
    /// artifact, the keys that signed it and the SHA-256 of the signed
    /// statement; otherwise says why (unsigned, untrusted, revoked or
    /// expired key, bad signature, a changed, added or missing file,
    /// malformed) and exits with status 1.
    #[command(verbatim_doc_comment)]
    Verify(crate::trust_commands::VerifyArgs),

    /// The audit log that `serve` keeps (audit_log): check its hash chain.
    Audit(crate::trust_commands::AuditArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// The folder to write the site into (created when missing; the site's
    /// files in it are replaced).
    #[arg(long, value_name = "DIR")]
    pub(crate) output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// The model file (XGBoost JSON, LightGBM text, ONNX, edgescore linear
    /// JSON or compact), or a component (.wasm) built by `edgescore build`.
    #[arg(long, value_name = "FILE|WASM")]
    pub(crate) model: PathBuf,

    /// Rows to score: a CSV with a header, or Parquet (a .parquet or .pq name).
    #[arg(long, value_name = "CSV|PARQUET")]
    pub(crate) input: PathBuf,

    /// Rows per timed pass: the input's rows repeated up to this count.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub(crate) rows: u64,

    /// Threads scoring each pass (default: every core).
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub(crate) threads: Option<u64>,

    /// What scores: `native` (the model core), `component` (the sandbox) or
    /// `gpu`. Default: `component` for a .wasm, `native` otherwise.
    #[arg(long, value_enum)]
    pub(crate) backend: Option<Backend>,

    /// Rows per scoring call (default: a pass's rows at once, split evenly
    /// between the threads).
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) batch: Option<u64>,

    /// The native tree walk: `auto` (the fastest this CPU runs), `avx512`,
    /// `avx2` or `portable`, to compare them (the scores are the same bits).
    #[arg(long, value_enum, default_value_t = Walk::Auto)]
    pub(crate) simd: Walk,

    /// Single-row calls timed for the latency percentiles.
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub(crate) single_row_calls: u64,

    /// The model format, when detection from the file's content is not wanted.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub(crate) format: Option<Format>,

    /// Print one JSON object as the last line.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The native tree walk `edgescore bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Walk {
    Auto,
    Avx512,
    Avx2,
    Portable,
}

/// Where `edgescore bench` scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Backend {
    /// The native model core.
    Native,
    /// A component in the sandbox.
    Component,
    /// The GPU: a wgpu compute shader on the best Vulkan device present
    /// (XGBoost and LightGBM trees without categorical splits).
    Gpu,
}

#[derive(Debug, clap::Args)]
pub(crate) struct TransformArgs {
    /// The pipeline: a folder with pipeline.toml (or that file).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "transform",
        conflicts_with = "transform"
    )]
    pub(crate) pipeline: Option<PathBuf>,

    /// A transform component instead of a pipeline.
    #[arg(long, value_name = "WASM")]
    pub(crate) transform: Option<PathBuf>,

    /// The raw events: a CSV with a header, or Parquet (a .parquet or .pq name).
    #[arg(long, value_name = "CSV|PARQUET")]
    pub(crate) input: PathBuf,

    /// Where to write the feature rows: CSV, or Parquet for a .parquet or .pq name.
    #[arg(long, value_name = "CSV|PARQUET")]
    pub(crate) output: PathBuf,

    /// How long one call into a component may run, in milliseconds. The
    /// events and rows go in calls sized to finish well inside it.
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = deadline_ms)]
    pub(crate) deadline_ms: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct EvalArgs {
    /// The pipeline: a folder with pipeline.toml (or that file).
    #[arg(long, value_name = "DIR")]
    pub(crate) pipeline: PathBuf,

    /// The labeled raw events: a CSV with a header, or Parquet (a .parquet or .pq name).
    #[arg(long, value_name = "CSV|PARQUET")]
    pub(crate) input: PathBuf,

    /// The label column: 1 (or true) for fraud, 0 (or false) otherwise.
    #[arg(long, value_name = "COLUMN")]
    pub(crate) label: String,

    /// The folder the plots (PNG and SVG) are written to (created if needed).
    #[arg(long, value_name = "DIR", default_value = "eval-plots")]
    pub(crate) plots: PathBuf,

    /// Also write every event's score and label (CSV, time order).
    #[arg(long, value_name = "CSV")]
    pub(crate) scores: Option<PathBuf>,

    /// How long one call into a component may run, in milliseconds. The
    /// events and rows go in calls sized to finish well inside it.
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = deadline_ms)]
    pub(crate) deadline_ms: u64,
}

/// How `serve` and `stream` log: readable lines or JSON objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    /// The model file (XGBoost JSON, LightGBM text, ONNX, edgescore linear JSON or compact).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "transform",
        conflicts_with = "transform",
        requires_all = ["name", "version"]
    )]
    pub(crate) model: Option<PathBuf>,

    /// A transform spec (TOML) to compile instead of a model.
    #[arg(long, value_name = "SPEC")]
    pub(crate) transform: Option<PathBuf>,

    /// The model format, when detection from the file's content is not wanted.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format, conflicts_with = "transform")]
    pub(crate) format: Option<Format>,

    /// The deployment name (letters, digits, '.', '_', '-'). With --model.
    #[arg(long, conflicts_with = "transform")]
    pub(crate) name: Option<String>,

    /// The deployment version: a positive whole number without leading
    /// zeros (1, 2, 10), as registry version folders are named. With --model.
    #[arg(long, conflicts_with = "transform")]
    pub(crate) version: Option<String>,

    /// Where to write the component (.wasm). Written only once it is verified.
    #[arg(long, value_name = "WASM")]
    pub(crate) output: PathBuf,

    /// With --model: the call deadline, in milliseconds, the component's
    /// golden rows are checked under. Serve it with at least this.
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = deadline_ms, conflicts_with = "transform")]
    pub(crate) deadline_ms: u64,

    /// With --model: the memory cap, in MiB, the component is checked
    /// under (a large forest's image can need more than the default).
    /// Serve it with at least this (`memory_mib` in the serve config).
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 64,
        conflicts_with = "transform"
    )]
    pub(crate) memory_mib: usize,
}

#[derive(Debug, clap::Args)]
pub(crate) struct InspectArgs {
    /// The component to describe.
    #[arg(value_name = "WASM")]
    pub(crate) component: PathBuf,

    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ScoreArgs {
    /// The model file: XGBoost JSON, LightGBM text, ONNX, edgescore linear
    /// JSON or an edgescore compact model. Scores natively.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "component",
        conflicts_with = "component"
    )]
    pub(crate) model: Option<PathBuf>,

    /// A model component built by `edgescore build --model`. Scores inside
    /// the sandbox, under the call deadline and memory cap.
    #[arg(long, value_name = "WASM")]
    pub(crate) component: Option<PathBuf>,

    /// The input CSV (header line, one row per example; `-` reads standard
    /// input), or a Parquet file (a .parquet or .pq name; read whole).
    #[arg(long, value_name = "CSV|PARQUET")]
    pub(crate) input: PathBuf,

    /// Where to write the scores: CSV, or Parquet (one nullable double
    /// column) for a .parquet or .pq name; CSV on standard output when
    /// absent. The file is replaced only after every row has been scored.
    #[arg(long, value_name = "CSV|PARQUET")]
    pub(crate) output: Option<PathBuf>,

    /// The model format, when detection from the file's content is not wanted.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub(crate) format: Option<Format>,

    /// Write the raw margin (XGBoost output_margin, LightGBM raw_score, the
    /// linear predictor) instead of the score. Only with --model.
    #[arg(long, conflicts_with = "component")]
    pub(crate) raw: bool,

    /// With --model: threads each batch of rows is split across (default:
    /// every core). The scores are the same bits on any count.
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u64).range(1..=1024), conflicts_with = "gpu")]
    pub(crate) threads: Option<u64>,

    /// With --model: score on the GPU backend (a wgpu compute shader on
    /// the best Vulkan device present), the same bits as natively. XGBoost
    /// and LightGBM trees without categorical splits run there (LightGBM on
    /// a device with 64-bit floats); other models are refused.
    #[arg(long, conflicts_with = "component")]
    pub(crate) gpu: bool,

    /// With --component: how long one call into the component may run, in
    /// milliseconds (rows go in calls sized to finish well inside it).
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = deadline_ms)]
    pub(crate) deadline_ms: u64,

    /// With --component: the most memory one instance may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub(crate) memory_mib: usize,

    /// With --component: where compiled components are cached (default
    /// $XDG_CACHE_HOME/edgescore/compiled or ~/.cache/edgescore/compiled).
    #[arg(long, value_name = "DIR")]
    pub(crate) cache_dir: Option<PathBuf>,

    /// With --component: the most the compiled-component cache may hold, in
    /// MiB; beyond it the least recently used entries are removed (default
    /// 1024, or $EDGESCORE_CACHE_MAX_MIB).
    #[arg(long, value_name = "MIB", conflicts_with = "no_cache")]
    pub(crate) cache_max_mib: Option<u64>,

    /// With --component: compile every time, neither reading nor writing the cache.
    #[arg(long, conflicts_with = "cache_dir")]
    pub(crate) no_cache: bool,

    /// Skip input columns that are not features of the model instead of
    /// refusing the file (useful for id or label columns).
    #[arg(long)]
    pub(crate) ignore_extra_columns: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// A call deadline: 1 ms to 10 minutes.
pub(crate) fn deadline_ms(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(ms @ 1..=600_000) => Ok(ms),
        _ => Err(format!(
            "'{s}' is not a deadline: give whole milliseconds from 1 to 600000"
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own consistency checks over every subcommand and argument.
    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
