//! A JSON request body whose one array field (`rows`, `transactions`)
//! holds at most a limit of elements, counted as they are read: a body of a
//! million tiny elements is refused after the first `limit + 1`, never
//! materialized whole first.
//!
//! ```text
//! let (rows, options): (Vec<Row>, ScoreOptions) =
//!     bounded_json::parse(body, "rows", max_rows)?;
//! ```
//!
//! The other fields of the object make `Rest` (a `Deserialize` struct,
//! usually with `deny_unknown_fields`); a field given twice is refused.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BoundedJsonError {
    /// The array has more than `limit` elements.
    #[error("more than {limit} elements")]
    TooMany { limit: usize },
    /// The body is not the JSON expected (the message says where and why).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Parses `body` as a JSON object whose field `field` is an array of at most
/// `limit` `T`s (required) and whose other fields make `Rest`.
pub fn parse<T: DeserializeOwned, Rest: DeserializeOwned>(
    body: &[u8],
    field: &'static str,
    limit: usize,
) -> Result<(Vec<T>, Rest), BoundedJsonError> {
    let exceeded = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let seed = Object::<T, Rest> {
        field,
        limit,
        exceeded: &exceeded,
        kinds: PhantomData,
    };
    let parsed = seed.deserialize(&mut deserializer).and_then(|parsed| {
        deserializer.end()?;
        Ok(parsed)
    });
    match parsed {
        Err(_) if exceeded.get() => Err(BoundedJsonError::TooMany { limit }),
        other => Ok(other?),
    }
}

/// The whole object.
struct Object<'a, T, Rest> {
    field: &'static str,
    limit: usize,
    exceeded: &'a Cell<bool>,
    kinds: PhantomData<fn() -> (T, Rest)>,
}

impl<'de, T: DeserializeOwned, Rest: DeserializeOwned> DeserializeSeed<'de>
    for Object<'_, T, Rest>
{
    type Value = (Vec<T>, Rest);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: DeserializeOwned, Rest: DeserializeOwned> Visitor<'de> for Object<'_, T, Rest> {
    type Value = (Vec<T>, Rest);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with an array \"{}\"", self.field)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut items = None;
        let mut rest = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == self.field {
                if items.is_some() {
                    return Err(de::Error::duplicate_field(self.field));
                }
                items = Some(map.next_value_seed(Array::<T> {
                    limit: self.limit,
                    exceeded: self.exceeded,
                    kind: PhantomData,
                })?);
            } else {
                let value: Value = map.next_value()?;
                if rest.contains_key(&key) {
                    return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
                }
                rest.insert(key, value);
            }
        }
        let items = items.ok_or_else(|| de::Error::missing_field(self.field))?;
        let rest = Rest::deserialize(Value::Object(rest)).map_err(de::Error::custom)?;
        Ok((items, rest))
    }
}

/// The bounded array: elements are kept until the limit; one more is
/// skipped unread (`IgnoredAny` allocates nothing) and refuses the array.
struct Array<'a, T> {
    limit: usize,
    exceeded: &'a Cell<bool>,
    kind: PhantomData<fn() -> T>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Array<'_, T> {
    type Value = Vec<T>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Array<'_, T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at most {} elements", self.limit)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // The client's size hint is not trusted: the vector grows as elements arrive.
        let mut items = Vec::new();
        loop {
            if items.len() == self.limit {
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    self.exceeded.set(true);
                    return Err(de::Error::custom(format_args!(
                        "more than {} elements",
                        self.limit
                    )));
                }
                return Ok(items);
            }
            match seq.next_element()? {
                Some(item) => items.push(item),
                None => return Ok(items),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Options {
        #[serde(default)]
        key: Option<String>,
    }

    fn check(body: &str, limit: usize) -> Result<(Vec<u32>, Options), BoundedJsonError> {
        parse(body.as_bytes(), "rows", limit)
    }

    #[test]
    fn the_array_and_the_other_fields_are_read() {
        let (rows, options) = check(r#"{"key": "k", "rows": [1, 2, 3]}"#, 3).expect("parses");
        assert_eq!(rows, [1, 2, 3]);
        assert_eq!(options.key.as_deref(), Some("k"));
    }

    #[test]
    fn one_element_past_the_limit_refuses_the_body() {
        let over = check(r#"{"rows": [1, 2, 3, 4]}"#, 3);
        assert!(
            matches!(over, Err(BoundedJsonError::TooMany { limit: 3 })),
            "{over:?}"
        );
        // Counting stops at the limit: what follows is never read.
        let over = check(r#"{"rows": [1, 2, 3, 4, "#, 3);
        assert!(
            matches!(over, Err(BoundedJsonError::TooMany { limit: 3 })),
            "{over:?}"
        );
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        for (body, says) in [
            (r#"{"key": "k"}"#, "missing field `rows`"),
            (r#"{"rows": [], "rows": []}"#, "duplicate field `rows`"),
            (
                r#"{"rows": [], "key": "a", "key": "b"}"#,
                "duplicate field `key`",
            ),
            (r#"{"rows": [], "typo": 1}"#, "unknown field `typo`"),
            (r#"{"rows": {}}"#, "an array of at most 3 elements"),
            (r#"{"rows": ["x"]}"#, "invalid type"),
            (r#"{"rows": []} trailing"#, "trailing characters"),
            ("[]", "an object with an array \"rows\""),
        ] {
            let error = check(body, 3).expect_err(body);
            assert!(
                matches!(error, BoundedJsonError::Json(_)) && error.to_string().contains(says),
                "{body}: {error}"
            );
        }
    }
}
