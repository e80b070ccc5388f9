//! The fraud example pipeline (`examples/fraud`), assembled from the
//! wasmtime-free crates: its transform spec compiled, its `[events]` rules,
//! its decision thresholds and its model. The event targets read fuzzed
//! events into it and score what they read, as the server would.

use std::sync::LazyLock;

use edgescore_events::{Clock, Event, EventReader, EventRules, FieldSpec};
use edgescore_models::Model;
use edgescore_models::decision::{self, Thresholds};
use edgescore_models::transform::TransformPlan;

use crate::window_store::MemoryStore;

const PIPELINE: &str = include_str!("../../examples/fraud/pipeline.toml");
const TRANSFORM: &str = include_str!("../../examples/fraud/transform.toml");
const MODEL: &[u8] = include_bytes!("../../examples/fraud/model/xgboost.json");

/// The rows (or transactions) one fuzzed request may carry, as the
/// server's `max_rows_per_request`.
pub const MAX_ROWS: usize = 64;

/// How many rows of a batch are explained.
const EXPLAINED_ROWS: usize = 2;

/// 2026-06-01T00:00:00Z: a fixed clock, so a run is reproducible.
pub const NOW_MS: i64 = 1_780_272_000_000;

/// The pipeline's parts.
#[derive(Debug)]
pub struct Fraud {
    pub plan: TransformPlan,
    pub inputs: Vec<FieldSpec>,
    pub rules: EventRules,
    pub thresholds: Thresholds,
    pub model: Model,
}

/// The pipeline, built once per process.
pub fn fraud() -> &'static Fraud {
    static FRAUD: LazyLock<Fraud> = LazyLock::new(|| {
        let plan = edgescore_spec::compile(TRANSFORM).expect("the fraud transform compiles");
        let inputs = plan
            .inputs
            .iter()
            .map(|i| FieldSpec {
                name: i.name.clone(),
                ty: i.ty,
                required: i.required,
            })
            .collect();
        let pipeline: toml::Table = toml::from_str(PIPELINE).expect("pipeline.toml parses");
        let rules: EventRules = pipeline["events"]
            .clone()
            .try_into()
            .expect("[events] of pipeline.toml");
        let thresholds: Thresholds = pipeline["decision"]
            .clone()
            .try_into()
            .expect("[decision] of pipeline.toml");
        let rules = EventRules {
            max_text_bytes: edgescore_events::DEFAULT_MAX_TEXT_BYTES,
            max_fields: edgescore_events::DEFAULT_MAX_FIELDS,
            ..rules
        };
        let model = Model::from_bytes(MODEL, None).expect("the fraud model parses");
        Fraud {
            plan,
            inputs,
            rules,
            thresholds,
            model,
        }
    });
    &FRAUD
}

impl Fraud {
    /// The reader of the pipeline's events against the fixed clock.
    pub fn reader(&self) -> EventReader<'_> {
        let clock = Clock {
            now_ms: NOW_MS,
            name: "the fuzzer's clock",
        };
        EventReader::new(&self.inputs, &self.rules, clock).expect("the fraud rules fit")
    }

    /// Transforms `events` (read by [`Fraud::reader`]) against a fresh
    /// store, then scores, decides and explains each row. Events the
    /// reader accepted must transform: a refusal here would be a 500.
    pub fn score(&self, events: Vec<Event>) {
        let count = events.len();
        let mut store = MemoryStore::new(NOW_MS);
        let mut rows = Vec::new();
        self.plan
            .transform(events, &mut store, &mut rows)
            .expect("events the reader accepted transform");
        let scores = self.model.score(&rows).expect("the feature rows score");
        assert_eq!(scores.len(), count, "one score per event");
        // The first rows are explained (TreeSHAP over the fraud model's
        // trees is the slow part of an execution).
        let width = self.model.num_features();
        let explained = &rows[..rows.len().min(EXPLAINED_ROWS * width)];
        let contributions = self
            .model
            .contributions(explained)
            .expect("the fraud model explains");
        let names: Vec<&str> = self.plan.outputs().map(|s| s.name.as_str()).collect();
        for (r, score) in scores.iter().enumerate() {
            let _ = self.thresholds.decide(*score);
            if r >= EXPLAINED_ROWS {
                continue;
            }
            let row = &rows[r * width..(r + 1) * width];
            let phi = &contributions[r * (width + 1)..(r + 1) * (width + 1)];
            let _ = decision::top_reasons(names.iter().copied(), row, phi, 3);
        }
    }
}

/// A V2 request's JSON and binary data read as the server reads them, its
/// rows then scored with the fraud model.
pub fn infer(json: &[u8], binary: &[u8]) {
    let Ok(request) = edgescore_protocol::InferRequest::from_json(json) else {
        return;
    };
    let _ = (request.id(), request.key(), request.is_fp64());
    let model = &fraud().model;
    let names = model
        .feature_names()
        .expect("the fraud model names its features");
    let features: Vec<&str> = names.iter().map(String::as_str).collect();
    let Ok(rows) = request.feature_rows(binary, &features, MAX_ROWS) else {
        return;
    };
    if request.wants_binary_output().is_ok() {
        let scores = model.score(&rows).expect("rows of the model's width score");
        assert!(scores.len() <= MAX_ROWS, "at most MAX_ROWS rows");
    }
}
