//! Moved to [`edgescore_protocol::bounded_json`], with the request bodies
//! that use it; re-exported here until `lib.rs` drops this module.

pub use edgescore_protocol::bounded_json::{BoundedJsonError, parse};
