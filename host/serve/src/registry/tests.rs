//! The registry against real folders.

use super::*;

fn registry(root: &Path) -> Registry {
    Registry::new(
        RegistryConfig {
            root: root.to_owned(),
            settle: Duration::ZERO,
            feature_store: None,
            serving: Default::default(),
            drift: Default::default(),
            trust: None,
            audit: Default::default(),
        },
        Arc::new(ScoringEngine::new(edgescore_runtime::limits::Limits::default()).expect("engine")),
        None,
        Arc::new(Metrics::default()),
    )
}

#[test]
fn a_model_whose_versions_are_all_rejected_is_named_with_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    for version in ["1", "2"] {
        let folder = dir.path().join("broken").join(version);
        std::fs::create_dir_all(&folder).expect("mkdir");
        std::fs::write(folder.join(COMPONENT_FILE), b"not a component").expect("write");
    }
    std::fs::create_dir_all(dir.path().join("empty")).expect("mkdir");
    let registry = registry(dir.path());
    registry.scan(true);

    let not_serving = registry.not_serving();
    assert_eq!(not_serving.len(), 2, "{not_serving:?}");
    assert!(
        not_serving[0].starts_with("model 'broken' has no version serving: version 1 rejected: ")
            && not_serving[0].contains("; version 2 rejected: "),
        "{not_serving:?}"
    );
    assert_eq!(
        not_serving[1],
        "model 'empty' has no version serving: no version on disk"
    );

    // Unloaded on purpose, a model is not expected to serve.
    assert!(registry.unload("broken"));
    assert!(registry.unload("empty"));
    assert!(registry.not_serving().is_empty());
}
