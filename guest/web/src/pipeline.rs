//! A pipeline in the page: the transform spec and the model the server's
//! pipeline deploys, a feature store in page memory, and the server's
//! decision rules, so one transaction gets the server's score, decision
//! and reasons.
//!
//! Each step is the server's own code: events are read by
//! `edgescore-events` with the pipeline's `[events]` rules against the
//! page's clock, the spec is compiled by `edgescore-spec`, the plan runs in
//! the model core's interpreter, windows follow the embedded store's rules
//! ([`crate::page_store`]), and decisions and reasons come from
//! `edgescore_models::decision`.

use edgescore_events::{Clock, EventRules, FieldSpec, JsonEvent};
use edgescore_models::Model as CoreModel;
use edgescore_models::decision::{Decision, Thresholds, top_reasons};
use edgescore_models::transform::TransformPlan;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wasm_bindgen::prelude::*;

use crate::page_store::PageStore;
use crate::{js_input, js_object};

/// What `Pipeline.load` takes besides the spec and the model: the
/// `pipeline.toml` tables that matter in a page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineOptions {
    review: f64,
    block: f64,
    /// Reasons per transaction (`[reasons] top`).
    #[serde(default = "default_top")]
    top: usize,
    /// The `[events]` table, keys as in `pipeline.toml`.
    #[serde(default)]
    events: EventRules,
}

fn default_top() -> usize {
    3
}

/// What `score` takes besides the transaction (both default to false).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreOptions {
    /// Reasons for an allowed transaction too (the server's `explain`).
    #[serde(default)]
    explain: bool,
}

/// A transform and a model deployed together, with their feature store.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Pipeline {
    plan: TransformPlan,
    inputs: Vec<FieldSpec>,
    rules: EventRules,
    model: CoreModel,
    thresholds: Thresholds,
    top: usize,
    store: PageStore,
}

#[wasm_bindgen]
impl Pipeline {
    /// Loads a pipeline: `transform_spec` (the transform's TOML), the
    /// model file's bytes, and `{ review, block, top?, events? }` as in
    /// `pipeline.toml`. The model must read what the transform produces.
    pub fn load(
        #[wasm_bindgen(unchecked_param_type = "string")] transform_spec: &JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] model_bytes: &JsValue,
        options: &JsValue,
    ) -> Result<Pipeline, JsError> {
        let refused = |e: String| JsError::new(&format!("cannot load pipeline: {e}"));
        let transform_spec =
            js_object::text(transform_spec, "the transform spec").map_err(refused)?;
        let model_bytes = js_input::bytes(model_bytes)
            .map_err(|e| JsError::new(&format!("cannot load model: {e}")))?;
        let options: PipelineOptions =
            js_object::object(options).map_err(|e| refused(format!("options: {e}")))?;
        let thresholds = Thresholds {
            review: options.review,
            block: options.block,
        };
        thresholds.check().map_err(refused)?;
        let plan = edgescore_spec::compile(&transform_spec)
            .map_err(|e| refused(format!("the transform spec: {e}")))?;
        let model = CoreModel::from_bytes(&model_bytes, None)
            .map_err(|e| JsError::new(&format!("cannot load model: {e}")))?;
        // Reasons need contributions: a model without them (XGBoost saved
        // without node covers, ONNX) would fail every flagged transaction.
        if let Err(e) = model.contributions(&vec![0.0; model.num_features()]) {
            return Err(refused(format!(
                "the model cannot explain its scores, which a pipeline's reasons need: {e}"
            )));
        }
        let inputs: Vec<FieldSpec> = plan
            .inputs
            .iter()
            .map(|i| FieldSpec {
                name: i.name.clone(),
                ty: i.ty,
                required: i.required,
            })
            .collect();
        options.events.check(&inputs).map_err(refused)?;
        let produced: Vec<&str> = plan.outputs().map(|s| s.name.as_str()).collect();
        let read: Vec<&str> = match model.feature_names() {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => vec![""; model.num_features()],
        };
        let unnamed = read.iter().all(|n| n.is_empty());
        if (unnamed && produced.len() != read.len()) || (!unnamed && produced != read) {
            let first_difference = (0..produced.len().max(read.len()))
                .find(|&i| produced.get(i) != read.get(i))
                .unwrap_or(0);
            let name = |names: &[&str]| {
                names.get(first_difference).map_or_else(
                    || "nothing".to_owned(),
                    |n| format!("'{}'", n.chars().take(64).collect::<String>()),
                )
            };
            return Err(refused(format!(
                "the transform produces {} features but the model reads {}; feature {first_difference} is {} in the transform and {} in the model: build the model on the transform's output",
                produced.len(),
                read.len(),
                name(&produced),
                name(&read)
            )));
        }
        Ok(Pipeline {
            plan,
            inputs,
            rules: options.events,
            model,
            thresholds,
            top: options.top,
            store: PageStore::default(),
        })
    }

    /// The features the transform produces and the model reads, in order.
    #[wasm_bindgen(getter, js_name = featureNames)]
    pub fn feature_names(&self) -> Vec<String> {
        self.plan.outputs().map(|s| s.name.clone()).collect()
    }

    /// Scores one transaction (an object of its fields, as the server's
    /// `/v1/pipelines/<p>/score` takes them): `{ score, decision, reasons,
    /// features }`, the reasons (`{ feature, value, contribution }`) of a
    /// review or block, or of any decision with `{ explain: true }`. The
    /// transaction is observed into the page's feature store; one that
    /// fails observes nothing.
    pub fn score(
        &mut self,
        transaction: &JsValue,
        options: Option<JsValue>,
    ) -> Result<JsValue, JsError> {
        let options: ScoreOptions = match options {
            Some(options) if !options.is_undefined() && !options.is_null() => {
                js_object::object(&options)
                    .map_err(|e| JsError::new(&format!("score options: {e}")))?
            }
            _ => ScoreOptions::default(),
        };
        let event: JsonEvent = js_object::object(transaction)
            .map_err(|e| JsError::new(&format!("invalid transaction: {e}")))?;
        let now_ms = js_sys::Date::now() as i64;
        let clock = Clock {
            now_ms,
            name: "the page's clock",
        };
        let reader = edgescore_events::EventReader::new(&self.inputs, &self.rules, clock)
            .map_err(|e| JsError::new(&format!("invalid transaction: {e}")))?;
        let event = reader
            .event_from_json(&event)
            .map_err(|e| JsError::new(&format!("invalid transaction: {e}")))?;
        self.store.begin(now_ms);
        let result = self.score_event(event, options.explain);
        match result {
            Ok(_) => self.store.commit(),
            Err(_) => self.store.undo(),
        }
        let result = result.map_err(|e| JsError::new(&e))?;
        js_sys::JSON::parse(&result.to_string())
            .map_err(|_| JsError::new("internal error: the result is not JSON"))
    }
}

impl Pipeline {
    /// Transforms, scores and decides one read event.
    fn score_event(
        &mut self,
        event: edgescore_events::Event,
        explain: bool,
    ) -> Result<Value, String> {
        let mut row = Vec::new();
        self.plan
            .transform(vec![event], &mut self.store, &mut row)
            .map_err(|e| format!("transform failed: {e}"))?;
        let scoring = |e: edgescore_models::ScoreError| format!("scoring failed: {e}");
        let score = self.model.score(&row).map_err(scoring)?[0];
        let decision = self.thresholds.decide(score);
        let names: Vec<String> = self.feature_names();
        let reasons = if explain || decision != Decision::Allow {
            let contributions = self.model.contributions(&row).map_err(scoring)?;
            top_reasons(
                names.iter().map(String::as_str),
                &row,
                &contributions,
                self.top,
            )
        } else {
            Vec::new()
        };
        let features: Map<String, Value> = names
            .into_iter()
            .zip(&row)
            .map(|(name, v)| (name, number(*v)))
            .collect();
        Ok(json!({
            "score": score,
            "decision": decision,
            "reasons": reasons,
            "features": features,
        }))
    }
}

/// A feature value as JSON: `null` for a missing one, as the server gives it.
fn number(v: f64) -> Value {
    if v.is_nan() { Value::Null } else { json!(v) }
}
