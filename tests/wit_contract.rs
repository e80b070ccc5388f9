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
