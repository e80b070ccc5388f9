//! An example transform in Rust, for logic a TOML spec cannot say: the
//! great-circle distance between the card's home and where the transaction
//! happened (haversine), next to a windowed count from the feature store.
//!
//! Inputs: `card_id` (text), `timestamp`, `lat`, `lon`, `home_lat`,
//! `home_lon` (numbers). Outputs: `distance_from_home_km`,
//! `card_txn_count_1h`.

use edgescore_transform_sdk::{
    Aggregate, Event, Feature, FeatureKind, FieldSpec, FieldType, Fields, Observation, Transform,
    TransformError, TransformInfo, Window, export_transform,
};

/// Mean Earth radius, km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

struct DistanceFromHome;

impl Transform for DistanceFromHome {
    fn info() -> TransformInfo {
        let input = |name: &str, type_, required| FieldSpec {
            name: name.into(),
            type_,
            required,
        };
        let output = |name: &str| Feature {
            name: name.into(),
            kind: FeatureKind::Numeric,
        };
        TransformInfo {
            name: "distance-from-home".into(),
            version: "1".into(),
            inputs: vec![
                input("card_id", FieldType::Text, true),
                input("timestamp", FieldType::Timestamp, true),
                input("lat", FieldType::Number, false),
                input("lon", FieldType::Number, false),
                input("home_lat", FieldType::Number, false),
                input("home_lon", FieldType::Number, false),
            ],
            outputs: vec![output("distance_from_home_km"), output("card_txn_count_1h")],
        }
    }

    fn transform(events: Vec<Event>) -> Result<Vec<f64>, TransformError> {
        let window = [Window {
            name: "txn-count-1h".into(),
            aggregate: Aggregate::Count,
            seconds: 3600,
        }];
        let mut rows = Vec::with_capacity(events.len() * 2);
        for (i, event) in events.iter().enumerate() {
            let fields = Fields::new(i, event);
            let card = fields.required_text("card_id")?;
            let timestamp = fields.required_timestamp("timestamp")?;
            let distance = match (
                fields.number("lat")?,
                fields.number("lon")?,
                fields.number("home_lat")?,
                fields.number("home_lon")?,
            ) {
                (Some(lat), Some(lon), Some(home_lat), Some(home_lon)) => {
                    haversine_km(lat, lon, home_lat, home_lon)
                }
                _ => f64::NAN,
            };
            let observation = Observation {
                timestamp,
                value: 0.0,
                distinct_key: None,
            };
            let count = fields.observe("card", card, &observation, &window)?[0].unwrap_or(f64::NAN);
            rows.extend([distance, count]);
        }
        Ok(rows)
    }
}

/// The great-circle distance between two points given in degrees.
fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

export_transform!(DistanceFromHome);
