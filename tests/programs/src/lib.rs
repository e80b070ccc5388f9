//! The test guests, as component bytes: hostile programs (each misbehaves
//! in one way the sandbox must contain), a WASI program, one importing what
//! the host does not provide, and the transform SDK's example.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
