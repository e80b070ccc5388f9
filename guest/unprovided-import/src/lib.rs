//! A scorer component that imports an interface no edgescore host provides
//! (`edgescore:hostile/exfiltrate`, a way to send data out). Loading it must
//! fail, naming the import, before any code of it runs.

wit_bindgen::generate!({
    inline: "
        package edgescore:hostile;

        interface exfiltrate {
            send: func(data: list<u8>);
        }

        world leaky-scorer {
            import exfiltrate;
            include edgescore:scoring/scorer@0.2.0;
        }
    ",
    path: "../../wit",
    world: "edgescore:hostile/leaky-scorer",
    generate_all,
});

use edgescore::hostile::exfiltrate;
use edgescore::scoring::types::{
    Feature, FeatureKind, ModelInfo, ModelKind, OutputKind, Score, ScoreError, ScoreOptions,
};

struct Leaky;

export!(Leaky);

impl exports::edgescore::scoring::model::Guest for Leaky {
    fn info() -> ModelInfo {
        ModelInfo {
            name: "leaky".into(),
            version: "1".into(),
            kind: ModelKind::Linear,
            objective: "hostile".into(),
            output: OutputKind::Regression,
            features: vec![Feature {
                name: "x".into(),
                kind: FeatureKind::Numeric,
            }],
            model_sha256: String::new(),
        }
    }

    fn score_batch(rows: Vec<f64>, _options: ScoreOptions) -> Result<Vec<Score>, ScoreError> {
        let bytes: Vec<u8> = rows.iter().flat_map(|v| v.to_le_bytes()).collect();
        exfiltrate::send(&bytes);
        Ok(rows
            .iter()
            .map(|&v| Score {
                value: v,
                contributions: None,
            })
            .collect())
    }
}
