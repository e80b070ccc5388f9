//! `edgescore bench`: loads the model or component, measures it with
//! [`edgescore_offline::bench`] and prints the figures (and, with --json,
//! one JSON object as the last line).

use std::io::Write;

use edgescore_offline::bench::{BenchConfig, BenchScorer, all_cores, read_rows, run};
use edgescore_runtime::compiled_cache::CompiledCache;
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::limits::Limits;

use crate::cli::{Backend, BenchArgs, Walk};
use edgescore_models::SimdWalk;

/// The first bytes of every WebAssembly binary.
const WASM_MAGIC: &[u8] = b"\0asm";

pub(crate) fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let path = &args.model;
    let head =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let is_component = head.starts_with(WASM_MAGIC);
    let backend = args.backend.unwrap_or(if is_component {
        Backend::Component
    } else {
        Backend::Native
    });
    match (backend, is_component) {
        (Backend::Native, true) => anyhow::bail!(
            "--backend native scores a model file, and {} is a component: use --backend component, or give the model file it was built from",
            path.display()
        ),
        (Backend::Component, false) => anyhow::bail!(
            "--backend component scores a component, and {} is a model file: build one with `edgescore build --model {} --name <NAME> --version 1 --output model.wasm`",
            path.display(),
            path.display()
        ),
        _ => {}
    }
    let config = BenchConfig {
        rows: args.rows as usize,
        batch: args.batch.map(|b| b as usize),
        threads: args.threads.map_or_else(all_cores, |t| t as usize),
        single_row_calls: args.single_row_calls as usize,
        ..BenchConfig::default()
    };
    let model;
    let engine;
    let component;
    let gpu;
    let (scorer, kind) = if backend == Backend::Gpu {
        // A component's own model (its artifact section), or the model file.
        let loaded = if is_component {
            edgescore_runtime::native_scorer::NativeScorer::load(&head)?
                .model()
                .clone()
        } else {
            edgescore_runtime::model_file::load(path, args.format)?
        };
        gpu = edgescore_gpu::GpuScorer::new(&loaded)?;
        let kind = gpu.model().kind().to_string();
        (BenchScorer::Gpu(&gpu), kind)
    } else if is_component {
        engine = ScoringEngine::new(Limits::default())
            .map_err(|e| anyhow::anyhow!("cannot start the engine: {e:#}"))?;
        let cache = CompiledCache::new(CompiledCache::default_dir());
        component = crate::load_component(&engine, path, Some(&cache))?;
        let kind = component.manifest().model_kind.clone();
        (BenchScorer::Component(&component), kind)
    } else {
        let loaded = edgescore_runtime::model_file::load(path, args.format)?;
        model = match args.simd {
            Walk::Auto => loaded,
            Walk::Portable => loaded.without_simd(),
            Walk::Avx512 | Walk::Avx2 => {
                let walk = if args.simd == Walk::Avx512 {
                    SimdWalk::Avx512
                } else {
                    SimdWalk::Avx2
                };
                let chosen = loaded.with_simd(Some(walk));
                if chosen.simd() != Some(walk.name()) {
                    anyhow::bail!(
                        "--simd {}: this CPU does not run it, or this model has no SIMD walk (XGBoost trees without categorical splits have one)",
                        walk.name()
                    );
                }
                chosen
            }
        };
        let kind = model.kind().to_string();
        (BenchScorer::Native(&model), kind)
    };
    let rows = read_rows(scorer, &args.input)?;
    eprintln!(
        "benchmarking {} ({kind}, {}) on {} rows, {} threads...",
        path.display(),
        scorer.backend(),
        config.rows,
        config.threads
    );
    let report = run(scorer, &rows, &config)?;
    let mut out = std::io::stdout().lock();
    let passes: Vec<String> = report
        .pass_seconds
        .iter()
        .map(|s| format!("{s:.4}"))
        .collect();
    writeln!(
        out,
        "model       {} ({kind}, {})",
        path.display(),
        report.backend
    )?;
    writeln!(
        out,
        "input       {}: {} rows of {} features, repeated to {}",
        args.input.display(),
        report.input_rows,
        report.features,
        report.rows
    )?;
    if let Some(adapter) = &report.adapter {
        writeln!(out, "adapter     {adapter}")?;
    }
    if let Some(rate) = report.gpu_resident_rows_per_s {
        writeln!(
            out,
            "gpu walk    {rate:.0} rows/s with the rows already on the device (no upload, conversion or read back)"
        )?;
    }
    writeln!(
        out,
        "threads     {}, calls of up to {} rows, {}",
        report.threads,
        report.batch,
        match (report.backend, report.simd) {
            ("gpu", _) => "GPU walk".to_owned(),
            (_, Some(simd)) => format!("{simd} walk"),
            (_, None) => "portable walk".to_owned(),
        }
    )?;
    writeln!(
        out,
        "throughput  {:.0} rows/s (median of {} passes: {} s)",
        report.rows_per_s,
        passes.len(),
        passes.join(", ")
    )?;
    writeln!(
        out,
        "single row  p50 {:.2} us, p99 {:.2} us ({} calls, one thread)",
        report.single_row_p50_us, report.single_row_p99_us, report.single_row_calls
    )?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    }
    Ok(())
}
