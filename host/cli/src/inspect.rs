//! `edgescore inspect`: print what a component is, as text or JSON.

use std::io::Write as _;
use std::path::Path;

use edgescore_runtime::component_info::{ComponentInfo, ComponentKind, TransformDescription};
use edgescore_runtime::engine::ScoringEngine;
use edgescore_runtime::limits::Limits;

pub(crate) fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read component {}: {e}", path.display()))?;
    let mut info =
        ComponentInfo::read(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if info.kind == ComponentKind::Transform {
        // A transform has no manifest: it says what it is when asked, in the sandbox.
        let engine = ScoringEngine::new(Limits::default())
            .map_err(|e| anyhow::anyhow!("cannot start the engine: {e:#}"))?;
        let description = TransformDescription::ask(&engine, &bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}: a transform component that cannot describe itself: {e}",
                path.display()
            )
        })?;
        info.transform = Some(description);
    }
    let text = if json {
        serde_json::to_string_pretty(&info)?
    } else {
        describe(path, &info)
    };
    // The report is the command's output: it goes to standard output.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(())
}

fn describe(path: &Path, info: &ComponentInfo) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.join(", ")
        }
    };
    let kind = match info.kind {
        ComponentKind::Scorer => "scorer (a model: `edgescore score --component`, a registry)",
        ComponentKind::Transform => {
            "transform (built by `edgescore build --transform`: use it in a pipeline, or with `edgescore transform --transform`)"
        }
        ComponentKind::Other => {
            "not an edgescore component (it exports neither the model nor the transform interface)"
        }
    };
    let mut out = format!(
        "component  {}\nkind       {kind}\nsize       {} bytes\nsha256     {}\nimports    {}\nexports    {}\n",
        path.display(),
        info.size_bytes,
        info.sha256,
        list(&info.imports),
        list(&info.exports)
    );
    if let Some(transform) = &info.transform {
        out.push_str(&format!(
            "name       {}\nversion    {}\ninputs     {}\n",
            transform.name,
            transform.version,
            transform.inputs.len()
        ));
        for input in &transform.inputs {
            let required = if input.required { ", required" } else { "" };
            out.push_str(&format!(
                "        {}  {}{required}\n",
                input.name, input.type_
            ));
        }
        out.push_str(&format!("outputs    {}\n", transform.outputs.len()));
        for (i, output) in transform.outputs.iter().enumerate() {
            out.push_str(&format!("  {i:>4}  {}  {}\n", output.name, output.kind));
        }
        return out.trim_end().to_owned();
    }
    match &info.manifest {
        None => out.push_str("manifest   (none: not built by `edgescore build`)\n"),
        Some(m) => {
            out.push_str(&format!(
                "name       {}\nversion    {}\nmodel      {} {} ({})\nmodel sha  {}\nbuilt by   edgescore {}\ngolden     {} vectors\nfeatures   {}\n",
                m.name,
                m.version,
                m.model_kind,
                m.objective,
                m.output,
                m.model_sha256,
                m.edgescore_version,
                m.golden.len(),
                m.features.len()
            ));
            for (i, f) in m.features.iter().enumerate() {
                let name = if f.name.is_empty() {
                    format!("#{i}")
                } else {
                    f.name.clone()
                };
                out.push_str(&format!("  {i:>4}  {name}  {}\n", f.kind));
            }
        }
    }
    out.trim_end().to_owned()
}
