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
    assert_eq!(package.name.to_string(), "edgescore:scoring@0.1.0");
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
    let types = "edgescore:scoring/types@0.1.0";
    let model = "edgescore:scoring/model@0.1.0";
    let transform = "edgescore:scoring/transform@0.1.0";
    let store = "edgescore:scoring/feature-store@0.1.0";

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
fn model_score_takes_one_flat_batch_of_f32() {
    let (resolve, pkg) = resolve();
    let model = resolve.packages[pkg].interfaces["model"];
    let score = &resolve.interfaces[model].functions["score-batch"];
    let rows = &score.params[0];
    assert_eq!(rows.name, "rows");
    let wit_parser::Type::Id(id) = rows.ty else {
        panic!("rows is not a list")
    };
    assert!(matches!(
        resolve.types[id].kind,
        TypeDefKind::List(wit_parser::Type::F32)
    ));
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
