//! A scorer component built for `wasm32-wasip2`, so it imports WASI, that
//! reaches for everything a scorer must not have. The first value of the rows
//! passed to `score-batch` picks what it tries; the second, where one is
//! needed, is a parameter:
//!
//! | first value | tries to |
//! | --- | --- |
//! | 1 | read a file (the second value picks which: 0 `/etc/passwd`, else `Cargo.toml`) |
//! | 2 | read the environment and its arguments |
//! | 3 | connect over TCP to `127.0.0.1:<second value>` |
//! | 4 | sleep for a minute |
//! | 5 | read the wall clock |
//! | 6 | exit the process |
//! | anything else | behaves: each row's score is the sum of its values |
//!
//! What it learns is reported in the call's `internal` error, so a test can
//! check exactly what the host let through.

wit_bindgen::generate!({
    world: "scorer",
    path: "../../wit",
});

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use edgescore::scoring::types::{
    Feature, FeatureKind, ModelInfo, ModelKind, OutputKind, Score, ScoreError, ScoreOptions,
};

struct HostileWasi;

export!(HostileWasi);

impl exports::edgescore::scoring::model::Guest for HostileWasi {
    fn info() -> ModelInfo {
        ModelInfo {
            name: "hostile-wasi".into(),
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
        let parameter = rows.get(1).copied().unwrap_or(0.0);
        let report = match rows.first().copied().unwrap_or(0.0) as i32 {
            1 => read_file(if parameter == 0.0 {
                "/etc/passwd"
            } else {
                "Cargo.toml"
            }),
            2 => format!(
                "environment: {} variables {:?}; arguments: {:?}",
                std::env::vars().count(),
                std::env::vars().take(3).collect::<Vec<_>>(),
                std::env::args().collect::<Vec<_>>()
            ),
            3 => connect(parameter as u16),
            4 => {
                std::thread::sleep(Duration::from_secs(60));
                "slept for a minute".into()
            }
            5 => match SystemTime::now().duration_since(UNIX_EPOCH) {
                Ok(since) => format!("wall clock: {} s after 1970", since.as_secs()),
                Err(e) => format!("wall clock before 1970: {e}"),
            },
            6 => std::process::exit(3),
            _ => return Ok(rows.iter().map(|&v| score(v)).collect()),
        };
        Err(ScoreError::Internal(report))
    }
}

fn read_file(path: &str) -> String {
    match std::fs::read(path) {
        Ok(bytes) => format!("read {path}: {} bytes", bytes.len()),
        Err(e) => format!("cannot read {path}: {e}"),
    }
}

fn connect(port: u16) -> String {
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => format!("connected to 127.0.0.1:{port}"),
        Err(e) => format!("cannot connect to 127.0.0.1:{port}: {e}"),
    }
}

fn score(value: f64) -> Score {
    Score {
        value,
        contributions: None,
    }
}
