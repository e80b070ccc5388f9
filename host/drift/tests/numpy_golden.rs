//! PSI, Jensen-Shannon and the reference-quantile bins against numpy
//! (`test_cases/generate.py`, numpy pinned in its requirements): the same
//! edges and counts, and the statistics within 1e-12; a reference against
//! itself is 0 drift.

use edgescore_drift::Bins;
use edgescore_drift::profile::{Kind, distribution};
use edgescore_drift::statistics::{jensen_shannon, psi};
use serde_json::Value;

fn values(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn counts(v: &Value) -> Vec<u64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_u64().expect("a count"))
        .collect()
}

#[test]
fn statistics_and_bins_equal_numpys() {
    let text = include_str!("../test_cases/cases.json");
    let golden: Value = serde_json::from_str(text).expect("cases.json");
    let cases = golden["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let kind = match case["kind"].as_str() {
            Some("numeric") => Kind::Numeric,
            _ => Kind::Categorical,
        };
        let bins = usize::try_from(case["bins"].as_u64().expect("bins")).expect("bins");
        let reference = distribution(name, kind, &values(&case["reference"]), bins);
        match &reference.bins {
            Bins::Numeric { edges } => assert_eq!(
                edges.iter().map(|e| e.to_bits()).collect::<Vec<_>>(),
                values(&case["edges"])
                    .iter()
                    .map(|e| e.to_bits())
                    .collect::<Vec<_>>(),
                "{name}: numpy's quantile edges, to the bit"
            ),
            Bins::Categorical { categories } => {
                assert_eq!(*categories, values(&case["categories"]), "{name}")
            }
        }
        assert_eq!(
            reference.counts,
            counts(&case["reference_counts"]),
            "{name}: reference counts"
        );
        let current: Vec<u64> = {
            let mut c = vec![0; reference.bins.slots()];
            for x in values(&case["current"]) {
                c[reference.bins.slot(x)] += 1;
            }
            c
        };
        assert_eq!(
            current,
            counts(&case["current_counts"]),
            "{name}: current counts"
        );
        let ours = psi(&reference.counts, &current).expect("psi");
        let want = case["psi"].as_f64().expect("psi");
        assert!(
            (ours - want).abs() <= 1e-12,
            "{name}: PSI {ours} against numpy's {want}"
        );
        let ours = jensen_shannon(&reference.counts, &current).expect("js");
        let want = case["jensen_shannon"].as_f64().expect("js");
        assert!(
            (ours - want).abs() <= 1e-12,
            "{name}: Jensen-Shannon {ours} against numpy's {want}"
        );
        assert_eq!(case["psi_self"].as_f64(), Some(0.0));
        assert_eq!(
            psi(&reference.counts, &reference.counts),
            Some(0.0),
            "{name}"
        );
        assert_eq!(
            jensen_shannon(&reference.counts, &reference.counts),
            Some(0.0),
            "{name}"
        );
    }
}
