//! The `[entities.<name>]` tables: feature-store namespaces, each keyed by
//! inputs, with the inputs `sum` adds and `distinct_count` counts.

use edgescore_models::transform::InputType;
use toml::Spanned;

use super::{Compiler, Result};
use crate::line_of;
use crate::syntax::EntitySpec;

/// An entity as declared, before any feature uses it.
pub(super) struct DeclaredEntity {
    pub(super) line: usize,
    pub(super) key: Vec<usize>,
    pub(super) value: Option<usize>,
    pub(super) distinct: Option<usize>,
}

impl Compiler<'_> {
    /// Declares entity `name`; it joins the plan when a window uses it.
    pub(super) fn entity(
        &mut self,
        name: &Spanned<String>,
        entity: &Spanned<EntitySpec>,
    ) -> Result<()> {
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
}

/// Whether `name` is usable as a store namespace: letters, digits, '-', '_'.
fn names_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
