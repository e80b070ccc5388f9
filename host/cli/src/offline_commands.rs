//! The `transform` and `eval` commands (the work is in `edgescore_offline`).

use std::io::Write;

use anyhow::Context;
use edgescore_offline::csv_rows::quoted;
use edgescore_offline::eval::{Labeled, Report};
use edgescore_offline::pipeline_run;
use edgescore_offline::table::Cell;
use edgescore_offline::transform_file::Transformer;
use edgescore_offline::{plot, transform_file};
use edgescore_runtime::component_info::{ComponentInfo, ComponentKind};
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::limits::Limits;
use edgescore_runtime::transform_component::TransformComponent;

use crate::cli::{EvalArgs, TransformArgs};

/// The engine with the default limits and the given call deadline; files
/// go through it in calls sized to that deadline (`edgescore_runtime::call_budget`).
pub(crate) fn engine(deadline_ms: u64) -> anyhow::Result<ScoringEngine> {
    let limits = Limits {
        call_deadline: std::time::Duration::from_millis(deadline_ms),
        ..Limits::default()
    };
    ScoringEngine::new(limits).map_err(|e| anyhow::anyhow!("cannot start the engine: {e:#}"))
}

pub(crate) fn transform(args: TransformArgs) -> anyhow::Result<()> {
    // `transform_file` refuses the input itself; the component is read here.
    edgescore_runtime::atomic_file::refuse_input_as_output(
        &args.output,
        args.transform.as_deref(),
    )?;
    let engine = engine(args.deadline_ms)?;
    let started = std::time::Instant::now();
    let pipeline = match &args.pipeline {
        Some(path) => Some(pipeline_run::load(&engine, path)?),
        None => None,
    };
    let alone = match (&pipeline, &args.transform) {
        (Some(_), _) => None,
        (None, Some(path)) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the transform {}", path.display()))?;
            if ComponentInfo::read(&bytes).is_ok_and(|info| info.kind == ComponentKind::Scorer) {
                anyhow::bail!(
                    "cannot transform with {}: this is a model component (built by `edgescore build --model`), \
                     not a transform: score with it (`edgescore score --component {}`), or give the \
                     transform built by `edgescore build --transform`",
                    path.display(),
                    path.display()
                );
            }
            Some(
                TransformComponent::new(&engine, None, &bytes)
                    .with_context(|| format!("cannot load the transform {}", path.display()))?,
            )
        }
        (None, None) => anyhow::bail!("give --pipeline or --transform"),
    };
    let transformer = match (&pipeline, &alone) {
        (Some(pipeline), _) => Transformer::Pipeline(pipeline),
        (None, Some(transform)) => Transformer::Alone(transform),
        (None, None) => unreachable!("one of the two was loaded above"),
    };
    let events = transform_file::transform_file(transformer, &args.input, &args.output)?;
    let info = transformer.component().info();
    eprintln!(
        "transformed {events} events with {} {} in {:.1} s; wrote {}",
        info.name,
        info.version,
        started.elapsed().as_secs_f64(),
        args.output.display()
    );
    Ok(())
}

/// A label cell: 1/0 or true/false, as text, integer, number or boolean.
fn label_of(cell: &Cell) -> Option<bool> {
    match cell {
        Cell::Boolean(b) => Some(*b),
        Cell::Integer(1) => Some(true),
        Cell::Integer(0) => Some(false),
        Cell::Number(x) if *x == 1.0 => Some(true),
        Cell::Number(x) if *x == 0.0 => Some(false),
        Cell::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "1" | "true" => Some(true),
            "0" | "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn eval(args: EvalArgs) -> anyhow::Result<()> {
    if let Some(scores) = &args.scores {
        edgescore_runtime::atomic_file::refuse_input_as_output(scores, [args.input.as_path()])?;
    }
    let engine = engine(args.deadline_ms)?;
    let pipeline = pipeline_run::load(&engine, &args.pipeline)?;
    let (file, scores) = pipeline_run::score_file(&pipeline, &args.input)?;
    let Some(label_column) = file.other.header.iter().position(|h| *h == args.label) else {
        let mut columns: Vec<String> = file
            .other
            .header
            .iter()
            .take(10)
            .map(|h| quoted(h))
            .collect();
        if file.other.header.len() > columns.len() {
            columns.push(format!("{} more", file.other.header.len() - columns.len()));
        }
        anyhow::bail!(
            "{}: no column {} to take labels from; name one with --label (columns besides the transform's inputs: {})",
            args.input.display(),
            quoted(&args.label),
            columns.join(", ")
        );
    };
    let mut data = Vec::with_capacity(scores.len());
    for (row, (cells, &score)) in file.other.rows.iter().zip(&scores).enumerate() {
        let cell = &cells.cells[label_column];
        let Some(positive) = label_of(cell) else {
            anyhow::bail!(
                "{}: event {row} (in time order) has label {} in {}: use 1/0 or true/false",
                args.input.display(),
                quoted(&cell.to_text()),
                quoted(&args.label)
            );
        };
        data.push(Labeled { score, positive });
    }
    let report = Report::new(&data, pipeline.spec.decision);
    std::io::stdout().write_all(report.to_text().as_bytes())?;
    if let Some(warning) = report.warning() {
        eprintln!("warning: {warning}");
    }

    std::fs::create_dir_all(&args.plots)
        .with_context(|| format!("cannot create {}", args.plots.display()))?;
    let base_rate = report.positives as f64 / report.events.max(1) as f64;
    for (name, plot) in [
        ("roc", plot::roc(&report.roc, report.roc_auc)?),
        (
            "precision_recall",
            plot::precision_recall(&report.pr, report.pr_auc, base_rate)?,
        ),
        ("score_distribution", plot::score_distribution(&data)?),
    ] {
        let path = args.plots.join(name);
        edgescore_runtime::atomic_file::write_atomically(&path.with_extension("png"), &plot.png)?;
        edgescore_runtime::atomic_file::write_atomically(
            &path.with_extension("svg"),
            plot.svg.as_bytes(),
        )?;
    }
    eprintln!(
        "wrote roc, precision_recall and score_distribution (.png and .svg) to {}",
        args.plots.display()
    );

    if let Some(path) = &args.scores {
        let mut out = String::from("score,label\n");
        for d in &data {
            out.push_str(&format!("{},{}\n", d.score, u8::from(d.positive)));
        }
        edgescore_runtime::atomic_file::write_atomically(path, out.as_bytes())?;
    }
    Ok(())
}
