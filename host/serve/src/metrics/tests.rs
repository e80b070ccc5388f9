//! The exposition, line by line. Expected names, help and labels are those
//! of the hand-written exposition `prometheus-client` replaced.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use parking_lot::RwLock;

use super::Metrics;
use super::series::get_or_insert;
use crate::alerts::AlertCounters;

/// Asserts that each of `expected` is a whole line of `text`.
fn check(text: &str, expected: &[&str]) {
    let lines: HashSet<&str> = text.lines().collect();
    for line in expected {
        assert!(lines.contains(line), "no line {line:?} in:\n{text}");
    }
}

/// Every kind of observation, on model `fraud` and pipeline `checkout`.
fn observed() -> Metrics {
    let m = Metrics::default();
    m.scored(
        "fraud",
        3,
        "v1_score",
        Duration::from_micros(700),
        &[0.25, 0.75],
        Some(4),
    );
    m.scored(
        "fraud",
        3,
        "v1_score",
        Duration::from_micros(30),
        &[0.5],
        Some(2),
    );
    m.scored(
        "fraud",
        3,
        "v2_infer",
        Duration::from_micros(1500),
        &[],
        Some(2),
    );
    m.error("bad_request");
    m.error("bad_request");
    m.error("not_found");
    m.swap("fraud");
    m.canary_rollback("fraud");
    m.shadow_compared("fraud", 50, 1, 0.25);
    m.shadow_compared("fraud", 10, 0, 0.125);
    m.shadow_failed("fraud", true);
    m.rejected_load("fraud");
    m.decision("checkout", "block");
    m.decision("checkout", "block");
    m.decision("checkout", "allow");
    m
}

#[test]
fn every_family_keeps_its_name_type_and_help() {
    check(
        &observed().render(),
        &[
            "# HELP edgescore_requests_total Scoring requests answered, by model, version and endpoint.",
            "# TYPE edgescore_requests_total counter",
            "# HELP edgescore_errors_total Requests answered with an error, by kind.",
            "# TYPE edgescore_errors_total counter",
            "# HELP edgescore_request_duration_seconds Time to score a request, by model and version.",
            "# TYPE edgescore_request_duration_seconds histogram",
            "# HELP edgescore_score Scores returned, by model.",
            "# TYPE edgescore_score histogram",
            "# HELP edgescore_swaps_total Changes of the serving version, by model.",
            "# TYPE edgescore_swaps_total counter",
            "# HELP edgescore_canary_rollbacks_total Canaries rolled back automatically for failing too often, by model.",
            "# TYPE edgescore_canary_rollbacks_total counter",
            "# HELP edgescore_shadow_rows_total Rows scored by a shadow version and compared with the primary, by model.",
            "# TYPE edgescore_shadow_rows_total counter",
            "# HELP edgescore_shadow_disagreements_total Shadow rows whose score differed from the primary's by more than 1e-6, by model.",
            "# TYPE edgescore_shadow_disagreements_total counter",
            "# HELP edgescore_shadow_failures_total Shadow calls that failed, by model.",
            "# TYPE edgescore_shadow_failures_total counter",
            "# HELP edgescore_shadow_skipped_total Shadow calls not made because too many were in flight, by model.",
            "# TYPE edgescore_shadow_skipped_total counter",
            "# HELP edgescore_shadow_max_abs_difference Largest |shadow - primary| score seen, by model.",
            "# TYPE edgescore_shadow_max_abs_difference gauge",
            "# HELP edgescore_rejected_loads_total Versions that failed validation, by model.",
            "# TYPE edgescore_rejected_loads_total counter",
            "# HELP edgescore_instance_pool_idle Warm instances waiting, by model and version.",
            "# TYPE edgescore_instance_pool_idle gauge",
            "# HELP edgescore_decisions_total Pipeline decisions, by pipeline and decision.",
            "# TYPE edgescore_decisions_total counter",
        ],
    );
}

#[test]
fn counters_and_gauges_count_what_was_observed() {
    check(
        &observed().render(),
        &[
            r#"edgescore_requests_total{model="fraud",version="3",endpoint="v1_score"} 2"#,
            r#"edgescore_requests_total{model="fraud",version="3",endpoint="v2_infer"} 1"#,
            r#"edgescore_errors_total{kind="bad_request"} 2"#,
            r#"edgescore_errors_total{kind="not_found"} 1"#,
            r#"edgescore_swaps_total{model="fraud"} 1"#,
            r#"edgescore_canary_rollbacks_total{model="fraud"} 1"#,
            r#"edgescore_shadow_rows_total{model="fraud"} 60"#,
            r#"edgescore_shadow_disagreements_total{model="fraud"} 1"#,
            r#"edgescore_shadow_failures_total{model="fraud"} 0"#,
            r#"edgescore_shadow_skipped_total{model="fraud"} 1"#,
            r#"edgescore_shadow_max_abs_difference{model="fraud"} 0.25"#,
            r#"edgescore_rejected_loads_total{model="fraud"} 1"#,
            r#"edgescore_instance_pool_idle{model="fraud",version="3"} 2"#,
            r#"edgescore_decisions_total{pipeline="checkout",decision="block"} 2"#,
            r#"edgescore_decisions_total{pipeline="checkout",decision="allow"} 1"#,
        ],
    );
}

#[test]
fn histograms_keep_their_buckets() {
    let text = observed().render();
    // One series, so its lines come together and in this order.
    let scores = r#"edgescore_score_bucket{model="fraud",le="0.05"} 0
edgescore_score_bucket{model="fraud",le="0.1"} 0
edgescore_score_bucket{model="fraud",le="0.2"} 0
edgescore_score_bucket{model="fraud",le="0.3"} 1
edgescore_score_bucket{model="fraud",le="0.4"} 1
edgescore_score_bucket{model="fraud",le="0.5"} 2
edgescore_score_bucket{model="fraud",le="0.6"} 2
edgescore_score_bucket{model="fraud",le="0.7"} 2
edgescore_score_bucket{model="fraud",le="0.8"} 3
edgescore_score_bucket{model="fraud",le="0.9"} 3
edgescore_score_bucket{model="fraud",le="+Inf"} 3
edgescore_score_sum{model="fraud"} 1.5
edgescore_score_count{model="fraud"} 3
"#;
    assert!(text.contains(scores), "{text}");
    let latency: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("edgescore_request_duration_seconds_bucket"))
        .collect();
    let series = r#"edgescore_request_duration_seconds_bucket{model="fraud",version="3","#;
    let expected: Vec<String> = [
        ("5e-05", 1),
        ("0.0001", 1),
        ("0.00025", 1),
        ("0.0005", 1),
        ("0.001", 2),
        ("0.002", 3),
        ("0.005", 3),
        ("0.01", 3),
        ("0.025", 3),
        ("0.05", 3),
        ("0.1", 3),
        ("1", 3),
        ("+Inf", 3),
    ]
    .iter()
    .map(|(le, n)| format!(r#"{series}le="{le}"}} {n}"#))
    .collect();
    assert_eq!(latency, expected, "{text}");
    check(
        &text,
        &[r#"edgescore_request_duration_seconds_count{model="fraud",version="3"} 3"#],
    );
}

#[test]
fn a_series_appears_with_its_first_observation() {
    let m = Metrics::default();
    assert_eq!(m.render(), "", "no family has a series yet");
    m.scored(
        "fraud",
        1,
        "v1_score",
        Duration::from_millis(1),
        &[0.5],
        Some(1),
    );
    let before = m.render();
    assert!(!before.contains(r#"model="lin""#), "{before}");
    assert!(!before.contains("edgescore_shadow"), "{before}");
    m.rejected_load("lin");
    let after = m.render();
    let lin: Vec<&str> = after
        .lines()
        .filter(|l| l.contains(r#"model="lin""#))
        .collect();
    assert_eq!(
        lin,
        [r#"edgescore_rejected_loads_total{model="lin"} 1"#],
        "{after}"
    );
    m.shadow_failed("lin", false);
    check(
        &m.render(),
        &[
            r#"edgescore_shadow_rows_total{model="lin"} 0"#,
            r#"edgescore_shadow_disagreements_total{model="lin"} 0"#,
            r#"edgescore_shadow_failures_total{model="lin"} 1"#,
            r#"edgescore_shadow_skipped_total{model="lin"} 0"#,
        ],
    );
    assert!(
        !m.render().contains("edgescore_shadow_max_abs_difference{"),
        "no comparison, no difference"
    );
}

/// A registry that publishes a version every few seconds must not grow
/// `/metrics` by one set of series per version for ever.
#[test]
fn a_forgotten_version_leaves_the_exposition_and_its_model_stays() {
    let m = Metrics::default();
    for version in [1, 2] {
        for endpoint in ["v1_score", "v2_infer"] {
            m.scored(
                "fraud",
                version,
                endpoint,
                Duration::from_millis(1),
                &[0.5],
                Some(3),
            );
        }
    }
    m.swap("fraud");
    m.forget_version("fraud", 1);
    m.forget_version("fraud", 7);
    m.forget_version("absent", 1);
    let text = m.render();
    assert!(!text.contains(r#"version="1""#), "{text}");
    check(
        &text,
        &[
            r#"edgescore_requests_total{model="fraud",version="2",endpoint="v1_score"} 1"#,
            r#"edgescore_requests_total{model="fraud",version="2",endpoint="v2_infer"} 1"#,
            r#"edgescore_instance_pool_idle{model="fraud",version="2"} 3"#,
            r#"edgescore_request_duration_seconds_count{model="fraud",version="2"} 2"#,
            r#"edgescore_score_count{model="fraud"} 4"#,
            r#"edgescore_swaps_total{model="fraud"} 1"#,
        ],
    );
    // The same version number published again starts from zero.
    m.scored("fraud", 1, "v1_score", Duration::from_millis(1), &[], None);
    check(
        &m.render(),
        &[r#"edgescore_requests_total{model="fraud",version="1",endpoint="v1_score"} 1"#],
    );
}

#[test]
fn models_scored_from_many_threads_keep_every_count() {
    let m = Metrics::default();
    std::thread::scope(|s| {
        for t in 0..4 {
            let m = &m;
            s.spawn(move || {
                for i in 0..500_u64 {
                    let model = ["a", "b", "c", "d"][(i % 4) as usize];
                    m.scored(model, t % 2, "v1_score", Duration::ZERO, &[0.5], Some(1));
                }
            });
        }
    });
    let text = m.render();
    for model in ["a", "b", "c", "d"] {
        check(
            &text,
            &[
                &format!(
                    r#"edgescore_requests_total{{model="{model}",version="0",endpoint="v1_score"}} 250"#
                ),
                &format!(
                    r#"edgescore_requests_total{{model="{model}",version="1",endpoint="v1_score"}} 250"#
                ),
                &format!(r#"edgescore_score_count{{model="{model}"}} 500"#),
            ],
        );
    }
}

#[test]
fn a_panic_while_making_a_series_leaves_the_map_usable() {
    let map: RwLock<HashMap<String, u32>> = RwLock::default();
    let panicked = std::thread::scope(|s| {
        s.spawn(|| get_or_insert(&map, "fraud", || panic!("a constructor that fails")))
            .join()
    });
    assert!(panicked.is_err());
    assert_eq!(get_or_insert(&map, "fraud", || 7), 7);
    assert_eq!(get_or_insert(&map, "fraud", || 8), 7, "made once");
}

#[test]
fn alerts_render_as_before() {
    let counters = AlertCounters::default();
    counters.logged.store(3, Relaxed);
    counters.webhook_retries.store(2, Relaxed);
    assert_eq!(
        Metrics::render_alerts(&counters),
        "# HELP edgescore_alerts_logged_total Alerts appended to the alert log.
# TYPE edgescore_alerts_logged_total counter
edgescore_alerts_logged_total 3
# HELP edgescore_alert_log_failures_total Alerts the log could not take (written to the server log instead).
# TYPE edgescore_alert_log_failures_total counter
edgescore_alert_log_failures_total 0
# HELP edgescore_alerts_dropped_total Alerts a full queue could not take.
# TYPE edgescore_alerts_dropped_total counter
edgescore_alerts_dropped_total 0
# HELP edgescore_alert_webhook_delivered_total Alerts the webhook accepted.
# TYPE edgescore_alert_webhook_delivered_total counter
edgescore_alert_webhook_delivered_total 0
# HELP edgescore_alert_webhook_retries_total Webhook attempts that failed and were retried.
# TYPE edgescore_alert_webhook_retries_total counter
edgescore_alert_webhook_retries_total 2
# HELP edgescore_alert_webhook_failed_total Alerts the webhook never took (they are in the alert log).
# TYPE edgescore_alert_webhook_failed_total counter
edgescore_alert_webhook_failed_total 0
"
    );
}
