//! The custom sections `edgescore build` appends to a component, readable
//! without compiling or running it: `edgescore-manifest` (the manifest as
//! JSON) and `edgescore-artifact` (the manifest and the model in the compact
//! encoding, the very bytes handed to the guest's `initialize`), from which a
//! trusted host can score the same model natively.

use edgescore_models::Manifest;

/// The manifest section's name.
pub const SECTION: &str = "edgescore-manifest";

/// The artifact section's name.
pub const ARTIFACT_SECTION: &str = "edgescore-artifact";

/// Appends the manifest section to a component's bytes (custom sections may
/// stand anywhere at the top level of a component).
pub fn append(component: &mut Vec<u8>, manifest: &Manifest) {
    append_section(component, SECTION, &serde_json_bytes(manifest));
}

/// Appends the artifact section: `artifact` is `Artifact::to_bytes`.
pub fn append_artifact(component: &mut Vec<u8>, artifact: &[u8]) {
    append_section(component, ARTIFACT_SECTION, artifact);
}

fn append_section(component: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut payload = Vec::with_capacity(name.len() + data.len() + 5);
    leb128(&mut payload, name.len() as u64);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    component.push(0); // custom section id
    leb128(component, payload.len() as u64);
    component.extend_from_slice(&payload);
}

/// The artifact section's bytes, `None` when the component has none (it was
/// built before edgescore wrote one). An error when the bytes are not a
/// component or are malformed.
pub fn read_artifact(component: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut artifact = None;
    for_each_top_level(component, |payload| {
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == ARTIFACT_SECTION
            && artifact.is_none()
        {
            artifact = Some(section.data().to_vec());
        }
        Ok(())
    })?;
    Ok(artifact)
}

/// Reads the manifest from a component's top-level custom sections.
/// `Ok(None)` when there is none; an error when the bytes are not a
/// component or the manifest is not valid.
pub fn read(component: &[u8]) -> Result<Option<Manifest>, String> {
    let mut manifest = None;
    for_each_top_level(component, |payload| {
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == SECTION
            && manifest.is_none()
        {
            manifest = Some(parse(section.data()));
        }
        Ok(())
    })?;
    manifest.transpose()
}

/// The manifest in a section's payload.
pub(crate) fn parse(data: &[u8]) -> Result<Manifest, String> {
    serde_json::from_slice(data)
        .map_err(|e| format!("the {SECTION} section is not a valid manifest: {e}"))
}

/// Calls `visit` with every section of the component itself, skipping the
/// contents of nested modules and components. Fails when the bytes are not a
/// component or are malformed.
pub(crate) fn for_each_top_level(
    component: &[u8],
    mut visit: impl FnMut(&wasmparser::Payload<'_>) -> Result<(), String>,
) -> Result<(), String> {
    if !wasmparser::Parser::is_component(component) {
        return Err(if wasmparser::Parser::is_core_wasm(component) {
            "this is a core WebAssembly module, not a component".into()
        } else {
            "this is not a WebAssembly component (bad magic or version)".into()
        });
    }
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let payload = payload.map_err(|e| format!("malformed component: {e}"))?;
        match payload {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            ref top_level if depth == 0 => visit(top_level)?,
            _ => {}
        }
    }
    Ok(())
}

fn serde_json_bytes(manifest: &Manifest) -> Vec<u8> {
    serde_json::to_vec_pretty(manifest).expect("a manifest (strings, numbers, lists) serializes")
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
