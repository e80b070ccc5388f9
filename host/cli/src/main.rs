//! The `edgescore` binary. Parses the command line, runs the command, and
//! turns any error into one line on standard error and exit status 1.

mod bench_command;
mod cli;
mod drift_commands;
mod inspect;
mod offline_commands;
mod serve_args;
mod stream_command;
mod trust_commands;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use edgescore_offline::bench::all_cores;
use edgescore_offline::csv_rows::CsvOptions;
use edgescore_offline::row_scorer::RowScorer;
use edgescore_offline::score_csv::{ScoreOptions, score_csv};
use edgescore_runtime::compiled_cache::{CacheOutcome, CompiledCache};
use edgescore_runtime::component_build::{BuildRequest, build_component_under, build_transform};
use edgescore_runtime::component_info::{ComponentInfo, ComponentKind};
use edgescore_runtime::component_scorer::ScorerComponent;
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::limits::Limits;

use crate::cli::{BuildArgs, Cli, Command, LogFormat, ScoreArgs};
use crate::serve_args::ServeArgs;

/// jemalloc, not the system's malloc: a server that hot-swaps versions and
/// turns its feature store over runs for weeks, and under glibc's malloc
/// its RSS crept while its live heap stayed flat. In the 10-minute soak
/// (`scripts/soak.py`) glibc's arenas grew 22 MiB over the last 8 minutes
/// with the live heap within 1 MB (heaptrack; `malloc_stats`), and even a
/// `malloc_trim` every 10 s left +8.6 %; jemalloc held RSS flat and lower
/// (BENCHMARKS.md, "Soak").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Score(args) => score(args),
        Command::Build(args) => build(args),
        Command::Inspect(args) => inspect::run(&args.component, args.json),
        Command::Serve(args) => serve(args),
        Command::Transform(args) => offline_commands::transform(args),
        Command::Eval(args) => offline_commands::eval(args),
        Command::Profile(args) => drift_commands::profile(args),
        Command::Drift(args) => drift_commands::drift(args),
        Command::Bench(args) => bench_command::bench(args),
        Command::Demo(args) => demo_site(&args.output),
        Command::Stream(args) => stream_command::stream(*args),
        Command::Keygen(args) => trust_commands::keygen(args),
        Command::Sign(args) => trust_commands::sign(args),
        Command::Verify(args) => trust_commands::verify(args),
        Command::Audit(args) => trust_commands::audit(args),
    }
}

/// Writes the demo page's files under `output`, as a static site.
fn demo_site(output: &Path) -> anyhow::Result<()> {
    let files = edgescore_serve::demo_page::site_files(None);
    for (path, bytes) in &files {
        let file = output.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        edgescore_runtime::atomic_file::write_atomically(&file, bytes)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    eprintln!(
        "wrote the demo site ({} files) to {}: serve it with any static file server and open index.html",
        files.len(),
        output.display()
    );
    Ok(())
}

fn score(args: ScoreArgs) -> anyhow::Result<()> {
    if let Some(output) = &args.output {
        let inputs = [
            Some(args.input.as_path()),
            args.model.as_deref(),
            args.component.as_deref(),
        ];
        edgescore_runtime::atomic_file::refuse_input_as_output(
            output,
            inputs.into_iter().flatten(),
        )?;
    }
    let options = ScoreOptions {
        csv: CsvOptions {
            ignore_extra_columns: args.ignore_extra_columns,
        },
    };
    // The engine outlives the scorer; its epoch thread stops when it drops.
    let engine;
    let (mut scorer, source) = match (&args.model, &args.component) {
        (Some(path), _) => {
            let model = edgescore_runtime::model_file::load(path, args.format)?;
            let kind = model.kind().to_string();
            if args.raw && model.kind() == edgescore_models::ModelKind::Onnx {
                anyhow::bail!(
                    "--raw: an ONNX model's output is its score, with no separate margin; drop --raw (or score the model's XGBoost/LightGBM/linear source file for margins)"
                );
            }
            if args.gpu {
                let gpu = edgescore_gpu::GpuScorer::new(&model)?;
                eprintln!(
                    "scoring on {} [{}]",
                    gpu.adapter(),
                    gpu.adapter_kind().name()
                );
                (
                    RowScorer::Gpu {
                        gpu: Box::new(gpu),
                        raw: args.raw,
                    },
                    format!("{} ({kind}, GPU)", path.display()),
                )
            } else {
                (
                    RowScorer::Native {
                        model,
                        raw: args.raw,
                        threads: args.threads.map_or_else(all_cores, |t| t as usize),
                    },
                    format!("{} ({kind})", path.display()),
                )
            }
        }
        (None, Some(path)) => {
            let limits = Limits {
                call_deadline: std::time::Duration::from_millis(args.deadline_ms),
                memory_bytes: args.memory_mib << 20,
                ..Limits::default()
            };
            engine = ScoringEngine::new(limits)
                .map_err(|e| anyhow::anyhow!("cannot start the engine: {e:#}"))?;
            let cache = (!args.no_cache).then(|| {
                let cache = CompiledCache::new(
                    args.cache_dir
                        .clone()
                        .unwrap_or_else(CompiledCache::default_dir),
                );
                match args.cache_max_mib {
                    Some(mib) => cache.with_max_bytes(mib.saturating_mul(1 << 20)),
                    None => cache,
                }
            });
            let component = load_component(&engine, path, cache.as_ref())?;
            let scorer = RowScorer::component(component);
            (scorer, format!("{} (component)", path.display()))
        }
        (None, None) => anyhow::bail!("give --model or --component"),
    };
    let rows = score_csv(&mut scorer, &args.input, args.output.as_deref(), options)?;
    if let Some(path) = &args.output {
        eprintln!("scored {rows} rows with {source}; wrote {}", path.display());
    }
    Ok(())
}

pub(crate) fn load_component(
    engine: &ScoringEngine,
    path: &Path,
    cache: Option<&CompiledCache>,
) -> anyhow::Result<ScorerComponent> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read component {}: {e}", path.display()))?;
    if ComponentInfo::read(&bytes).is_ok_and(|info| info.kind == ComponentKind::Transform) {
        anyhow::bail!(
            "cannot score with {}: this is a transform component (built by `edgescore build --transform`), \
             not a model: use it in a pipeline, or with `edgescore transform --transform {}`",
            path.display(),
            path.display()
        );
    }
    let component =
        ScorerComponent::load(engine, &bytes, cache).and_then(|(component, outcome)| {
            if outcome == Some(CacheOutcome::Replaced) {
                eprintln!(
                    "note: the cached compilation of {} was unusable and has been replaced",
                    path.display()
                );
            }
            // The component proves it scores as built before it scores anything.
            component.verify_golden()?;
            Ok(component)
        });
    component.map_err(|source| {
        edgescore_offline::error::Error::LoadComponent {
            path: path.to_owned(),
            source,
        }
        .into()
    })
}

fn build(args: BuildArgs) -> anyhow::Result<()> {
    let inputs = args
        .model
        .iter()
        .chain(&args.transform)
        .map(|p| p.as_path());
    edgescore_runtime::atomic_file::refuse_input_as_output(&args.output, inputs)?;
    if let Some(spec) = &args.transform {
        let component = build_transform(spec)?;
        edgescore_runtime::atomic_file::write_atomically(&args.output, &component)?;
        eprintln!(
            "built transform {} ({} KiB); wrote {}",
            spec.display(),
            component.len() / 1024,
            args.output.display()
        );
        return Ok(());
    }
    let (Some(model), Some(name), Some(version)) = (&args.model, &args.name, &args.version) else {
        anyhow::bail!("give --model with --name and --version, or --transform");
    };
    let request = BuildRequest {
        model,
        format: args.format,
        name,
        version,
    };
    let limits = Limits {
        call_deadline: std::time::Duration::from_millis(args.deadline_ms),
        memory_bytes: args.memory_mib << 20,
        ..Limits::default()
    };
    let component = build_component_under(&request, &limits)?;
    edgescore_runtime::atomic_file::write_atomically(&args.output, &component)?;
    eprintln!(
        "built {name} {version} from {} ({} KiB); wrote {}",
        model.display(),
        component.len() / 1024,
        args.output.display()
    );
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    start_logging(args.log_format);
    let mut config = match &args.config {
        Some(path) => edgescore_serve::ServeConfig::from_file(path)?,
        None => edgescore_serve::ServeConfig::default(),
    };
    if let Some(registry) = args.registry {
        config.registry = Some(registry);
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(store) = args.feature_store {
        config.feature_store = store;
    }
    if let Some(path) = args.alert_log {
        config.alert_log = Some(path);
    }
    if let Some(path) = args.alert_webhook_ca {
        config.alert_webhook_ca = Some(path);
    }
    if !args.trust.is_empty() {
        config.trust = args.trust;
    }
    if let Some(path) = args.audit_log {
        config.audit_log = Some(path);
    }
    if let Some(url) = args.alert_webhook {
        config.alert_webhook = Some(url);
    }
    Ok(edgescore_serve::run(config)?)
}

/// Sends the server's log events (the `tracing` events of the library
/// crates) to standard error, as text or JSON lines, at level INFO and up.
pub(crate) fn start_logging(format: LogFormat) {
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = match format {
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
