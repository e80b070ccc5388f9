//! The WIT package in `wit/` parses, has the worlds and interfaces later
//! issues build on, and documents every item.

use wit_parser::{Resolve, TypeDefKind, WorldItem, WorldKey};

/// A world's imports or exports that are whole interfaces, by full name.
fn interfaces<'a>(
    resolve: &Resolve,
    items: impl Iterator<Item = (&'a WorldKey, &'a WorldItem)>,
) -> Vec<String> {
    items
        .filter(|(_, item)| matches!(item, WorldItem::Interface { .. }))
        .map(|(key, _)| resolve.name_world_key(key))
        .collect()
}

fn resolve() -> (Resolve, wit_parser::PackageId) {
    let dir = edgescore_test_support::repo_root().join("wit");
    let mut resolve = Resolve::default();
    let (pkg, _files) = resolve
        .push_dir(&dir)
        .unwrap_or_else(|e| panic!("wit/ does not parse: {e:?}"));
    (resolve, pkg)
}

#[test]
fn package_worlds_and_interfaces() {
    let (resolve, pkg) = resolve();
    let package = &resolve.packages[pkg];
    assert_eq!(package.name.to_string(), "edgescore:scoring@0.2.0");
    for name in ["types", "model", "transform", "feature-store"] {
        assert!(
            package.interfaces.contains_key(name),
            "interface {name} is missing"
        );
    }
    let world = |name: &str| {
        let id = package
            .worlds
            .get(name)
            .unwrap_or_else(|| panic!("world {name} is missing"));
        let w = &resolve.worlds[*id];
        (
            interfaces(&resolve, w.imports.iter()),
            interfaces(&resolve, w.exports.iter()),
        )
    };
    let types = "edgescore:scoring/types@0.2.0";
    let model = "edgescore:scoring/model@0.2.0";
    let transform = "edgescore:scoring/transform@0.2.0";
    let store = "edgescore:scoring/feature-store@0.2.0";

    // A scorer imports nothing but the shared types its export uses: no capability at all.
    let (imports, exports) = world("scorer");
    assert_eq!(imports, vec![types.to_owned()]);
    assert_eq!(exports, vec![model.to_owned()]);

    let (imports, exports) = world("transformer");
    assert!(imports.contains(&store.to_owned()), "{imports:?}");
    assert_eq!(exports, vec![transform.to_owned()]);

    let (imports, exports) = world("pipeline");
    assert!(imports.contains(&store.to_owned()), "{imports:?}");
    assert_eq!(exports, vec![transform.to_owned(), model.to_owned()]);
}

#[test]
fn rows_cross_the_contract_as_f64() {
    let (resolve, pkg) = resolve();
    let name = &resolve.packages[pkg].name;
    assert_eq!(
        format!(
            "{}:{}@{}",
            name.namespace,
            name.name,
            name.version.as_ref().expect("versioned")
        ),
        edgescore_models::WIT_PACKAGE,
        "the WIT package and the version the manifest records"
    );
    let list_of_f64 = |ty: &wit_parser::Type| {
        let wit_parser::Type::Id(id) = ty else {
            return false;
        };
        matches!(
            resolve.types[*id].kind,
            TypeDefKind::List(wit_parser::Type::F64)
        )
    };
    let model = resolve.packages[pkg].interfaces["model"];
    let score = &resolve.interfaces[model].functions["score-batch"];
    let rows = &score.params[0];
    assert_eq!(rows.name, "rows");
    assert!(list_of_f64(&rows.ty), "score-batch rows");
    let transform = resolve.packages[pkg].interfaces["transform"];
    let transform = &resolve.interfaces[transform].functions["transform"];
    let Some(wit_parser::Type::Id(result)) = transform.result else {
        panic!("transform returns a result")
    };
    let TypeDefKind::Result(result) = &resolve.types[result].kind else {
        panic!("transform returns a result")
    };
    assert!(
        result.ok.as_ref().is_some_and(list_of_f64),
        "transform's feature rows"
    );
}

#[test]
fn every_item_is_documented() {
    let (resolve, pkg) = resolve();
    let package = &resolve.packages[pkg];
    let mut undocumented = Vec::new();
    let documented =
        |docs: &wit_parser::Docs| docs.contents.as_ref().is_some_and(|d| !d.trim().is_empty());
    for (name, id) in &package.interfaces {
        let iface = &resolve.interfaces[*id];
        if !documented(&iface.docs) {
            undocumented.push(format!("interface {name}"));
        }
        for (fname, f) in &iface.functions {
            if !documented(&f.docs) {
                undocumented.push(format!("{name}.{fname}"));
            }
        }
        for (tname, tid) in &iface.types {
            let ty = &resolve.types[*tid];
            // A `use`d type is an alias here and documented where it is defined.
            let is_use = matches!(ty.kind, TypeDefKind::Type(_));
            if !is_use && !documented(&ty.docs) {
                undocumented.push(format!("{name}.{tname}"));
            }
        }
    }
    for (name, id) in &package.worlds {
        if !documented(&resolve.worlds[*id].docs) {
            undocumented.push(format!("world {name}"));
        }
    }
    assert!(
        undocumented.is_empty(),
        "undocumented WIT items: {undocumented:?}"
    );
}

/// Errors cross the WIT contract as typed values: a transform's refusal
/// names the event and the field, a store failure the event and the typed
/// store error; nothing travels as text to be parsed back.
#[test]
fn transform_errors_are_typed_records() {
    let (resolve, pkg) = resolve();
    let package = &resolve.packages[pkg];
    let transform = &resolve.interfaces[package.interfaces["transform"]];
    let error = &resolve.types[transform.types["transform-error"]];
    let TypeDefKind::Variant(variant) = &error.kind else {
        panic!("transform-error is not a variant: {:?}", error.kind);
    };
    let case_type = |name: &str| {
        let case = variant
            .cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("transform-error has no case {name}"));
        match case.ty {
            Some(wit_parser::Type::Id(id)) => resolve.types[id].name.clone(),
            other => panic!("case {name} carries {other:?}, not a named type"),
        }
    };
    assert_eq!(case_type("bad-input").as_deref(), Some("bad-input"));
    assert_eq!(case_type("feature-store").as_deref(), Some("store-failure"));
}

/// No production code decides anything from an error's text: an error is
/// classified by its type (the sources are read; test modules, which
/// assert on messages, are left out).
#[test]
fn no_error_is_classified_by_its_text() {
    let root = edgescore_test_support::repo_root();
    let pattern = |line: &str| {
        let receivers = ["e", "err", "error", "message", "msg", "source", "why"];
        let methods = [".contains(", ".starts_with(", ".ends_with("];
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") || trimmed.starts_with("assert") {
            return false;
        }
        methods.iter().any(|m| {
            line.contains(&format!("to_string(){m}"))
                || receivers.iter().any(|r| {
                    line.match_indices(&format!("{r}{m}")).any(|(at, _)| {
                        at == 0
                            || !line.as_bytes()[at - 1].is_ascii_alphanumeric()
                                && line.as_bytes()[at - 1] != b'_'
                    })
                })
        })
    };
    let mut offenders = Vec::new();
    let mut stack = vec![
        root.join("host"),
        root.join("models/src"),
        root.join("guest"),
    ];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && name != "tests" && name != "benches" {
                    stack.push(path);
                }
                continue;
            }
            if !name.ends_with(".rs") || name == "tests.rs" || name == "build.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            let production = text.split("#[cfg(test)]").next().unwrap_or("");
            for (i, line) in production.lines().enumerate() {
                if pattern(line) {
                    offenders.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "errors classified by their text (match the error's type instead):\n{}",
        offenders.join("\n")
    );
}
