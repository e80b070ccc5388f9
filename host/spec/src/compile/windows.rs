//! The window operations (`count`, `sum`, `distinct_count`,
//! `seconds_since_last`): each names a declared entity, which joins the
//! plan with one window per operation and length.

use edgescore_models::transform::{Aggregate, EntityPlan, Op, WindowPlan};

use super::{Compiler, Result};
use crate::MAX_WINDOW_MINUTES;
use crate::syntax::FeatureSpec;

impl Compiler<'_> {
    /// The [`Op::Window`] of window operation `op` of feature `name`: the
    /// entity and window are added to the plan once, then shared.
    pub(super) fn window(
        &mut self,
        name: &str,
        op: &str,
        at: usize,
        spec: &FeatureSpec,
    ) -> Result<Op> {
        let reference = match op {
            "count" => &spec.count,
            "sum" => &spec.sum,
            "distinct_count" => &spec.distinct_count,
            _ => &spec.seconds_since_last,
        };
        let entity_name = reference
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_default();
        let Some(declared) = self.declared.get(&entity_name) else {
            let mut known: Vec<_> = self.declared.keys().cloned().collect();
            known.sort();
            return self.error(at, format!(
                "feature '{name}': `{op}` names entity '{entity_name}', which is not declared (declared: {})",
                if known.is_empty() { "none; add an [entities.<name>] table".to_owned() } else { known.join(", ") }
            ));
        };
        let (minutes, minutes_at) = spec
            .minutes
            .as_ref()
            .map_or((MAX_WINDOW_MINUTES, at), |m| (*m.get_ref(), m.span().start));
        if !(1..=MAX_WINDOW_MINUTES).contains(&minutes) {
            return self.error(minutes_at, format!(
                "feature '{name}': a window of {minutes} minutes is out of range: use 1 to {MAX_WINDOW_MINUTES} (7 days, the store's retention)"
            ));
        }
        let aggregate = match op {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "distinct_count" => Aggregate::DistinctCount,
            _ => Aggregate::SecondsSinceLast,
        };
        if aggregate == Aggregate::Sum && declared.value.is_none() {
            return self.error(at, format!(
                "feature '{name}': `sum` over entity '{entity_name}' (line {}) needs the entity's `value`", declared.line
            ));
        }
        if aggregate == Aggregate::DistinctCount && declared.distinct.is_none() {
            return self.error(at, format!(
                "feature '{name}': `distinct_count` over entity '{entity_name}' (line {}) needs the entity's `distinct`", declared.line
            ));
        }
        let entity = match self
            .entities
            .iter()
            .position(|e| e.namespace == entity_name)
        {
            Some(i) => i,
            None => {
                self.entities.push(EntityPlan {
                    namespace: entity_name.clone(),
                    key: declared.key.clone(),
                    value: declared.value,
                    distinct: declared.distinct,
                    windows: Vec::new(),
                });
                self.entities.len() - 1
            }
        };
        let seconds = (minutes * 60) as u32;
        let window_name = format!("{op}-{seconds}s");
        let windows = &mut self.entities[entity].windows;
        let window = match windows.iter().position(|w| w.name == window_name) {
            Some(i) => i,
            None => {
                windows.push(WindowPlan {
                    name: window_name,
                    aggregate,
                    seconds,
                });
                windows.len() - 1
            }
        };
        Ok(Op::Window { entity, window })
    }
}
