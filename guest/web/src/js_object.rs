//! What JavaScript hands a pipeline, checked before it reaches the event
//! rules: the spec's text, and objects read through their JSON form
//! (transactions, options).
//!
//! JSON cannot say NaN, an infinity or an invalid `Date` (JSON.stringify
//! writes `null`), so those are refused here, naming the field, rather than
//! read as missing; a value JSON.stringify cannot write (a BigInt, a
//! circular object) is refused with its reason. Nothing JavaScript throws
//! is let unwind through the module (it would leave the pipeline borrowed).

use js_sys::{Array, Date, Object};
use wasm_bindgen::prelude::*;

/// The longest transaction, as JSON text, read at all: well past what the
/// event rules accept (256 fields of 1,024 bytes), short of what a page's
/// memory would have to grow by to refuse it.
const MAX_TRANSACTION_CHARS: u32 = 1 << 20;

/// A text argument (`what` names it in the message).
pub(crate) fn text(value: &JsValue, what: &str) -> Result<String, String> {
    value.as_string().ok_or_else(|| {
        format!(
            "{what} must be a string (read the file as text, e.g. readFileSync(path, \"utf8\"))"
        )
    })
}

/// A plain object (not an array, not null), read as `T` through its JSON
/// form, its values checked first.
pub(crate) fn object<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    if !value.is_object() || Array::is_array(value) || value.is_instance_of::<Date>() {
        return Err("expected an object of named fields".into());
    }
    // An object with its own `toJSON` is written as what that returns.
    let has_to_json =
        js_sys::Reflect::get(value, &JsValue::from_str("toJSON")).is_ok_and(|f| f.is_function());
    if !has_to_json {
        check_values(value.unchecked_ref::<Object>())?;
    }
    let text = js_sys::JSON::stringify(value).map_err(|e| {
        let why = e.dyn_ref::<js_sys::Error>().map_or_else(
            || "JSON.stringify failed".to_owned(),
            |e| String::from(e.message()),
        );
        format!("it cannot be written as JSON: {why}")
    })?;
    if text.length() > MAX_TRANSACTION_CHARS {
        return Err(format!(
            "it is {} characters long as JSON, past the {} a transaction may take (its fields are few and short: 256 of at most 1,024 bytes by default)",
            text.length(),
            MAX_TRANSACTION_CHARS
        ));
    }
    let text = text.as_string().ok_or("JSON.stringify gave no text")?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

#[wasm_bindgen]
extern "C" {
    /// `Object.entries`, its exception (a throwing getter, a Proxy's trap)
    /// caught: nothing JavaScript throws may unwind through the module.
    #[wasm_bindgen(js_namespace = Object, js_name = entries, catch)]
    fn object_entries(object: &Object) -> Result<Array, JsValue>;
}

/// Refuses a field whose value JSON would silently turn into `null` or
/// drop: NaN, an infinity, an invalid Date, a function, a symbol.
fn check_values(object: &Object) -> Result<(), String> {
    let entries = object_entries(object).map_err(|e| {
        let why = e.dyn_ref::<js_sys::Error>().map_or_else(
            || "reading it failed".to_owned(),
            |e| String::from(e.message()),
        );
        format!("its fields cannot be read: {why}")
    })?;
    for entry in entries.iter() {
        let entry: Array = entry.unchecked_into();
        let name = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let shown: String = name.chars().take(64).collect();
        if let Some(x) = value.as_f64().filter(|x| !x.is_finite()) {
            return Err(format!(
                "field '{shown}' must be a finite number, not {x} (leave it out or null when it is missing)"
            ));
        }
        if let Some(date) = value.dyn_ref::<Date>()
            && date.get_time().is_nan()
        {
            return Err(format!("field '{shown}' is an invalid Date"));
        }
        if value.is_function() || value.is_symbol() {
            return Err(format!(
                "field '{shown}' is a {}, not a value",
                value.js_typeof().as_string().unwrap_or_default()
            ));
        }
    }
    Ok(())
}
