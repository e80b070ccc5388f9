//! The Grafana dashboard of `deploy/grafana/` as the tests read it: its
//! PromQL queries, the metric names they use, and which of those a live
//! `/metrics` lacks. `tests/grafana.rs` holds the server's names to a
//! server's exposition and `tests/stream/resilience.rs` the stream's
//! (`edgescore_stream_*`) to a stream's, one implementation for both.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

/// `deploy/grafana/edgescore.json`.
pub fn dashboard_path() -> PathBuf {
    crate::repo_root().join("deploy/grafana/edgescore.json")
}

/// The dashboard, parsed. Panics when it is missing or not JSON.
pub fn dashboard() -> Value {
    let path = dashboard_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every PromQL query of `dashboard`: each `expr` anywhere in it (panel
/// targets, rows' panels, annotations) and the query of each query
/// variable (`query`, a text or an object with a `query`, and its
/// `definition`).
pub fn queries(dashboard: &Value) -> Vec<String> {
    let mut found = Vec::new();
    exprs(dashboard, &mut found);
    let variables = dashboard["templating"]["list"].as_array();
    for variable in variables.into_iter().flatten() {
        if variable["type"] != "query" {
            continue;
        }
        let query = &variable["query"];
        for text in [&query["query"], query, &variable["definition"]] {
            if let Some(text) = text.as_str() {
                found.push(text.to_owned());
            }
        }
    }
    found
}

fn exprs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("expr", Value::String(expr)) => found.push(expr.clone()),
                    _ => exprs(value, found),
                }
            }
        }
        Value::Array(values) => values.iter().for_each(|v| exprs(v, found)),
        _ => {}
    }
}

/// The metric names `query` uses: every PromQL identifier that begins
/// `edgescore_`, as written (a histogram's `_bucket`, `_sum` or `_count`,
/// a counter's `_total`: the sample names of the exposition). String
/// literals (label values, regular expressions) and `#` comments are
/// skipped.
pub fn metric_names(query: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = query.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                let mut escaped = false;
                for (_, d) in chars.by_ref() {
                    match d {
                        _ if escaped => escaped = false,
                        '\\' if c != '`' => escaped = true,
                        _ if d == c => break,
                        _ => {}
                    }
                }
            }
            '#' => {
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            _ if c.is_ascii_alphanumeric() || c == '_' || c == ':' => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, d)) = chars.peek() {
                    if !(d.is_ascii_alphanumeric() || d == '_' || d == ':') {
                        break;
                    }
                    end = i + d.len_utf8();
                    chars.next();
                }
                let token = &query[start..end];
                if token.starts_with("edgescore_") {
                    names.insert(token.to_owned());
                }
            }
            _ => {}
        }
    }
    names
}

/// Every metric name the dashboard's queries use.
pub fn dashboard_metrics() -> BTreeSet<String> {
    queries(&dashboard())
        .iter()
        .flat_map(|q| metric_names(q))
        .collect()
}

/// The sample names of a Prometheus text exposition: the name of each
/// `name{labels} value` or `name value` line.
pub fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// Of `names`, each that `exposition` does not export, with why: no
/// sample of that name, or a `_bucket` whose family is not a histogram
/// (a family with no series yet is absent from the exposition, so the
/// caller must have caused one).
pub fn missing<'a>(names: impl IntoIterator<Item = &'a String>, exposition: &str) -> Vec<String> {
    let samples = sample_names(exposition);
    let mut missing = Vec::new();
    for name in names {
        if !samples.contains(name) {
            missing.push(format!("{name}: no sample in /metrics"));
            continue;
        }
        if let Some(family) = name.strip_suffix("_bucket") {
            let histogram = format!("# TYPE {family} histogram");
            if !exposition.lines().any(|l| l.trim() == histogram) {
                missing.push(format!("{name}: {family} is not a histogram"));
            }
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(query: &str) -> Vec<String> {
        metric_names(query).into_iter().collect()
    }

    #[test]
    fn names_are_identifiers_outside_strings() {
        assert_eq!(
            names(
                r#"histogram_quantile(0.99, sum by (model, le) (rate(edgescore_request_duration_seconds_bucket{model=~"edgescore_x|$model"}[$__rate_interval])))"#
            ),
            ["edgescore_request_duration_seconds_bucket"]
        );
        assert_eq!(
            names(
                "sum(rate(edgescore_a_total[5m])) / sum(rate(edgescore_b_count[5m])) # edgescore_c\n+ edgescore_d"
            ),
            ["edgescore_a_total", "edgescore_b_count", "edgescore_d"]
        );
        assert_eq!(
            names(r#"label_values(edgescore_requests_total, model)"#),
            ["edgescore_requests_total"]
        );
        assert!(names(r#"up{job="edgescore_serve", x='edgescore_\'y'}"#).is_empty());
        assert!(names("not_edgescore_x + x_edgescore_y").is_empty());
    }

    #[test]
    fn missing_names_what_the_exposition_lacks() {
        let text = "# HELP edgescore_requests Scoring requests.\n\
                    # TYPE edgescore_requests counter\n\
                    edgescore_requests_total{model=\"m\"} 3\n\
                    # TYPE edgescore_latency histogram\n\
                    edgescore_latency_bucket{le=\"+Inf\"} 1\n\
                    edgescore_latency_sum 0.5\n\
                    edgescore_gauge_bucket 1\n\
                    # EOF\n";
        let used: Vec<String> = [
            "edgescore_requests_total",
            "edgescore_latency_bucket",
            "edgescore_latency_sum",
            "edgescore_requests",
            "edgescore_gauge_bucket",
        ]
        .map(str::to_owned)
        .into();
        assert_eq!(
            missing(&used, text),
            [
                "edgescore_requests: no sample in /metrics",
                "edgescore_gauge_bucket: edgescore_gauge is not a histogram"
            ]
        );
    }

    #[test]
    fn queries_come_from_targets_rows_and_variables() {
        let dashboard = serde_json::json!({
            "panels": [
                { "type": "row", "panels": [{ "targets": [{ "expr": "edgescore_a" }] }] },
                { "targets": [{ "expr": "edgescore_b" }, { "expr": "edgescore_c" }] }
            ],
            "templating": { "list": [
                { "type": "datasource", "query": "prometheus" },
                { "type": "query", "query": { "query": "label_values(edgescore_d, m)" } },
                { "type": "query", "query": "label_values(edgescore_e, m)" }
            ] }
        });
        let all: BTreeSet<String> = queries(&dashboard)
            .iter()
            .flat_map(|q| metric_names(q))
            .collect();
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            [
                "edgescore_a",
                "edgescore_b",
                "edgescore_c",
                "edgescore_d",
                "edgescore_e"
            ]
        );
    }
}
