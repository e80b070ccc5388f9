//! `edgescore build`: one model file in, one self-contained scorer component out.
//!
//! The generic scorer (`guests::SCORER_TEMPLATE_COMPONENT`, built with the
//! edgescore binary) is pre-initialised: instantiated once here, handed the
//! model artifact through its `initialize` export, and snapshotted into a new
//! component whose memory image already holds the parsed model. The result
//! needs no toolchain to produce, no parsing when an instance starts (its
//! memory is mapped copy-on-write from the image). It exports
//! `edgescore:scoring/model` and the template's `initialize`, which is inert
//! afterwards (a second call is refused).

use std::path::Path;

use edgescore_models::{
    Artifact, Format, GoldenVector, Manifest, ManifestFeature, Model, probe_rows,
};
use wasmtime::component::{Component, ComponentType, Instance, Lift, Linker, WasmList};
use wasmtime::{Config, Engine, Store};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use crate::component_scorer::{ComponentError, ScorerComponent};
use crate::engine::ScoringEngine;
use crate::limits::Limits;
use crate::transform_component::TransformComponent;
use crate::{guests, manifest_section, model_file};

/// How many golden vectors a component carries.
pub const GOLDEN_ROWS: usize = 32;

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest<'a> {
    pub model: &'a Path,
    pub format: Option<Format>,
    pub name: &'a str,
    pub version: &'a str,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Model(#[from] crate::model_file::ModelFileError),
    #[error(
        "invalid --{what} {}: use 1 to 128 characters from letters, digits, '.', '_' and '-'",
        crate::quote::quoted(value)
    )]
    Name { what: &'static str, value: String },
    #[error(
        "invalid --version {}: a version is a positive whole number without leading zeros (1, 2, 10), \
         the only version folders a registry serves; give the next one after the versions already deployed",
        crate::quote::quoted(value)
    )]
    Version { value: String },
    #[error("pre-initialising the scorer failed: {0}")]
    Wizer(String),
    #[error("the built component failed its check: {0}")]
    Verify(#[from] ComponentError),
}

/// Builds the component for `request` and checks it scores its golden vectors
/// exactly as the native model did, under the default serving limits.
/// Returns the component's bytes.
pub fn build_component(request: &BuildRequest<'_>) -> Result<Vec<u8>, BuildError> {
    build_component_under(request, &Limits::default())
}

/// [`build_component`], checking the golden vectors under `limits` (the
/// call deadline and memory cap the component will be served with: a large
/// model's image can need more than the default 64 MiB).
pub fn build_component_under(
    request: &BuildRequest<'_>,
    limits: &Limits,
) -> Result<Vec<u8>, BuildError> {
    check_name("name", request.name)?;
    check_version(request.version)?;
    let bytes =
        std::fs::read(request.model).map_err(|source| crate::model_file::ModelFileError::Read {
            path: request.model.to_owned(),
            source,
        })?;
    let model = model_file::load(request.model, request.format)?;
    let manifest = manifest(&model, &bytes, request);
    let artifact = Artifact {
        manifest: manifest.clone(),
        model,
    }
    .to_bytes();

    let mut component = preinitialize(guests::SCORER_TEMPLATE_COMPONENT, &artifact)
        .map_err(|e| BuildError::Wizer(format!("{e:#}")))?;
    manifest_section::append(&mut component, &manifest);
    manifest_section::append_artifact(&mut component, &artifact);

    let engine = ScoringEngine::new(*limits).map_err(|e| BuildError::Wizer(format!("{e:#}")))?;
    ScorerComponent::new(&engine, &component)?.verify_golden()?;
    Ok(component)
}

/// Why a transform build failed.
#[derive(Debug, thiserror::Error)]
pub enum TransformBuildError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{error}")]
    Spec {
        path: String,
        #[source]
        error: edgescore_spec::SpecError,
    },
    #[error("pre-initialising the transform failed: {0}")]
    Wizer(String),
    #[error("the built transform does not load: {0}")]
    Verify(#[from] ComponentError),
}

/// The call deadline of the one call that checks a built transform.
const BUILD_CHECK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(2);

/// Compiles the transform spec at `spec` (TOML) into a transform component:
/// the generic transform pre-initialised with the checked plan. Returns the
/// component's bytes once it loads and describes itself as the spec says.
pub fn build_transform(spec: &Path) -> Result<Vec<u8>, TransformBuildError> {
    let path = spec.display().to_string();
    let text = std::fs::read_to_string(spec).map_err(|source| TransformBuildError::Read {
        path: path.clone(),
        source,
    })?;
    let plan = edgescore_spec::compile(&text)
        .map_err(|error| TransformBuildError::Spec { path, error })?;
    let component = preinitialize(guests::TRANSFORM_TEMPLATE_COMPONENT, &plan.to_bytes())
        .map_err(|e| TransformBuildError::Wizer(format!("{e:#}")))?;
    // Loading the built component once to check what it says it is: a
    // build step, not a request, so a busy machine must not fail it on
    // the served call deadline.
    let limits = Limits {
        call_deadline: BUILD_CHECK_DEADLINE,
        ..Limits::default()
    };
    let engine =
        ScoringEngine::new(limits).map_err(|e| TransformBuildError::Wizer(format!("{e:#}")))?;
    let loaded = TransformComponent::new(&engine, None, &component)?;
    let outputs: Vec<&str> = plan.outputs().map(|s| s.name.as_str()).collect();
    let built: Vec<&str> = loaded
        .info()
        .outputs
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    if built != outputs || loaded.info().name != plan.name {
        return Err(TransformBuildError::Wizer(format!(
            "the built component describes itself as '{}' with outputs {built:?}, not as the spec's '{}' with {outputs:?}",
            loaded.info().name,
            plan.name
        )));
    }
    Ok(component)
}

/// The manifest: identity, schema, the model file's hash and golden vectors.
fn manifest(model: &Model, file: &[u8], request: &BuildRequest<'_>) -> Manifest {
    let width = model.num_features();
    let rows = probe_rows(model, GOLDEN_ROWS, 0x5eed);
    // Probe rows never contain a missing value a linear model could refuse.
    let scores = model
        .score(&rows)
        .unwrap_or_else(|_| vec![f64::NAN; GOLDEN_ROWS]);
    let golden = rows
        .chunks_exact(width)
        .zip(scores)
        .filter(|(_, score)| !score.is_nan())
        .map(|(row, score)| GoldenVector {
            row: row.iter().map(|v| (!v.is_nan()).then_some(*v)).collect(),
            score,
        })
        .collect();
    let names = model.feature_names();
    Manifest {
        name: request.name.to_owned(),
        version: request.version.to_owned(),
        model_kind: model.kind().to_string(),
        objective: model.objective().to_owned(),
        output: model.output_kind().name().to_owned(),
        features: model
            .feature_kinds()
            .iter()
            .enumerate()
            .map(|(i, kind)| ManifestFeature {
                name: names.map(|n| n[i].clone()).unwrap_or_default(),
                kind: kind.name().to_owned(),
            })
            .collect(),
        model_sha256: crate::digest::sha256_hex(file),
        edgescore_version: env!("CARGO_PKG_VERSION").to_owned(),
        wit_package: edgescore_models::WIT_PACKAGE.to_owned(),
        steps_per_row: model.steps_per_row(),
        contribution_steps_per_row: model.contribution_steps_per_row(),
        golden,
    }
}

/// Runs `template`'s `initialize` with `artifact` and snapshots the instance.
/// Imports (the transform template's feature store) are linked as traps:
/// initialization must not reach them.
fn preinitialize(template: &[u8], artifact: &[u8]) -> wasmtime::Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    // Wizer 48 drops the core module's export of the init function but not the
    // component's lift of it, which leaves an invalid component; keep it. It
    // is inert once built: the guest refuses a second initialization.
    wizer.init_func("initialize").keep_init_func(true);
    let (cx, instrumented) = wizer.instrument_component(template)?;

    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config)?;
    let component = Component::new(&engine, &instrumented)?;
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker.define_unknown_imports_as_traps(&component)?;
    let instance: Instance = linker.instantiate(&mut store, &component)?;
    let initialize =
        instance.get_typed_func::<(&[u8],), (Result<(), String>,)>(&mut store, "initialize")?;
    let (result,) = initialize.call(&mut store, (artifact,))?;
    result.map_err(|reason| wasmtime::format_err!("the scorer refused the model: {reason}"))?;
    let mut source = SnapshotSource {
        store: &mut store,
        instance,
        error: None,
    };
    let snapshot = pollster::block_on(wizer.snapshot_component(&cx, &mut source))?;
    match source.error {
        Some(e) => Err(e),
        None => Ok(snapshot),
    }
}

/// Lets the snapshot read an instance's state through the accessor functions
/// wizer's instrumentation exports. The trait cannot fail, so the first error
/// is kept and reported after the snapshot.
struct SnapshotSource<'a> {
    store: &'a mut Store<()>,
    instance: Instance,
    error: Option<wasmtime::Error>,
}

impl SnapshotSource<'_> {
    fn call<R: ComponentType + Lift + Send + Sync + 'static, T: Default>(
        &mut self,
        instance: &str,
        func: &str,
        use_result: impl FnOnce(&Store<()>, R) -> T,
    ) -> T {
        let result = (|| {
            let (_, exported) = self
                .instance
                .get_export(&mut *self.store, None, instance)
                .ok_or_else(|| wasmtime::format_err!("no export {instance}"))?;
            let (_, index) = self
                .instance
                .get_export(&mut *self.store, Some(&exported), func)
                .ok_or_else(|| wasmtime::format_err!("no export {instance}#{func}"))?;
            let typed = self
                .instance
                .get_typed_func::<(), (R,)>(&mut *self.store, index)?;
            let (value,) = typed.call(&mut *self.store, ())?;
            Ok::<_, wasmtime::Error>(value)
        })();
        match result {
            Ok(value) => use_result(self.store, value),
            Err(e) => {
                self.error.get_or_insert(e);
                T::default()
            }
        }
    }
}

impl ComponentInstanceState for SnapshotSource<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        let mut contents = Some(contents);
        self.call(instance, func, |store, list: WasmList<u8>| {
            if let Some(contents) = contents.take() {
                contents(list.as_le_slice(store));
            }
        });
        if let Some(contents) = contents.take() {
            contents(&[]);
        }
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func, |_, v: i32| v)
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func, |_, v: i64| v)
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call(instance, func, |_, v: f32| v.to_bits())
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call(instance, func, |_, v: f64| v.to_bits())
    }
}

/// A version as the registry reads its folders: a positive integer without
/// leading zeros that fits a `u64` (`1`, `12`; not `0`, `010`, `+1`, `1.5`,
/// `latest`).
fn check_version(value: &str) -> Result<(), BuildError> {
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    if digits && !value.starts_with('0') && value.parse::<u64>().is_ok() {
        Ok(())
    } else {
        Err(BuildError::Version {
            value: value.to_owned(),
        })
    }
}

fn check_name(what: &'static str, value: &str) -> Result<(), BuildError> {
    let ok = (1..=128).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(BuildError::Name {
            what,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_positive_integers_without_leading_zeros() {
        for good in ["1", "2", "10", "18446744073709551615"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "0",
            "00",
            "010",
            "+1",
            "-1",
            "1.5",
            "1e3",
            " 1",
            "latest",
            "v1",
            "18446744073709551616",
        ] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }
}
