//! End-to-end scenarios across the server, the phone core and the simulated
//! locks, each a workflow of the product pages. Scenarios live in `tests/`;
//! this library holds the harness they share.
//!
//! The harness arrives with the server, core and simulator; until then this
//! crate only holds its place in the workspace.

pub use keyway_core as core;
