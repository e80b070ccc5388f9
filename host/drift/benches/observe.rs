//! What the live side of drift costs per scored transaction: one row of
//! the fraud example's width binned into the window (and, every
//! `check_every` events, the states judged), against the example's own
//! reference profile. `scripts/bench_drift.py` measures the same end to
//! end, beside a server without a profile.

use criterion::{Criterion, criterion_group, criterion_main};
use edgescore_drift::{DriftConfig, DriftMonitor, Profile};

fn observe(c: &mut Criterion) {
    let text = include_bytes!("../../../examples/fraud/profile.json");
    let profile = Profile::from_json(text).expect("the example's profile");
    let width = profile.features.len();
    let monitor = DriftMonitor::new("fraud", "1", profile, DriftConfig::default());
    // Rows spread over every feature's range, so every slot is reached.
    let rows: Vec<Vec<f64>> = (0..1024)
        .map(|i| {
            (0..width)
                .map(|f| ((i * 37 + f * 11) % 200) as f64 * 0.5)
                .collect()
        })
        .collect();
    let mut i = 0usize;
    c.bench_function(
        "observe one transaction (window 10,000, check every 100)",
        |b| {
            b.iter(|| {
                let row = &rows[i % rows.len()];
                i += 1;
                monitor.observe(i as i64, row, &[0.3], &["allow"])
            });
        },
    );
    c.bench_function("report (every feature, both sides)", |b| {
        b.iter(|| monitor.report(i as i64));
    });
}

criterion_group!(benches, observe);
criterion_main!(benches);
