//! The Keyway server: the authority for policy, locks and codes. It decides
//! which codes are acceptable (the `keyway-core` policy engine), keeps each
//! lock's desired and confirmed slot tables, seals one job per lock that only
//! that lock can open, and settles the receipts phones carry back.
//!
//! - [`app`]: settings, shared state, idempotent writes, serving and workers.
//! - [`api`]: the HTTP endpoints and the OpenAPI document.
//! - [`auth`]: bearer tokens, roles and scoping, idempotency keys, rate limits.
//! - [`codes`]: creating, changing, enabling, disabling and deleting codes.
//! - [`reconcile`]: desired and confirmed tables, the job for a visit,
//!   statuses and receipts, recovery, expiry.
//! - [`visits`]: a phone at a lock: single-use challenges, fresh statuses,
//!   jobs sealed for the lock's session.
//! - [`model`]: rows and states.
//! - [`store`]: the storage seam (portable SQL over `sqlx::Any`) and migrations.
//! - [`crypto`]: secrets at rest, lookup MACs, tokens.
//! - [`notify`]: the notification outbox and its senders.
//! - [`admin`]: the operator's `admin` commands.
//! - [`seed`]: synthetic properties for load tests (`admin seed`).
//! - [`error`]: problem-details errors with stable codes.
//!
//! `docs/server.md` explains how to run it; `docs/api.md` lists the API.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod codes;
pub mod crypto;
pub mod error;
pub mod model;
pub mod notify;
pub mod reconcile;
pub mod seed;
pub mod store;
pub mod visits;

pub use keyway_core as core;
