//! `edgescore inspect`: print what a component is, as text or JSON.

use std::io::Write as _;
use std::path::Path;

use edgescore::component_info::ComponentInfo;

pub(crate) fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read component {}: {e}", path.display()))?;
    let info =
        ComponentInfo::read(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
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
    let mut out = format!(
        "component  {}\nsize       {} bytes\nsha256     {}\nimports    {}\nexports    {}\n",
        path.display(),
        info.size_bytes,
        info.sha256,
        list(&info.imports),
        list(&info.exports)
    );
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
