//! Running a [`TransformPlan`] over events.

use serde::{Deserialize, Serialize};

use super::plan::{EntityPlan, InputType, Op, Operand, TransformPlan, WindowPlan};

/// One value of a raw event field (the WIT `field-value`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventValue {
    Null,
    Boolean(bool),
    Integer(i64),
    Number(f64),
    Text(String),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

impl EventValue {
    /// The value as a number: booleans are 0 or 1, timestamps milliseconds,
    /// text and null are missing (NaN).
    fn number(&self) -> f64 {
        match self {
            Self::Boolean(b) => f64::from(u8::from(*b)),
            Self::Integer(i) => *i as f64,
            Self::Number(x) => *x,
            Self::Timestamp(t) => *t as f64,
            Self::Null | Self::Text(_) => f64::NAN,
        }
    }

    /// The value as text, for entity keys, categories and hashing.
    fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            Self::Text(s) => Some(s.as_str().into()),
            Self::Integer(i) | Self::Timestamp(i) => Some(i.to_string().into()),
            Self::Boolean(b) => Some(if *b { "true" } else { "false" }.into()),
            Self::Number(x) => Some(x.to_string().into()),
            Self::Null => None,
        }
    }

    /// `self` as a value of `ty`, when it is one (integers are accepted for
    /// numbers and timestamps, RFC 3339 text for timestamps).
    pub fn coerce(self, ty: InputType) -> Result<Self, Self> {
        match (ty, self) {
            (_, Self::Null) => Ok(Self::Null),
            (InputType::Boolean, v @ Self::Boolean(_))
            | (InputType::Integer, v @ Self::Integer(_))
            | (InputType::Number, v @ Self::Number(_))
            | (InputType::Text, v @ Self::Text(_))
            | (InputType::Timestamp, v @ Self::Timestamp(_)) => Ok(v),
            (InputType::Number, Self::Integer(i)) => Ok(Self::Number(i as f64)),
            (InputType::Timestamp, Self::Integer(i)) => Ok(Self::Timestamp(i)),
            (InputType::Timestamp, Self::Text(s)) => match parse_rfc3339_ms(&s) {
                Some(ms) => Ok(Self::Timestamp(ms)),
                None => Err(Self::Text(s)),
            },
            (_, other) => Err(other),
        }
    }

    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Null => "null".into(),
            Self::Boolean(b) => format!("the boolean {b}"),
            Self::Integer(i) => format!("the integer {i}"),
            Self::Number(x) => format!("the number {x}"),
            Self::Text(s) => format!("the text {s:?}"),
            Self::Timestamp(t) => format!("the timestamp {t}"),
        }
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (a space may replace `T`;
/// no offset means UTC) into milliseconds since the Unix epoch. A date or a
/// time that does not exist is refused, never rolled over: `2026-02-30`,
/// `24:00:00` and an offset of `+24:00` are not times. Digits of the
/// fraction past milliseconds are dropped; a second of 60 (a leap second,
/// which RFC 3339 allows) reads as the next second.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        })
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|d| d.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        for (i, d) in fraction[..digits].iter().take(3).enumerate() {
            millis += i64::from(d - b'0') * [100, 10, 1][i];
        }
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = |a: u8, b: u8| i64::from(a - b'0') * 10 + i64::from(b - b'0');
            let (hours, minutes) = (v(digits[0], digits[1]), v(digits[2], digits[3]));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let minutes = hours * 60 + minutes;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// The days of `month` (1 to 12) in the proleptic Gregorian `year`.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.fffZ`, which
/// [`parse_rfc3339_ms`] reads back to the same value (years 0 to 9999).
pub fn format_rfc3339_ms(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (seconds, millis) = (in_day / 1000, in_day % 1000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The proleptic Gregorian date of a day since 1970-01-01 (the inverse of
/// [`days_from_civil`], Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where windowed aggregates are observed: the component's `feature-store`
/// import inside a component, anything else in tests.
pub trait WindowStore {
    /// Records one event of `entity` and returns each window's aggregate
    /// including it (`None`: no value yet).
    fn observe(
        &mut self,
        namespace: &str,
        entity: &str,
        timestamp_ms: i64,
        value: f64,
        distinct_key: Option<&str>,
        windows: &[WindowPlan],
    ) -> Result<Vec<Option<f64>>, StoreFailure>;
}

/// Why the window store failed (the WIT `store-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreFailure {
    #[error("the feature store is unavailable: {0}")]
    Unavailable(String),
    #[error("the feature store refused: {0}")]
    Denied(String),
    #[error("the feature store refused the request: {0}")]
    Invalid(String),
}

/// Why a transform failed, and the event (its index in the batch) it failed
/// on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    /// An event is malformed: `field` (when one is at fault) and what to fix.
    #[error("event {event}: {message}")]
    BadInput {
        event: usize,
        field: Option<String>,
        message: String,
    },
    /// The feature store failed or refused while the event was observed.
    #[error("event {event}: {failure}")]
    FeatureStore { event: usize, failure: StoreFailure },
}

impl TransformPlan {
    /// Appends one feature row per event to `rows`, in event order. Every
    /// event is checked before any is observed, so a malformed event in a
    /// batch records nothing of the batch. Each event's windows are then
    /// observed before the next event's, so a batch gives the same rows as
    /// its events one at a time.
    pub fn transform(
        &self,
        events: Vec<Vec<(String, EventValue)>>,
        store: &mut dyn WindowStore,
        rows: &mut Vec<f64>,
    ) -> Result<(), TransformError> {
        let resolved: Vec<Vec<EventValue>> = events
            .into_iter()
            .enumerate()
            .map(|(index, event)| self.resolve_inputs(index, event))
            .collect::<Result<_, _>>()?;
        let mut windows: Vec<Vec<Option<f64>>> = Vec::with_capacity(self.entities.len());
        let mut steps = vec![f64::NAN; self.steps.len()];
        for (index, inputs) in resolved.iter().enumerate() {
            windows.clear();
            for entity in &self.entities {
                windows.push(self.observe(index, entity, inputs, store)?);
            }
            for (i, step) in self.steps.iter().enumerate() {
                let value = step.op.apply(inputs, &steps, &windows);
                steps[i] = match step.default {
                    Some(d) if value.is_nan() => d,
                    _ => value,
                };
            }
            rows.extend(
                self.steps
                    .iter()
                    .zip(&steps)
                    .filter(|(s, _)| s.emit)
                    .map(|(_, v)| *v),
            );
        }
        Ok(())
    }

    /// The event's value of each input, in input order: checked against its
    /// type, defaulted when absent.
    fn resolve_inputs(
        &self,
        index: usize,
        mut event: Vec<(String, EventValue)>,
    ) -> Result<Vec<EventValue>, TransformError> {
        self.inputs
            .iter()
            .map(|input| {
                let given = event
                    .iter()
                    .position(|(name, _)| *name == input.name)
                    .map(|at| std::mem::replace(&mut event[at].1, EventValue::Null))
                    .unwrap_or(EventValue::Null);
                let value = given
                    .coerce(input.ty)
                    .map_err(|wrong| TransformError::BadInput {
                        event: index,
                        field: Some(input.name.clone()),
                        message: format!(
                            "field '{}' must be {} but is {}",
                            input.name,
                            article(input.ty),
                            wrong.describe()
                        ),
                    })?;
                match (value, &input.default) {
                    (EventValue::Null, _) if input.required => Err(TransformError::BadInput {
                        event: index,
                        field: Some(input.name.clone()),
                        message: format!("required field '{}' is missing", input.name),
                    }),
                    (EventValue::Null, Some(default)) => Ok(default.clone()),
                    (value, _) => Ok(value),
                }
            })
            .collect()
    }

    /// Observes the event into one entity's windows; all missing when a key
    /// input is missing or empty (there is no entity to count it for).
    fn observe(
        &self,
        index: usize,
        entity: &EntityPlan,
        inputs: &[EventValue],
        store: &mut dyn WindowStore,
    ) -> Result<Vec<Option<f64>>, TransformError> {
        let mut key = String::new();
        for (i, &input) in entity.key.iter().enumerate() {
            let Some(part) = inputs[input].text().filter(|t| !t.is_empty()) else {
                return Ok(vec![None; entity.windows.len()]);
            };
            if i > 0 {
                key.push('|');
            }
            key.push_str(&part);
        }
        let time = self
            .time
            .and_then(|t| match inputs[t] {
                EventValue::Timestamp(ms) => Some(ms),
                _ => None,
            })
            .ok_or_else(|| TransformError::BadInput {
                event: index,
                field: None,
                message: "the event has no time, which windows need".into(),
            })?;
        let value = entity
            .value
            .map(|v| inputs[v].number())
            .filter(|v| v.is_finite())
            .unwrap_or(0.0);
        let distinct = entity.distinct.and_then(|d| inputs[d].text());
        store
            .observe(
                &entity.namespace,
                &key,
                time,
                value,
                distinct.as_deref(),
                &entity.windows,
            )
            .map_err(|failure| TransformError::FeatureStore {
                event: index,
                failure,
            })
    }
}

fn article(ty: InputType) -> String {
    match ty {
        InputType::Integer => "an integer".into(),
        other => format!("a {}", other.name()),
    }
}

impl Op {
    fn apply(&self, inputs: &[EventValue], steps: &[f64], windows: &[Vec<Option<f64>>]) -> f64 {
        let get = |operand: &Operand| match *operand {
            Operand::Input(i) => inputs[i].number(),
            Operand::Step(s) => steps[s],
        };
        let timestamp = |i: usize| match inputs[i] {
            EventValue::Timestamp(ms) => Some(ms),
            _ => None,
        };
        match self {
            Op::Value(x) => get(x),
            Op::Standardize { x, mean, std } => (get(x) - mean) / std,
            Op::MinMax { x, min, max } => (get(x) - min) / (max - min),
            Op::Log1p(x) => libm::log1p(get(x)),
            Op::Clip { x, min, max } => {
                let v = get(x);
                if v.is_nan() { v } else { v.clamp(*min, *max) }
            }
            Op::Bucketize { x, bounds } => {
                let v = get(x);
                if v.is_nan() {
                    v
                } else {
                    bounds.partition_point(|b| *b <= v) as f64
                }
            }
            Op::OneHot { input, category } => match inputs[*input].text() {
                Some(text) => f64::from(u8::from(text == category.as_str())),
                None => f64::NAN,
            },
            Op::Hash { input, buckets } => match inputs[*input].text() {
                Some(text) => (crate::fnv::fnv1a64(text.as_bytes()) % u64::from(*buckets)) as f64,
                None => f64::NAN,
            },
            Op::HourOfDay(i) => timestamp(*i).map_or(f64::NAN, |ms| {
                ms.div_euclid(3_600_000).rem_euclid(24) as f64
            }),
            Op::DayOfWeek(i) => timestamp(*i).map_or(f64::NAN, |ms| {
                // 1970-01-01 was a Thursday (3 when Monday is 0).
                (ms.div_euclid(86_400_000) + 3).rem_euclid(7) as f64
            }),
            Op::Ratio(a, b) => {
                let d = get(b);
                if d == 0.0 { f64::NAN } else { get(a) / d }
            }
            Op::Difference(a, b) => get(a) - get(b),
            Op::Equal(a, b) => match (&inputs[*a], &inputs[*b]) {
                (EventValue::Null, _) | (_, EventValue::Null) => f64::NAN,
                (x, y) => f64::from(u8::from(x == y)),
            },
            Op::Window { entity, window } => windows[*entity][*window].unwrap_or(f64::NAN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_timestamps_format_and_read_back() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339_ms(1_795_257_000_250),
            "2026-11-21T10:30:00.250Z"
        );
        // Every day of four centuries around the epoch, at varying times.
        for day in -146_097i64..146_097 {
            let ms = day * 86_400_000 + (day * 7_919_123).rem_euclid(86_400_000);
            assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms)), Some(ms), "{ms}");
        }
    }

    #[test]
    fn rfc3339_timestamps() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-21T10:30:00.250Z"),
            Some(1_795_257_000_250)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-21 12:30:00+02:00"),
            Some(1_795_257_000_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T00:00:00Z"),
            Some(951_782_400_000)
        );
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(
            parse_rfc3339_ms("9999-12-31T23:59:59Z"),
            Some(253_402_300_799_000)
        );
        for bad in [
            "",
            "2026-11-21",
            "2026-13-01T00:00:00Z",
            "2026-11-21T10:30:00Q",
            "x026-11-21T10:30:00Z",
            // Dates and times that do not exist are refused, not rolled over.
            "2026-02-30T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:60:00Z",
            "2026-01-01T00:00:61Z",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00+01:60",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    /// Records what is observed.
    #[derive(Default)]
    struct Recorder(Vec<(String, i64)>);

    impl WindowStore for Recorder {
        fn observe(
            &mut self,
            _namespace: &str,
            entity: &str,
            timestamp_ms: i64,
            _value: f64,
            _distinct_key: Option<&str>,
            windows: &[WindowPlan],
        ) -> Result<Vec<Option<f64>>, StoreFailure> {
            self.0.push((entity.to_owned(), timestamp_ms));
            Ok(vec![Some(self.0.len() as f64); windows.len()])
        }
    }

    fn plan() -> TransformPlan {
        use super::super::plan::{Aggregate, InputPlan};
        let input = |name: &str, ty, required| InputPlan {
            name: name.into(),
            ty,
            required,
            default: None,
        };
        TransformPlan {
            name: "t".into(),
            version: "1".into(),
            inputs: vec![
                input("ts", InputType::Timestamp, true),
                input("card", InputType::Text, false),
            ],
            time: Some(0),
            entities: vec![EntityPlan {
                namespace: "card".into(),
                key: vec![1],
                value: None,
                distinct: None,
                windows: vec![WindowPlan {
                    name: "n".into(),
                    aggregate: Aggregate::Count,
                    seconds: 60,
                }],
            }],
            steps: vec![super::super::plan::StepPlan {
                name: "n".into(),
                op: Op::Window {
                    entity: 0,
                    window: 0,
                },
                default: None,
                emit: true,
                categorical: false,
            }],
        }
    }

    #[test]
    fn a_bad_event_in_a_batch_observes_nothing_of_the_batch() {
        let event = |ts: EventValue, card: &str| {
            vec![
                ("ts".to_owned(), ts),
                ("card".to_owned(), EventValue::Text(card.into())),
            ]
        };
        let mut store = Recorder::default();
        let mut rows = Vec::new();
        let result = plan().transform(
            vec![
                event(EventValue::Timestamp(0), "a"),
                event(EventValue::Text("2026-02-30T00:00:00Z".into()), "b"),
            ],
            &mut store,
            &mut rows,
        );
        assert!(
            matches!(&result, Err(TransformError::BadInput { event: 1, field: Some(f), .. }) if f == "ts"),
            "{result:?}"
        );
        assert!(store.0.is_empty() && rows.is_empty(), "{:?}", store.0);
    }

    #[test]
    fn an_empty_key_is_no_entity() {
        let mut store = Recorder::default();
        let mut rows = Vec::new();
        plan()
            .transform(
                vec![vec![
                    ("ts".to_owned(), EventValue::Timestamp(0)),
                    ("card".to_owned(), EventValue::Text(String::new())),
                ]],
                &mut store,
                &mut rows,
            )
            .expect("transform");
        assert!(store.0.is_empty());
        assert!(rows[0].is_nan());
    }
}
