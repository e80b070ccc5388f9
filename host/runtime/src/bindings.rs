//! Host bindings for the WIT package, generated in this one place.

wasmtime::component::bindgen!({
    world: "scorer",
    path: "../../wit",
});

/// The `transformer` world: a transform component's export and the
/// `feature-store` the host gives it. Shares the `types` interface with the
/// scorer bindings above.
pub mod transformer {
    wasmtime::component::bindgen!({
        world: "transformer",
        path: "../../wit",
        with: {
            "edgescore:scoring/types": crate::bindings::edgescore::scoring::types,
        },
    });
}
