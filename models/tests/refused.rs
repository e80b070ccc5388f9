//! Model files that must be refused, each with a message that says what the
//! file is and what to do: files the reference library itself refuses, and
//! models edgescore does not score yet.
//!
//! The files in `tests/data/` come from the real libraries
//! (`tests/data/generate_refused.py`); the LightGBM variants are cut or edited
//! here from an intact five-tree model. The script also asks LightGBM and
//! XGBoost what they do with the main variants, as the comments below say.

use std::path::PathBuf;

use edgescore_models::{Format, Model};

fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Loading `bytes`, detected and with the format named, fails with a message
/// holding every one of `expect`.
fn check_refused(name: &str, bytes: &[u8], format: Format, expect: &[&str]) {
    for given in [None, Some(format)] {
        let err = match Model::from_bytes(bytes, given) {
            Ok(model) => panic!("{name}: loaded ({} trees)", model.num_trees()),
            Err(e) => e.to_string(),
        };
        for want in expect {
            assert!(
                err.contains(want),
                "{name}: error '{err}' should contain '{want}'"
            );
        }
    }
}

fn lightgbm_5_trees() -> String {
    String::from_utf8(data("lightgbm_5_trees.txt")).expect("UTF-8")
}

fn before(text: &str, marker: &str) -> String {
    let at = text.find(marker).unwrap_or_else(|| panic!("no '{marker}'"));
    text[..at].to_owned()
}

#[test]
fn the_intact_lightgbm_model_loads() {
    let model = Model::from_bytes(&data("lightgbm_5_trees.txt"), None).expect("loads");
    assert_eq!(model.num_trees(), 5);
}

#[test]
fn lightgbm_files_whose_trees_do_not_match_the_header_are_refused() {
    let full = lightgbm_5_trees();
    let sizes_line = full
        .lines()
        .find(|l| l.starts_with("tree_sizes="))
        .expect("tree_sizes line");
    let sizes: Vec<usize> = sizes_line
        .trim_start_matches("tree_sizes=")
        .split(' ')
        .map(|s| s.parse().expect("size"))
        .collect();
    let with_sizes = |new: &[usize]| {
        let words: Vec<String> = new.iter().map(usize::to_string).collect();
        full.replacen(sizes_line, &format!("tree_sizes={}", words.join(" ")), 1)
    };
    let mut first_plus_one = sizes.clone();
    first_plus_one[0] += 1;
    let save_again = "save it again with LightGBM's save_model";
    let cases: &[(&str, String, &[&str])] = &[
        (
            // LightGBM aborts on this file (it looks for tree 3 past the end).
            "cut before Tree=3",
            before(&full, "Tree=3"),
            &[
                "lists 5 trees in tree_sizes but holds 3",
                "truncated",
                save_again,
            ],
        ),
        (
            "cut inside Tree=3",
            full[..full.find("Tree=3").expect("tree 3") + 40].to_owned(),
            &["lists 5 trees in tree_sizes but holds 4", "truncated"],
        ),
        (
            "cut inside the last tree",
            full[..full.rfind("shrinkage=").expect("shrinkage")].to_owned(),
            &[
                "no `end of trees` line after tree 4",
                "truncated",
                save_again,
            ],
        ),
        (
            "cut before end of trees",
            before(&full, "end of trees"),
            &["no `end of trees` line after tree 4", "truncated"],
        ),
        (
            // LightGBM reads only the trees tree_sizes lists: 4 of these 5.
            "tree_sizes lists 4 of 5 trees",
            with_sizes(&sizes[..4]),
            &["holds 5 trees but tree_sizes lists 4", save_again],
        ),
        (
            "tree_sizes lists 6 trees",
            with_sizes(&[sizes.as_slice(), &[100]].concat()),
            &["lists 6 trees in tree_sizes but holds 5"],
        ),
        (
            // LightGBM: "Model format error, expect a tree here".
            "tree_sizes puts tree 1 one byte late",
            with_sizes(&first_plus_one),
            &[
                "tree_sizes says tree 1 starts 557 bytes after tree 0, but it starts 556 bytes after",
                save_again,
            ],
        ),
        (
            // LightGBM refuses it for the same reason: the sizes count bytes.
            "CRLF line endings",
            full.replace('\n', "\r\n"),
            &["Windows (CRLF) line endings", "convert them back to LF"],
        ),
        (
            "a tree relabelled",
            full.replacen("Tree=3\n", "Tree=7\n", 1),
            &[
                "tree 3 is headed `Tree=7`",
                "missing, repeated or out of order",
            ],
        ),
        (
            "a tree removed, no tree_sizes",
            {
                let without = full.replacen(&format!("{sizes_line}\n"), "", 1);
                let (start, end) = (
                    without.find("Tree=2").expect("tree 2"),
                    without.find("Tree=3").expect("tree 3"),
                );
                format!("{}{}", &without[..start], &without[end..])
            },
            &["tree 2 is headed `Tree=3`"],
        ),
    ];
    for (name, text, expect) in cases {
        check_refused(name, text.as_bytes(), Format::LightGbmText, expect);
    }
}

/// What LightGBM loads whole, edgescore loads whole.
#[test]
fn lightgbm_variants_that_lose_nothing_still_load() {
    let full = lightgbm_5_trees();
    let sizes_line = full
        .lines()
        .find(|l| l.starts_with("tree_sizes="))
        .expect("tree_sizes line");
    let (all_but_last, _) = sizes_line.rsplit_once(' ').expect("sizes");
    let variants = [
        (
            "cut right after `end of trees`",
            full[..full.find("end of trees").expect("terminator") + "end of trees".len()]
                .to_owned(),
        ),
        (
            // LightGBM finds tree i at the sum of the sizes before it, so it never
            // reads the last size.
            "a wrong size for the last tree",
            full.replacen(sizes_line, &format!("{all_but_last} 100"), 1),
        ),
        (
            // Without tree_sizes LightGBM reads the trees one after another.
            "no tree_sizes line",
            full.replacen(&format!("{sizes_line}\n"), "", 1),
        ),
    ];
    let reference = Model::from_bytes(full.as_bytes(), None).expect("loads");
    let rows = [0.3, -1.2, 0.7, -0.4, 0.9, f64::NAN];
    for (name, text) in variants {
        let model =
            Model::from_bytes(text.as_bytes(), None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(model.num_trees(), 5, "{name}");
        assert_eq!(model.score(&rows), reference.score(&rows), "{name}");
    }
}

/// XGBoost's loader wants `{` as the very first byte (c_api.cc: "Check failed:
/// str[0] == '{'"), so a byte order mark is refused, by name.
#[test]
fn xgboost_json_with_a_byte_order_mark_is_refused_by_name() {
    check_refused(
        "BOM",
        &data("xgboost_bom.json"),
        Format::XGBoostJson,
        &[
            "UTF-8 byte order mark",
            "XGBoost refuses it too",
            "remove the first 3 bytes",
        ],
    );
}

#[test]
fn xgboost_linear_and_dart_boosters_say_what_they_are() {
    check_refused(
        "gblinear",
        &data("xgboost_gblinear.json"),
        Format::XGBoostJson,
        &[
            "XGBoost linear booster (booster 'gblinear')",
            "does not score yet",
            "booster='gbtree'",
            "edgescore-linear",
        ],
    );
    check_refused(
        "dart",
        &data("xgboost_dart.json"),
        Format::XGBoostJson,
        &[
            "XGBoost DART booster (booster 'dart')",
            "weight_drop",
            "does not score yet",
            "booster='gbtree'",
        ],
    );
}
