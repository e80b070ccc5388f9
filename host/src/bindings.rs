//! Host bindings for the WIT package, generated in this one place.

wasmtime::component::bindgen!({
    world: "scorer",
    path: "../wit",
});
