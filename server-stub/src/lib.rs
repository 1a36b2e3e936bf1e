//! The Keyway server: the authority for policy, locks and codes, which seals
//! jobs for locks and settles what phones report back.
//!
//! The server arrives in issue 4; until then this crate only holds its place in
//! the workspace.

pub use keyway_core as core;
