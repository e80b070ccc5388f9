//! The `feature-store` import as the host gives it to a transform
//! component: each call checks the component's grant, then goes to the
//! configured [`FeatureStore`](super::FeatureStore).

use crate::bindings::transformer::edgescore::scoring::feature_store as wit;
use crate::host_state::HostState;

use super::{Aggregate, Observation, StoreError, Window};

impl HostState {
    /// The store, if `namespace` is granted to this component.
    fn granted(&self, namespace: &str) -> Result<&dyn super::FeatureStore, wit::StoreError> {
        let access = &self.features;
        if !access.grants.allows(namespace) {
            return Err(wit::StoreError::Denied(format!(
                "namespace '{namespace}' is not granted to {}; grant it in the pipeline's pipeline.toml ([feature_store] namespaces)",
                access.component
            )));
        }
        access.store.as_deref().ok_or_else(|| {
            wit::StoreError::Unavailable("this host has no feature store configured".into())
        })
    }
}

impl wit::Host for HostState {
    fn lookup(
        &mut self,
        namespace: String,
        entity: String,
        names: Vec<String>,
    ) -> Result<Vec<Option<f64>>, wit::StoreError> {
        self.granted(&namespace)?
            .lookup(&namespace, &entity, &names)
            .map_err(to_wit)
    }

    fn observe(
        &mut self,
        namespace: String,
        entity: String,
        event: wit::Observation,
        windows: Vec<wit::Window>,
    ) -> Result<Vec<Option<f64>>, wit::StoreError> {
        let event = Observation {
            timestamp_ms: event.timestamp,
            value: event.value,
            distinct_key: event.distinct_key,
        };
        let observed = self
            .granted(&namespace)?
            .observe(&namespace, &entity, &event, &from_wit(windows))
            .map_err(to_wit)?;
        if let Some(journal) = &self.features.journal {
            journal.record(observed.receipt);
        }
        Ok(observed.values)
    }

    fn read(
        &mut self,
        namespace: String,
        entity: String,
        timestamp: i64,
        windows: Vec<wit::Window>,
    ) -> Result<Vec<Option<f64>>, wit::StoreError> {
        self.granted(&namespace)?
            .read(&namespace, &entity, timestamp, &from_wit(windows))
            .map_err(to_wit)
    }
}

fn from_wit(windows: Vec<wit::Window>) -> Vec<Window> {
    windows
        .into_iter()
        .map(|w| Window {
            name: w.name,
            aggregate: match w.aggregate {
                wit::Aggregate::Count => Aggregate::Count,
                wit::Aggregate::Sum => Aggregate::Sum,
                wit::Aggregate::DistinctCount => Aggregate::DistinctCount,
                wit::Aggregate::SecondsSinceLast => Aggregate::SecondsSinceLast,
            },
            seconds: w.seconds,
        })
        .collect()
}

fn to_wit(e: StoreError) -> wit::StoreError {
    match e {
        StoreError::Unavailable(m) => wit::StoreError::Unavailable(m),
        StoreError::Denied(m) => wit::StoreError::Denied(m),
        StoreError::Invalid(m) => wit::StoreError::Invalid(m),
    }
}

/// A store error as the component reported it back, typed again.
pub(crate) fn from_wit_error(e: wit::StoreError) -> StoreError {
    match e {
        wit::StoreError::Unavailable(m) => StoreError::Unavailable(m),
        wit::StoreError::Denied(m) => StoreError::Denied(m),
        wit::StoreError::Invalid(m) => StoreError::Invalid(m),
    }
}
