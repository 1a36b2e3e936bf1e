//! Domain operations: what the server does, between the HTTP edge
//! ([`crate::api`]) and the data layer ([`crate::db`]). Each takes the
//! [`crate::db::Store`] (reads, and writes that take their own write) or a
//! [`crate::db::Write`] (the property's write, when the HTTP edge runs it
//! idempotently), checks the caller's rights with [`crate::auth::Caller`],
//! and returns API views or a domain [`crate::error::Error`].
//!
//! - [`session`]: login, logout, who the caller is, their doors.
//! - [`accounts`]: the Portal's sign-in: passwords, sessions, set-password
//!   links.
//! - [`codes`]: choosing digits, creating, changing, enabling, disabling and
//!   deleting codes; the unit codes residents ask for.
//! - [`holders`]: carriers, couriers, staff members and their codes (the
//!   holder lookup), QR credentials and key cards.
//! - [`recipients`]: recipients, one-time PINs, forgot-PIN.
//! - [`reconcile`]: desired and confirmed tables, the job for a visit,
//!   statuses and receipts, recovery, expiry.
//! - [`visits`]: a phone at a lock: single-use challenges, fresh statuses,
//!   jobs sealed for the lock's session.
//! - [`sync`], [`receipts`]: what changed for a phone; what locks did.
//! - [`uses`]: codes that opened doors, as the locks' events say.
//! - [`backups`]: locks' pools of backup codes, handed out for guest codes
//!   that have not reached their door in time.
//! - [`policy`], [`locks`]: the property's settings; locks, audit trails
//!   and recent activity.
//! - [`notices`]: contact details, and being told by email or SMS when a
//!   code is used.
//! - [`notifications`]: the outbox as staff see it (never a body).
//! - [`limits`]: rate limits shared by instances.
//! - [`idempotent`]: writes answered once per idempotency key.
//! - [`sweep`]: expiry and forgetting, in the background.
//! - [`webhooks`]: managers' webhooks and the events written for them.

pub mod accounts;
pub mod backups;
pub mod codes;
pub mod holders;
pub mod idempotent;
pub mod limits;
pub mod locks;
pub mod notices;
pub mod notifications;
pub mod policy;
pub mod receipts;
pub mod recipients;
pub mod reconcile;
pub mod session;
pub mod sweep;
pub mod sync;
pub mod uses;
pub mod visits;
pub mod webhooks;
