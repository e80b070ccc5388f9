//! What `edgescore inspect` reports about a component. The reading is
//! static (nothing is compiled or run), except that a transform component,
//! which carries no manifest, is asked for its description inside the
//! sandbox ([`TransformDescription::ask`]).

use edgescore_models::Manifest;
use serde::Serialize;

use crate::bindings::edgescore::scoring::types::FeatureKind;
use crate::component_scorer::ComponentError;
use crate::engine::ScoringEngine;
use crate::manifest_section;
use crate::transform_component::TransformComponent;

/// What a component is for, from the interface it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    /// It exports `edgescore:scoring/model`: `edgescore build --model`
    /// makes these (with a manifest).
    Scorer,
    /// It exports `edgescore:scoring/transform`: `edgescore build
    /// --transform` (or the transform SDK) makes these.
    Transform,
    /// Neither: not an edgescore component.
    Other,
}

impl ComponentKind {
    /// The kind of a component exporting `exports` (top-level names).
    pub fn of_exports<'a>(exports: impl IntoIterator<Item = &'a str>) -> Self {
        let mut kind = ComponentKind::Other;
        for export in exports {
            if export.starts_with("edgescore:scoring/model@") {
                return ComponentKind::Scorer;
            }
            if export.starts_with("edgescore:scoring/transform@") {
                kind = ComponentKind::Transform;
            }
        }
        kind
    }
}

/// A component's identity, interface and manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    /// What the component is for.
    pub kind: ComponentKind,
    pub size_bytes: usize,
    /// Lower-case hex SHA-256 of the component file.
    pub sha256: String,
    /// Top-level imports by name: what the component needs from its host.
    pub imports: Vec<String>,
    /// Top-level exports by name.
    pub exports: Vec<String>,
    /// The `edgescore-manifest` section, when the component has one (a
    /// scorer built by `edgescore build`).
    pub manifest: Option<Manifest>,
    /// A transform's own description, when it was asked for
    /// ([`ComponentInfo::read`] leaves it out: it runs the component).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transform: Option<TransformDescription>,
}

impl ComponentInfo {
    /// Reads `bytes` as a component; the error says why it is not one.
    pub fn read(bytes: &[u8]) -> Result<Self, String> {
        let (mut imports, mut exports, mut manifest) = (Vec::new(), Vec::new(), None);
        manifest_section::for_each_top_level(bytes, |payload| {
            match payload {
                wasmparser::Payload::ComponentImportSection(section) => {
                    for import in section.clone() {
                        let import = import.map_err(|e| format!("malformed import: {e}"))?;
                        imports.push(import.name.name.to_owned());
                    }
                }
                wasmparser::Payload::ComponentExportSection(section) => {
                    for export in section.clone() {
                        let export = export.map_err(|e| format!("malformed export: {e}"))?;
                        exports.push(export.name.name.to_owned());
                    }
                }
                wasmparser::Payload::CustomSection(section)
                    if section.name() == manifest_section::SECTION && manifest.is_none() =>
                {
                    manifest = Some(manifest_section::parse(section.data())?);
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(Self {
            kind: ComponentKind::of_exports(exports.iter().map(String::as_str)),
            size_bytes: bytes.len(),
            sha256: crate::digest::sha256_hex(bytes),
            imports,
            exports,
            manifest,
            transform: None,
        })
    }
}

/// What a transform component reads and produces, as it describes itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransformDescription {
    pub name: String,
    pub version: String,
    /// The event fields it reads.
    pub inputs: Vec<TransformInput>,
    /// The feature row it produces, in order.
    pub outputs: Vec<TransformOutput>,
}

/// One event field a transform reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransformInput {
    pub name: String,
    /// `boolean`, `integer`, `number`, `text` or `timestamp`.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Whether an event without it is refused.
    pub required: bool,
}

/// One feature a transform produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransformOutput {
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
}

impl TransformDescription {
    /// Loads the transform component in `bytes` under `engine`'s limits
    /// (no feature store is reachable) and asks it for its description.
    pub fn ask(engine: &ScoringEngine, bytes: &[u8]) -> Result<Self, ComponentError> {
        let transform = TransformComponent::new(engine, None, bytes)?;
        let info = transform.info();
        Ok(Self {
            name: info.name.clone(),
            version: info.version.clone(),
            inputs: transform
                .inputs()
                .iter()
                .map(|input| TransformInput {
                    name: input.name.clone(),
                    type_: input.ty.name(),
                    required: input.required,
                })
                .collect(),
            outputs: info
                .outputs
                .iter()
                .map(|output| TransformOutput {
                    name: output.name.clone(),
                    kind: match output.kind {
                        FeatureKind::Numeric => "numeric",
                        FeatureKind::Categorical => "categorical",
                    },
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guests;
    use edgescore_test_programs::TRANSFORM_EXAMPLE_COMPONENT;

    #[test]
    fn the_exported_interface_tells_a_scorer_from_a_transform() {
        let kind = |bytes: &[u8]| ComponentInfo::read(bytes).expect("a component").kind;
        assert_eq!(
            kind(guests::SCORER_TEMPLATE_COMPONENT),
            ComponentKind::Scorer
        );
        assert_eq!(
            kind(guests::TRANSFORM_TEMPLATE_COMPONENT),
            ComponentKind::Transform
        );
        assert_eq!(kind(TRANSFORM_EXAMPLE_COMPONENT), ComponentKind::Transform);
        assert_eq!(
            ComponentKind::of_exports(["wasi:cli/run@0.2.0"]),
            ComponentKind::Other
        );
    }
}
