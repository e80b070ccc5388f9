//! What a version's clients send: for a model the manifest's features (name
//! and kind, in row order, since the V2 tensor is positional), for a pipeline
//! its transform's inputs (name, type, whether required).
//!
//! A swap to a version with another schema would make every existing
//! client's requests fail (or, reordered, score the wrong columns), so the
//! registry refuses it unless the routing says `allow_schema_change`.

use super::loaded_version::LoadedVersion;

/// Names listed in a description before the rest are counted.
const LISTED: usize = 8;

/// The schema of one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureSchema {
    /// `features` for a model, `inputs` for a pipeline: what the words say.
    what: &'static str,
    fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    /// Empty when the model names no features.
    name: String,
    kind: String,
}

impl FeatureSchema {
    pub fn of(version: &LoadedVersion) -> Self {
        if let Some(pipeline) = version.pipeline() {
            let fields = pipeline
                .transform_component()
                .inputs()
                .iter()
                .map(|input| {
                    let kind = input.ty.name();
                    Field {
                        name: input.name.clone(),
                        kind: if input.required {
                            format!("{kind}, required")
                        } else {
                            kind.to_owned()
                        },
                    }
                })
                .collect();
            return Self {
                what: "inputs",
                fields,
            };
        }
        Self::of_features(
            version
                .manifest()
                .features
                .iter()
                .map(|f| (f.name.as_str(), f.kind.as_str())),
        )
    }

    /// A model's schema from its (name, kind) features in row order.
    pub fn of_features<'a>(features: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            what: "features",
            fields: features
                .into_iter()
                .map(|(name, kind)| Field {
                    name: name.to_owned(),
                    kind: kind.to_owned(),
                })
                .collect(),
        }
    }

    /// How `self` differs from `before`, in words; `None` when it does not.
    pub fn change_from(&self, before: &Self) -> Option<String> {
        if self == before {
            return None;
        }
        let what = self.what;
        let count = if self.fields.len() == before.fields.len() {
            format!("{} {what}", self.fields.len())
        } else {
            format!(
                "{} {what} instead of {}",
                self.fields.len(),
                before.fields.len()
            )
        };
        let named = |s: &Self| s.fields.iter().all(|f| !f.name.is_empty());
        let mut changes = Vec::new();
        if named(self) && named(before) {
            let find = |s: &'_ Self, name: &str| s.fields.iter().position(|f| f.name == name);
            let added: Vec<&str> = self
                .fields
                .iter()
                .filter(|f| find(before, &f.name).is_none())
                .map(|f| f.name.as_str())
                .collect();
            let removed: Vec<&str> = before
                .fields
                .iter()
                .filter(|f| find(self, &f.name).is_none())
                .map(|f| f.name.as_str())
                .collect();
            let retyped: Vec<String> = self
                .fields
                .iter()
                .filter_map(|f| {
                    let old = &before.fields[find(before, &f.name)?];
                    (old.kind != f.kind).then(|| format!("{} ({} -> {})", f.name, old.kind, f.kind))
                })
                .collect();
            if !added.is_empty() {
                changes.push(format!("added {}", listed(&added)));
            }
            if !removed.is_empty() {
                changes.push(format!("removed {}", listed(&removed)));
            }
            if !retyped.is_empty() {
                changes.push(format!("changed kind of {}", listed(&retyped)));
            }
            if changes.is_empty() {
                changes.push("the same names in another order".to_owned());
            }
        } else {
            let retyped: Vec<String> = self
                .fields
                .iter()
                .zip(&before.fields)
                .enumerate()
                .filter(|(_, (now, old))| now != old)
                .map(|(i, (now, old))| format!("#{i} {} -> {}", describe(old), describe(now)))
                .collect();
            if !retyped.is_empty() {
                changes.push(format!("changed {}", listed(&retyped)));
            }
        }
        if changes.is_empty() {
            Some(count)
        } else {
            Some(format!("{count}; {}", changes.join("; ")))
        }
    }
}

fn describe(field: &Field) -> String {
    if field.name.is_empty() {
        field.kind.clone()
    } else {
        format!("{} {}", field.name, field.kind)
    }
}

/// The first few items, then how many more.
fn listed<T: AsRef<str>>(items: &[T]) -> String {
    let shown: Vec<&str> = items.iter().take(LISTED).map(AsRef::as_ref).collect();
    let mut text = shown.join(", ");
    if items.len() > LISTED {
        text.push_str(&format!(" and {} more", items.len() - LISTED));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(features: &[(&str, &str)]) -> FeatureSchema {
        FeatureSchema::of_features(features.iter().copied())
    }

    #[test]
    fn equal_schemas_have_no_change() {
        let a = schema(&[("amount", "numeric"), ("hour", "numeric")]);
        assert_eq!(a.change_from(&a.clone()), None);
    }

    #[test]
    fn each_kind_of_change_is_named() {
        let four = schema(&[
            ("amount", "numeric"),
            ("hour", "numeric"),
            ("mcc", "categorical"),
            ("age", "numeric"),
        ]);
        let grown = schema(&[
            ("amount", "numeric"),
            ("hour", "categorical"),
            ("mcc", "categorical"),
            ("velocity", "numeric"),
            ("distance", "numeric"),
        ]);
        assert_eq!(
            grown.change_from(&four).expect("changed"),
            "5 features instead of 4; added velocity, distance; removed age; \
             changed kind of hour (numeric -> categorical)"
        );
        let reordered = schema(&[
            ("hour", "numeric"),
            ("amount", "numeric"),
            ("mcc", "categorical"),
            ("age", "numeric"),
        ]);
        assert_eq!(
            reordered.change_from(&four).expect("changed"),
            "4 features; the same names in another order"
        );
    }

    #[test]
    fn unnamed_features_compare_by_position() {
        let two = schema(&[("", "numeric"), ("", "numeric")]);
        let three = schema(&[("", "numeric"), ("", "categorical"), ("", "numeric")]);
        assert_eq!(
            three.change_from(&two).expect("changed"),
            "3 features instead of 2; changed #1 numeric -> categorical"
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        let many = FeatureSchema::of_features(names.iter().map(|n| (n.as_str(), "numeric")));
        let none = schema(&[]);
        assert_eq!(
            many.change_from(&none).expect("changed"),
            "20 features instead of 0; added f0, f1, f2, f3, f4, f5, f6, f7 and 12 more"
        );
    }
}
