//! Checking a parsed spec and turning it into a [`TransformPlan`].

use std::collections::HashMap;

use edgescore_models::transform::{
    Aggregate, EntityPlan, EventValue, InputPlan, InputType, Op, Operand, StepPlan, TransformPlan,
    WindowPlan, parse_rfc3339_ms,
};
use toml::Spanned;

use super::syntax::{EntitySpec, FeatureSpec, InputSpec, Spec};
use super::{MAX_WINDOW_MINUTES, OPERATIONS, SpecError, line_of};

/// An entity as declared, before any feature uses it.
struct DeclaredEntity {
    line: usize,
    key: Vec<usize>,
    value: Option<usize>,
    distinct: Option<usize>,
}

pub(super) struct Compiler<'a> {
    text: &'a str,
    inputs: Vec<InputPlan>,
    input_index: HashMap<String, usize>,
    declared: HashMap<String, DeclaredEntity>,
    entities: Vec<EntityPlan>,
    steps: Vec<StepPlan>,
    step_index: HashMap<String, usize>,
}

type Result<T> = std::result::Result<T, SpecError>;

impl<'a> Compiler<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            inputs: Vec::new(),
            input_index: HashMap::new(),
            declared: HashMap::new(),
            entities: Vec::new(),
            steps: Vec::new(),
            step_index: HashMap::new(),
        }
    }

    fn error<T>(&self, at: usize, message: impl Into<String>) -> Result<T> {
        Err(SpecError {
            line: line_of(self.text, at),
            message: message.into(),
        })
    }

    pub(super) fn compile(mut self, spec: Spec) -> Result<TransformPlan> {
        for (what, value) in [("name", &spec.name), ("version", &spec.version)] {
            if value.get_ref().trim().is_empty() {
                return self.error(value.span().start, format!("`{what}` must not be empty"));
            }
        }
        if spec.inputs.get_ref().is_empty() {
            return self.error(
                spec.inputs.span().start,
                "`[inputs]` declares no field: list the fields an event carries",
            );
        }
        for (name, input) in spec.inputs.get_ref() {
            self.input(name, input)?;
        }
        let time = match &spec.time {
            Some(time) => Some(self.time_input(time)?),
            None => None,
        };
        for (name, entity) in &spec.entities {
            if time.is_none() {
                return self.error(
                    entity.span().start,
                    format!(
                        "entity '{}' needs the event time: set `time = \"<a timestamp input>\"` at the top",
                        name.get_ref()
                    ),
                );
            }
            self.entity(name, entity)?;
        }
        for feature in &spec.features {
            self.feature(feature)?;
        }
        if !self.steps.iter().any(|s| s.emit) {
            return self.error(
                self.text.len(),
                "the spec emits no feature: add a `[[features]]` table",
            );
        }
        Ok(TransformPlan {
            name: spec.name.into_inner(),
            version: spec.version.into_inner(),
            inputs: self.inputs,
            time,
            entities: self.entities,
            steps: self.steps,
        })
    }

    fn input(&mut self, name: &Spanned<String>, input: &Spanned<InputSpec>) -> Result<()> {
        let ty = match input.get_ref().ty.get_ref().as_str() {
            "boolean" => InputType::Boolean,
            "integer" => InputType::Integer,
            "number" => InputType::Number,
            "text" => InputType::Text,
            "timestamp" => InputType::Timestamp,
            other => {
                return self.error(
                    input.get_ref().ty.span().start,
                    format!(
                        "input '{}' has unknown type '{other}': use boolean, integer, number, text or timestamp",
                        name.get_ref()
                    ),
                );
            }
        };
        let default = match &input.get_ref().default {
            None => None,
            Some(value) => Some(self.default_value(name.get_ref(), ty, value)?),
        };
        if input.get_ref().required && default.is_some() {
            return self.error(
                input.span().start,
                format!(
                    "input '{}' is required and has a default: a required field never uses its default; drop one",
                    name.get_ref()
                ),
            );
        }
        self.input_index
            .insert(name.get_ref().clone(), self.inputs.len());
        self.inputs.push(InputPlan {
            name: name.get_ref().clone(),
            ty,
            required: input.get_ref().required,
            default,
        });
        Ok(())
    }

    fn default_value(
        &self,
        name: &str,
        ty: InputType,
        value: &Spanned<toml::Value>,
    ) -> Result<EventValue> {
        let converted = match (ty, value.get_ref()) {
            (InputType::Boolean, toml::Value::Boolean(b)) => Some(EventValue::Boolean(*b)),
            (InputType::Integer, toml::Value::Integer(i)) => Some(EventValue::Integer(*i)),
            (InputType::Number, toml::Value::Float(x)) => Some(EventValue::Number(*x)),
            (InputType::Number, toml::Value::Integer(i)) => Some(EventValue::Number(*i as f64)),
            (InputType::Text, toml::Value::String(s)) => Some(EventValue::Text(s.clone())),
            (InputType::Timestamp, toml::Value::Integer(_)) => {
                return self.error(
                    value.span().start,
                    format!(
                        "the default of input '{name}' is an integer, which names no unit: give a time as RFC 3339 text, such as \"2026-01-01T00:00:00Z\""
                    ),
                );
            }
            (InputType::Timestamp, toml::Value::String(s)) => {
                parse_rfc3339_ms(s).map(EventValue::Timestamp)
            }
            (InputType::Timestamp, toml::Value::Datetime(d)) => {
                parse_rfc3339_ms(&d.to_string()).map(EventValue::Timestamp)
            }
            _ => None,
        };
        match converted {
            Some(v) => Ok(v),
            None => self.error(
                value.span().start,
                format!(
                    "the default of input '{name}' is {}, which is not a {}",
                    value.get_ref(),
                    ty.name()
                ),
            ),
        }
    }

    fn time_input(&self, time: &Spanned<String>) -> Result<usize> {
        let at = time.span().start;
        let Some(&index) = self.input_index.get(time.get_ref()) else {
            return self.error(
                at,
                format!("`time` names '{}', which is not an input", time.get_ref()),
            );
        };
        let input = &self.inputs[index];
        if input.ty != InputType::Timestamp {
            return self.error(
                at,
                format!(
                    "`time` names '{}', which is a {}: the event time must be a timestamp",
                    input.name,
                    input.ty.name()
                ),
            );
        }
        if !input.required {
            return self.error(
                at,
                format!(
                    "the time input '{}' must be required (windows need every event's time)",
                    input.name
                ),
            );
        }
        Ok(index)
    }

    /// The input `name` refers to, checked to be one of `types`.
    fn typed_input(&self, at: usize, name: &str, types: &[InputType], role: &str) -> Result<usize> {
        let Some(&index) = self.input_index.get(name) else {
            return self.error(at, format!("{role} names '{name}', which is not an input"));
        };
        let ty = self.inputs[index].ty;
        if !types.contains(&ty) {
            let wanted: Vec<_> = types.iter().map(|t| t.name()).collect();
            return self.error(
                at,
                format!(
                    "{role} needs {} but input '{name}' is a {}",
                    wanted.join(" or "),
                    ty.name()
                ),
            );
        }
        Ok(index)
    }

    fn entity(&mut self, name: &Spanned<String>, entity: &Spanned<EntitySpec>) -> Result<()> {
        let role = format!("entity '{}'", name.get_ref());
        if !names_ok(name.get_ref()) {
            return self.error(
                name.span().start,
                format!("{role}: use letters, digits, '-' and '_' in entity names"),
            );
        }
        let spec = entity.get_ref();
        let key_at = spec.key.span().start;
        let names = spec.key.get_ref().names();
        if names.is_empty() {
            return self.error(key_at, format!("{role} has an empty `key`"));
        }
        let keys = [InputType::Text, InputType::Integer, InputType::Boolean];
        let key = names
            .iter()
            .map(|n| self.typed_input(key_at, n, &keys, &format!("the key of {role}")))
            .collect::<Result<Vec<_>>>()?;
        let value = match &spec.value {
            Some(v) => Some(self.typed_input(
                v.span().start,
                v.get_ref(),
                &[InputType::Number, InputType::Integer, InputType::Boolean],
                &format!("the value of {role}"),
            )?),
            None => None,
        };
        let distinct = match &spec.distinct {
            Some(d) => Some(self.typed_input(
                d.span().start,
                d.get_ref(),
                &keys,
                &format!("the distinct key of {role}"),
            )?),
            None => None,
        };
        self.declared.insert(
            name.get_ref().clone(),
            DeclaredEntity {
                line: line_of(self.text, entity.span().start),
                key,
                value,
                distinct,
            },
        );
        Ok(())
    }

    fn feature(&mut self, feature: &Spanned<FeatureSpec>) -> Result<()> {
        let at = feature.span().start;
        let spec = feature.get_ref();
        let Some(name) = &spec.name else {
            return self.error(at, "a feature has no `name`");
        };
        let name_at = name.span().start;
        let name = name.get_ref().clone();
        if name.trim().is_empty() {
            return self.error(name_at, "a feature's `name` must not be empty");
        }
        let operations = present_operations(spec);
        let (op_name, op_at) = match operations.as_slice() {
            [one] => *one,
            [] => {
                return self.error(
                    at,
                    format!(
                        "feature '{name}' names no operation: use one of {}",
                        OPERATIONS.join(", ")
                    ),
                );
            }
            [first, second, ..] => {
                return self.error(
                    second.1,
                    format!(
                        "feature '{name}' names two operations, `{}` and `{}`: use one per feature (a later feature can take this one's result)",
                        first.0, second.0
                    ),
                );
            }
        };
        self.check_parameters(&name, op_name, spec)?;
        let categorical_default = op_name == "hash";
        let categorical = match &spec.kind {
            None => categorical_default,
            Some(kind) => {
                match kind.get_ref().as_str() {
                    "numeric" => false,
                    "categorical" => true,
                    other => {
                        return self.error(
                        kind.span().start,
                        format!("feature '{name}': unknown kind '{other}', use numeric or categorical"),
                    );
                    }
                }
            }
        };
        let default = spec.default.as_ref().map(|d| *d.get_ref());
        let emit = spec.emit.unwrap_or(true);

        if op_name == "one_hot" {
            return self.one_hot(&name, op_at, spec, emit);
        }
        let op = self.operation(&name, op_name, op_at, spec)?;
        self.push_step(name_at, name, op, default, emit, categorical)
    }

    fn push_step(
        &mut self,
        at: usize,
        name: String,
        op: Op,
        default: Option<f64>,
        emit: bool,
        categorical: bool,
    ) -> Result<()> {
        if self.step_index.contains_key(&name) {
            return self.error(at, format!("a feature named '{name}' is already defined"));
        }
        self.step_index.insert(name.clone(), self.steps.len());
        self.steps.push(StepPlan {
            name,
            op,
            default,
            emit,
            categorical,
        });
        Ok(())
    }

    /// Parameters given that the operation does not take, or required ones missing.
    fn check_parameters(&self, name: &str, op: &str, spec: &FeatureSpec) -> Result<()> {
        let (required, optional): (&[&str], &[&str]) = match op {
            "standardize" => (&["mean", "std"], &[]),
            "min_max" | "clip" => (&["min", "max"], &[]),
            "bucketize" => (&["bounds"], &[]),
            "one_hot" => (&["categories"], &[]),
            "hash" => (&["buckets"], &[]),
            "count" | "sum" | "distinct_count" => (&["minutes"], &[]),
            "seconds_since_last" => (&[], &["minutes"]),
            _ => (&[], &[]),
        };
        for (parameter, at) in present_parameters(spec) {
            if !required.contains(&parameter) && !optional.contains(&parameter) {
                return self.error(
                    at,
                    format!("feature '{name}': `{parameter}` does not apply to `{op}`"),
                );
            }
        }
        let given: Vec<&str> = present_parameters(spec).iter().map(|p| p.0).collect();
        if let Some(missing) = required.iter().find(|p| !given.contains(p)) {
            return self.error(
                present_operations(spec)[0].1,
                format!("feature '{name}': `{op}` needs `{missing}`"),
            );
        }
        Ok(())
    }

    /// An operand: an earlier feature by that name, else a numeric input.
    fn operand(&self, at: usize, feature: &str, op: &str, reference: &str) -> Result<Operand> {
        if let Some(&step) = self.step_index.get(reference) {
            return Ok(Operand::Step(step));
        }
        let Some(&input) = self.input_index.get(reference) else {
            return self.error(
                at,
                format!(
                    "feature '{feature}': `{op}` names '{reference}', which is neither an input nor an earlier feature"
                ),
            );
        };
        if self.inputs[input].ty == InputType::Text {
            return self.error(
                at,
                format!(
                    "feature '{feature}': `{op}` needs a number but input '{reference}' is text (use one_hot, hash or equal for text)"
                ),
            );
        }
        Ok(Operand::Input(input))
    }

    fn pair(
        &self,
        at: usize,
        feature: &str,
        op: &str,
        refs: &[String],
    ) -> Result<(Operand, Operand)> {
        match refs {
            [a, b] => Ok((
                self.operand(at, feature, op, a)?,
                self.operand(at, feature, op, b)?,
            )),
            _ => self.error(
                at,
                format!(
                    "feature '{feature}': `{op}` takes two names, [a, b], not {}",
                    refs.len()
                ),
            ),
        }
    }

    fn operation(&mut self, name: &str, op: &str, at: usize, spec: &FeatureSpec) -> Result<Op> {
        let single = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.get_ref().clone());
        let number = |p: &Option<Spanned<f64>>| p.as_ref().map_or(f64::NAN, |p| *p.get_ref());
        let timestamp = [InputType::Timestamp];
        let categories = [InputType::Text, InputType::Integer, InputType::Boolean];
        let role = format!("feature '{name}': `{op}`");
        Ok(match op {
            "value" => {
                Op::Value(self.operand(at, name, op, &single(&spec.value).unwrap_or_default())?)
            }
            "log1p" => {
                Op::Log1p(self.operand(at, name, op, &single(&spec.log1p).unwrap_or_default())?)
            }
            "standardize" => {
                let std = number(&spec.std);
                if !(std.is_finite() && std > 0.0) {
                    return self.error(
                        at,
                        format!("{role} needs a positive, finite `std`, not {std}"),
                    );
                }
                Op::Standardize {
                    x: self.operand(
                        at,
                        name,
                        op,
                        &single(&spec.standardize).unwrap_or_default(),
                    )?,
                    mean: number(&spec.mean),
                    std,
                }
            }
            "min_max" | "clip" => {
                let (min, max) = (number(&spec.min), number(&spec.max));
                let ordered = if op == "clip" { min <= max } else { min < max };
                if !ordered || !min.is_finite() || !max.is_finite() {
                    return self.error(
                        at,
                        format!("{role} needs finite `min` below `max`, not {min} and {max}"),
                    );
                }
                let reference = single(if op == "clip" {
                    &spec.clip
                } else {
                    &spec.min_max
                })
                .unwrap_or_default();
                let x = self.operand(at, name, op, &reference)?;
                if op == "clip" {
                    Op::Clip { x, min, max }
                } else {
                    Op::MinMax { x, min, max }
                }
            }
            "bucketize" => {
                let bounds = spec
                    .bounds
                    .as_ref()
                    .map(|b| b.get_ref().clone())
                    .unwrap_or_default();
                if bounds.is_empty()
                    || bounds.windows(2).any(|w| w[0] >= w[1])
                    || bounds.iter().any(|b| !b.is_finite())
                {
                    return self.error(
                        at,
                        format!("{role} needs finite `bounds` in strictly increasing order"),
                    );
                }
                Op::Bucketize {
                    x: self.operand(at, name, op, &single(&spec.bucketize).unwrap_or_default())?,
                    bounds,
                }
            }
            "hash" => {
                let buckets = spec.buckets.as_ref().map_or(0, |b| *b.get_ref());
                let Ok(buckets) = u32::try_from(buckets) else {
                    return self.error(
                        at,
                        format!("{role} needs `buckets` between 1 and {}", u32::MAX),
                    );
                };
                if buckets == 0 {
                    return self.error(at, format!("{role} needs at least 1 bucket"));
                }
                Op::Hash {
                    input: self.typed_input(
                        at,
                        &single(&spec.hash).unwrap_or_default(),
                        &categories,
                        &role,
                    )?,
                    buckets,
                }
            }
            "hour_of_day" => Op::HourOfDay(self.typed_input(
                at,
                &single(&spec.hour_of_day).unwrap_or_default(),
                &timestamp,
                &role,
            )?),
            "day_of_week" => Op::DayOfWeek(self.typed_input(
                at,
                &single(&spec.day_of_week).unwrap_or_default(),
                &timestamp,
                &role,
            )?),
            "ratio" | "difference" => {
                let refs = if op == "ratio" {
                    &spec.ratio
                } else {
                    &spec.difference
                };
                let refs = refs
                    .as_ref()
                    .map(|r| r.get_ref().clone())
                    .unwrap_or_default();
                let (a, b) = self.pair(at, name, op, &refs)?;
                if op == "ratio" {
                    Op::Ratio(a, b)
                } else {
                    Op::Difference(a, b)
                }
            }
            "equal" => {
                let refs = spec
                    .equal
                    .as_ref()
                    .map(|r| r.get_ref().clone())
                    .unwrap_or_default();
                let [a, b] = refs.as_slice() else {
                    return self.error(at, format!("{role} takes two input names, [a, b]"));
                };
                let all = [
                    InputType::Boolean,
                    InputType::Integer,
                    InputType::Number,
                    InputType::Text,
                    InputType::Timestamp,
                ];
                let (a, b) = (
                    self.typed_input(at, a, &all, &role)?,
                    self.typed_input(at, b, &all, &role)?,
                );
                if self.inputs[a].ty != self.inputs[b].ty {
                    return self.error(
                        at,
                        format!(
                            "{role} compares '{}' ({}) with '{}' ({}): both must have one type",
                            self.inputs[a].name,
                            self.inputs[a].ty.name(),
                            self.inputs[b].name,
                            self.inputs[b].ty.name()
                        ),
                    );
                }
                Op::Equal(a, b)
            }
            "count" | "sum" | "distinct_count" | "seconds_since_last" => {
                self.window(name, op, at, spec)?
            }
            other => {
                return self.error(at, format!("feature '{name}': unknown operation `{other}`"));
            }
        })
    }

    fn window(&mut self, name: &str, op: &str, at: usize, spec: &FeatureSpec) -> Result<Op> {
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

    /// One 0/1 feature per category, named `<name>_<category>`.
    fn one_hot(&mut self, name: &str, at: usize, spec: &FeatureSpec, emit: bool) -> Result<()> {
        let reference = spec
            .one_hot
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_default();
        let input = self.typed_input(
            at,
            &reference,
            &[InputType::Text, InputType::Integer, InputType::Boolean],
            &format!("feature '{name}': `one_hot`"),
        )?;
        let categories = spec
            .categories
            .as_ref()
            .map(|c| c.get_ref().clone())
            .unwrap_or_default();
        if categories.is_empty() {
            return self.error(
                at,
                format!("feature '{name}': `one_hot` needs at least one category"),
            );
        }
        for category in categories {
            let op = Op::OneHot {
                input,
                category: category.clone(),
            };
            let default = spec.default.as_ref().map(|d| *d.get_ref());
            self.push_step(at, format!("{name}_{category}"), op, default, emit, false)?;
        }
        Ok(())
    }
}

fn names_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The operations a feature table names, with where each is.
fn present_operations(spec: &FeatureSpec) -> Vec<(&'static str, usize)> {
    let single = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.span().start);
    let pair = |s: &Option<Spanned<Vec<String>>>| s.as_ref().map(|s| s.span().start);
    [
        ("value", single(&spec.value)),
        ("standardize", single(&spec.standardize)),
        ("min_max", single(&spec.min_max)),
        ("log1p", single(&spec.log1p)),
        ("clip", single(&spec.clip)),
        ("bucketize", single(&spec.bucketize)),
        ("one_hot", single(&spec.one_hot)),
        ("hash", single(&spec.hash)),
        ("hour_of_day", single(&spec.hour_of_day)),
        ("day_of_week", single(&spec.day_of_week)),
        ("ratio", pair(&spec.ratio)),
        ("difference", pair(&spec.difference)),
        ("equal", pair(&spec.equal)),
        ("count", single(&spec.count)),
        ("sum", single(&spec.sum)),
        ("distinct_count", single(&spec.distinct_count)),
        ("seconds_since_last", single(&spec.seconds_since_last)),
    ]
    .into_iter()
    .filter_map(|(name, at)| at.map(|at| (name, at)))
    .collect()
}

/// The operation parameters a feature table gives, with where each is.
fn present_parameters(spec: &FeatureSpec) -> Vec<(&'static str, usize)> {
    let number = |p: &Option<Spanned<f64>>| p.as_ref().map(|p| p.span().start);
    [
        ("mean", number(&spec.mean)),
        ("std", number(&spec.std)),
        ("min", number(&spec.min)),
        ("max", number(&spec.max)),
        ("bounds", spec.bounds.as_ref().map(|p| p.span().start)),
        (
            "categories",
            spec.categories.as_ref().map(|p| p.span().start),
        ),
        ("buckets", spec.buckets.as_ref().map(|p| p.span().start)),
        ("minutes", spec.minutes.as_ref().map(|p| p.span().start)),
    ]
    .into_iter()
    .filter_map(|(name, at)| at.map(|at| (name, at)))
    .collect()
}
