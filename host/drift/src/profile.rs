//! A pipeline's reference profile: what its features, scores and
//! decisions looked like on the training data, made by `edgescore
//! profile` with the pipeline's own transform and model, and frozen with
//! the pipeline version (`profile.json` beside `pipeline.toml`).

use serde::{Deserialize, Serialize};

use crate::bins::{Bins, quantile_edges};

/// The profile format this build writes and reads.
pub const PROFILE_FORMAT: u32 = 1;

/// Reference-quantile bins per numeric feature unless told otherwise.
pub const DEFAULT_BINS: usize = 10;

/// A categorical feature keeps its most frequent categories up to this
/// many; the rest of the reference counts as `other`.
pub const MAX_CATEGORIES: usize = 64;

/// A numeric feature whose reference takes at most this many distinct
/// values (one-hot flags, booleans, small counts) is profiled by its
/// values, as a categorical one: quantile bins would merge them (a 0/1
/// flag's edges are its minimum and maximum, one bin) and hide a change
/// in their proportions.
pub const MAX_DISCRETE_VALUES: usize = 16;

/// How a feature is binned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Reference-quantile bins; PSI.
    Numeric,
    /// The reference's categories (one-hot flags, codes); PSI and
    /// Jensen-Shannon.
    Categorical,
}

/// One distribution: its bins and the reference's counts per slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub name: String,
    #[serde(flatten)]
    pub bins: Bins,
    /// Counts per slot of [`Bins::slots`].
    pub counts: Vec<u64>,
}

impl Distribution {
    pub fn kind(&self) -> Kind {
        match self.bins {
            Bins::Numeric { .. } => Kind::Numeric,
            Bins::Categorical { .. } => Kind::Categorical,
        }
    }
}

/// How many of each decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decisions {
    pub allow: u64,
    pub review: u64,
    pub block: u64,
}

impl Decisions {
    /// Counts one decision by its name (`allow`, `review`, `block`).
    pub fn add(&mut self, decision: &str) {
        match decision {
            "block" => self.block += 1,
            "review" => self.review += 1,
            _ => self.allow += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.allow + self.review + self.block
    }
}

/// The reference profile of one pipeline version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub format: u32,
    /// The pipeline it was made with (name, and the transform's name and
    /// version, as `pipeline.toml` and the transform describe them).
    pub pipeline: String,
    pub transform: String,
    /// SHA-256 of the model file the pipeline names (its model file or
    /// component, as on disk): a profile is refused by a version whose
    /// model differs.
    pub model_file_sha256: String,
    /// Rows of training data profiled.
    pub rows: u64,
    /// One per feature, in the feature row's order.
    pub features: Vec<Distribution>,
    /// The score's distribution (reference-quantile bins).
    pub score: Distribution,
    pub decisions: Decisions,
}

/// Why a profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("not a profile: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "profile format {found}; this build reads format {PROFILE_FORMAT}: make it again with `edgescore profile`"
    )]
    Format { found: u32 },
    #[error("{0}")]
    Mismatch(String),
}

impl Profile {
    /// Reads a profile's JSON and checks its shape.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ProfileError> {
        let profile: Self = serde_json::from_slice(bytes)?;
        if profile.format != PROFILE_FORMAT {
            return Err(ProfileError::Format {
                found: profile.format,
            });
        }
        for d in profile.features.iter().chain([&profile.score]) {
            if d.counts.len() != d.bins.slots() {
                return Err(ProfileError::Mismatch(format!(
                    "'{}' has {} counts for {} slots",
                    d.name,
                    d.counts.len(),
                    d.bins.slots()
                )));
            }
        }
        Ok(profile)
    }

    /// Reads a profile's JSON and checks that it fits a pipeline producing
    /// `features` with the model file of `model_file_sha256`
    /// ([`Profile::from_json`], then [`Profile::check_fits`]).
    pub fn from_json_fitting(
        bytes: &[u8],
        features: &[String],
        model_file_sha256: &str,
    ) -> Result<Self, ProfileError> {
        let profile = Self::from_json(bytes)?;
        profile.check_fits(features, model_file_sha256)?;
        Ok(profile)
    }

    /// Checks that this profile was made for a pipeline producing
    /// `features` (names in order) with the model of `model_sha256`.
    pub fn check_fits(&self, features: &[String], model_sha256: &str) -> Result<(), ProfileError> {
        let names: Vec<&str> = self.features.iter().map(|d| d.name.as_str()).collect();
        if names != features.iter().map(String::as_str).collect::<Vec<_>>() {
            let first = names
                .iter()
                .zip(features)
                .position(|(a, b)| *a != b)
                .unwrap_or(names.len().min(features.len()));
            return Err(ProfileError::Mismatch(format!(
                "the profile has {} features and the pipeline {}; the first difference is at \
                 position {first} ({:?} against {:?}): make the profile again with `edgescore profile`",
                names.len(),
                features.len(),
                names.get(first),
                features.get(first)
            )));
        }
        if self.model_file_sha256 != model_sha256 {
            return Err(ProfileError::Mismatch(format!(
                "the profile was made with model {} and the pipeline's model is {}: make the \
                 profile again with `edgescore profile`",
                short(&self.model_file_sha256),
                short(model_sha256)
            )));
        }
        Ok(())
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Collects the rows of the training data, then bins them.
#[derive(Debug)]
pub struct ProfileBuilder {
    names: Vec<(String, Kind)>,
    bins: usize,
    columns: Vec<Vec<f64>>,
    scores: Vec<f64>,
    decisions: Decisions,
}

impl ProfileBuilder {
    /// A builder for features `names` (with their kinds), numeric ones
    /// cut into `bins` reference-quantile bins.
    pub fn new(names: Vec<(String, Kind)>, bins: usize) -> Self {
        let columns = vec![Vec::new(); names.len()];
        Self {
            names,
            bins: bins.max(1),
            columns,
            scores: Vec::new(),
            decisions: Decisions::default(),
        }
    }

    /// Adds one scored row (its features in order; NaN is missing).
    pub fn add(&mut self, row: &[f64], score: f64, decision: &str) {
        for (column, &x) in self.columns.iter_mut().zip(row) {
            column.push(x);
        }
        self.scores.push(score);
        self.decisions.add(decision);
    }

    /// The profile, for `pipeline` / `transform` with `model_sha256`.
    pub fn finish(self, pipeline: &str, transform: &str, model_sha256: &str) -> Profile {
        let features = self
            .names
            .iter()
            .zip(&self.columns)
            .map(|((name, kind), values)| {
                let kind = if *kind == Kind::Numeric && is_discrete(values) {
                    Kind::Categorical
                } else {
                    *kind
                };
                distribution(name, kind, values, self.bins)
            })
            .collect();
        Profile {
            format: PROFILE_FORMAT,
            pipeline: pipeline.to_owned(),
            transform: transform.to_owned(),
            model_file_sha256: model_sha256.to_owned(),
            rows: self.scores.len() as u64,
            features,
            score: distribution("score", Kind::Numeric, &self.scores, self.bins),
            decisions: self.decisions,
        }
    }
}

/// Whether `values` take at most [`MAX_DISCRETE_VALUES`] distinct finite
/// values.
fn is_discrete(values: &[f64]) -> bool {
    let mut seen: Vec<u64> = Vec::with_capacity(MAX_DISCRETE_VALUES + 1);
    for x in values.iter().filter(|x| x.is_finite()) {
        let bits = (x + 0.0).to_bits();
        if !seen.contains(&bits) {
            if seen.len() == MAX_DISCRETE_VALUES {
                return false;
            }
            seen.push(bits);
        }
    }
    true
}

/// The bins of `values` and their counts. Edges and categories come from
/// the finite values (JSON has no infinity); an infinite value counts as
/// below or above the range (or `other`).
pub fn distribution(name: &str, kind: Kind, values: &[f64], bins: usize) -> Distribution {
    let mut present: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    present.sort_by(f64::total_cmp);
    let bins = match kind {
        Kind::Numeric => Bins::Numeric {
            edges: quantile_edges(&present, bins).unwrap_or_default(),
        },
        Kind::Categorical => {
            let mut counts: Vec<(f64, u64)> = Vec::new();
            for &x in &present {
                match counts.last_mut() {
                    Some((v, n)) if *v == x => *n += 1,
                    _ => counts.push((x, 1)),
                }
            }
            if counts.len() > MAX_CATEGORIES {
                counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
                counts.truncate(MAX_CATEGORIES);
            }
            let mut categories: Vec<f64> = counts.into_iter().map(|(v, _)| v).collect();
            categories.sort_by(f64::total_cmp);
            Bins::Categorical { categories }
        }
    };
    let mut counts = vec![0u64; bins.slots()];
    for &x in values {
        counts[bins.slot(x)] += 1;
    }
    Distribution {
        name: name.to_owned(),
        bins,
        counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_round_trips_and_is_checked() {
        let mut builder = ProfileBuilder::new(
            vec![
                ("amount".into(), Kind::Numeric),
                ("online".into(), Kind::Categorical),
            ],
            4,
        );
        for i in 0..100 {
            let amount = if i % 10 == 0 { f64::NAN } else { f64::from(i) };
            builder.add(&[amount, f64::from(i % 2)], f64::from(i) / 100.0, "allow");
        }
        let profile = builder.finish("fraud", "fraud-features 1", "ab".repeat(32).as_str());
        let json = serde_json::to_vec(&profile).expect("serializes");
        let back = Profile::from_json(&json).expect("reads back");
        assert_eq!(back, profile);
        assert_eq!(profile.features[0].counts.iter().sum::<u64>(), 100);
        assert_eq!(*profile.features[0].counts.last().expect("missing"), 10);
        // A 0/1 flag declared numeric is profiled by its values.
        assert_eq!(profile.features[1].kind(), Kind::Categorical);
        assert_eq!(profile.features[1].counts, [50, 50, 0, 0]);
        let names = ["amount".to_owned(), "online".to_owned()];
        profile.check_fits(&names, &"ab".repeat(32)).expect("fits");
        let err = profile
            .check_fits(&names, &"cd".repeat(32))
            .expect_err("another model");
        assert!(err.to_string().contains("make the profile again"), "{err}");
        let err = profile
            .check_fits(&names[..1], &"ab".repeat(32))
            .expect_err("other features");
        assert!(err.to_string().contains("position 1"), "{err}");
    }
}
