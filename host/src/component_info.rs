//! What `edgescore inspect` reports about a component, read statically
//! (nothing is compiled or run).

use edgescore_models::Manifest;
use serde::Serialize;

use crate::manifest_section;

/// A component's identity, interface and manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    pub size_bytes: usize,
    /// Lower-case hex SHA-256 of the component file.
    pub sha256: String,
    /// Top-level imports by name: what the component needs from its host.
    pub imports: Vec<String>,
    /// Top-level exports by name.
    pub exports: Vec<String>,
    /// The `edgescore-manifest` section, when the component has one.
    pub manifest: Option<Manifest>,
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
            size_bytes: bytes.len(),
            sha256: crate::digest::sha256_hex(bytes),
            imports,
            exports,
            manifest,
        })
    }
}
