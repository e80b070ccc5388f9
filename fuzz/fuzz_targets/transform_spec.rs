//! A transform spec (TOML, `host/spec`): compiled, and when it compiles,
//! the plan written and read back, then run over a few events of every
//! input's type (two entities, times in and out of order) against an
//! in-memory store (`models/src/transform/`).
#![no_main]

use edgescore_fuzz::window_store::MemoryStore;
use edgescore_models::transform::{EventValue, InputType, TransformPlan};
use libfuzzer_sys::fuzz_target;

/// 2026-03-01T03:12:00Z.
const T0: i64 = 1_772_334_720_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(plan) = edgescore_spec::compile(text) else {
        return;
    };
    let again = TransformPlan::from_bytes(&plan.to_bytes()).expect("a plan reads back");
    assert_eq!(again, plan, "the plan reads back as written");
    let events: Vec<_> = [(0, 0), (1, 90_000), (0, 30_000), (1, -86_400_000), (2, 0)]
        .into_iter()
        .map(|(entity, dt)| event(&plan, entity, T0 + dt))
        .collect();
    let mut store = MemoryStore::new(T0);
    let mut rows = Vec::new();
    if plan.transform(events, &mut store, &mut rows).is_ok() {
        assert_eq!(rows.len(), 5 * plan.outputs().count(), "one row per event");
    }
});

/// An event giving every input a value of its type (entity `entity`,
/// time `at`); the third entity's event leaves every optional input out.
fn event(plan: &TransformPlan, entity: i64, at: i64) -> Vec<(String, EventValue)> {
    plan.inputs
        .iter()
        .filter(|input| entity < 2 || input.required)
        .map(|input| {
            let value = match input.ty {
                InputType::Boolean => EventValue::Boolean(entity == 1),
                InputType::Integer => EventValue::Integer(entity - 1),
                InputType::Number => EventValue::Number(if entity == 1 { -2.5 } else { 1e9 }),
                InputType::Text => EventValue::Text(format!("e{entity}")),
                InputType::Timestamp => EventValue::Timestamp(at),
            };
            (input.name.clone(), value)
        })
        .collect()
}
