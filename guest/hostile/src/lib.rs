//! A scorer component that misbehaves on purpose. The first value of the
//! rows passed to `score-batch` picks the behaviour:
//!
//! | first value | behaviour |
//! | --- | --- |
//! | 1 | loops forever |
//! | 2 | grows its memory without bound |
//! | 3 | recurses without bound |
//! | 4 | panics (a trap) |
//! | 5 | returns far more scores than rows |
//! | anything else | behaves: each row's score is the sum of its values |

wit_bindgen::generate!({
    world: "scorer",
    path: "../../wit",
});

use edgescore::scoring::types::{
    Feature, FeatureKind, ModelInfo, ModelKind, OutputKind, Score, ScoreError, ScoreOptions,
};

struct Hostile;

export!(Hostile);

impl exports::edgescore::scoring::model::Guest for Hostile {
    fn info() -> ModelInfo {
        ModelInfo {
            name: "hostile".into(),
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
        match rows.first().copied().unwrap_or(0.0) as i32 {
            1 => loop_forever(),
            2 => grow_forever(),
            3 => Ok(vec![score(f64::from(recurse(
                u64::from(rows.len() as u32),
            )))]),
            4 => panic!("hostile component panicked on purpose"),
            5 => Ok(vec![score(0.0); 1 << 20]),
            _ => Ok(rows.iter().map(|&v| score(v)).collect()),
        }
    }
}

fn score(value: f64) -> Score {
    Score {
        value,
        contributions: None,
    }
}

fn loop_forever() -> ! {
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn grow_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

// Unbounded on purpose: the host must stop it.
#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u32 {
    let local = std::hint::black_box([n; 16]);
    recurse(local[3].wrapping_add(1)).wrapping_add(local[7] as u32)
}
