//! The Keyway server: the authority for policy, locks and codes. It decides
//! which codes are acceptable (the `keyway-codes` policy engine), keeps each
//! lock's desired and confirmed slot tables, seals one job per lock that only
//! that lock can open, and settles the receipts phones carry back.
//!
//! A request flows through three layers: [`api`] (the HTTP edge: extract,
//! authorise, shape the answer) calls one operation of [`ops`] (the domain:
//! rules, policy, reconciliation), which reads and writes through [`db`]
//! (named queries, the only SQL). Errors are domain [`error::Error`]s that
//! the edge maps to problem documents.
//!
//! - [`app`]: settings, shared state, serving and workers.
//! - [`api`]: the HTTP endpoints, extractors, problem documents and the
//!   OpenAPI document; the router, which also serves the Portal.
//! - [`portal`]: the Portal, the pages managers and staff use in a browser,
//!   on the same operations and rules as the API.
//! - [`ops`]: domain operations (codes, holders, recipients,
//!   reconciliation, visits, sync, receipts, limits, idempotent writes).
//! - [`db`]: the data layer: the store, migrations, read and write contexts,
//!   one module per table group.
//! - [`auth`]: callers (bearer tokens), roles and scoping rules.
//! - [`admin`]: the operator's typed admin functions and the `admin` command.
//! - [`crypto`]: secrets at rest, lookup MACs, tokens.
//! - [`passwords`]: the Portal's password rules and argon2id hashing.
//! - [`notify`]: the notification outbox's worker and senders.
//! - [`qr`]: QR codes as SVG and PNG.
//! - [`webhooks`]: signed webhooks: where they may point, signatures, the
//!   delivery worker.
//! - [`clock`]: the server's clock.
//! - [`error`]: the domain error: a kind and a stable code.
//!
//! `docs/server.md` explains how to run it; `docs/api.md` lists the API.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod error;
pub mod notify;
pub mod ops;
pub mod passwords;
pub mod portal;
pub mod qr;
pub mod webhooks;
