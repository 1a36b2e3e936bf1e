//! Locks: each lock's versions (desired and confirmed), whether a change
//! waits for a phone at the door, whether it needs a person; and a lock's
//! audit log, newest first, filtered by kind and source.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keyway_api::LockView;
use serde::Deserialize;

use super::extract::Portal;
use super::page::{Done, PageResult, Shell, render};
use super::views::{AUDIT_KINDS, audit_word, time};
use crate::app::App;
use crate::ops::locks::{self, AuditFilter};

struct LockLine {
    id: String,
    name: String,
    kind: &'static str,
    desired: u32,
    confirmed: u32,
    pending: bool,
    attention: Option<String>,
}

fn line(l: LockView) -> LockLine {
    LockLine {
        kind: match l.access_point.as_str() {
            "unit_door" => "Unit door",
            "community_entrance" => "Community entrance",
            "amenity" => "Amenity",
            "package_room" => "Package room",
            _ => "Door",
        },
        id: l.lock_id,
        name: l.name,
        desired: l.desired_version,
        confirmed: l.confirmed_version,
        pending: l.job_pending,
        attention: l.attention,
    }
}

#[derive(Template)]
#[template(path = "portal/locks.html")]
struct LocksPage {
    shell: Shell,
    locks: Vec<LockLine>,
}

/// `GET /locks`.
pub async fn list(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    session.caller.require_staff()?;
    let shell = Shell::load(&app, &session, "Locks", "/locks", q.done.as_deref()).await?;
    let locks = locks::list(&app.store, &session.caller)
        .await?
        .locks
        .into_iter()
        .map(line)
        .collect();
    Ok(render(StatusCode::OK, &LocksPage { shell, locks }))
}

/// `?kind=…&source=…&limit=…`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    kind: Option<String>,
    source: Option<String>,
    limit: Option<i64>,
}

struct EntryLine {
    when: String,
    source: &'static str,
    what: &'static str,
    kind: String,
    slot: String,
    detail: String,
}

struct KindOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "portal/lock.html")]
struct LockPage {
    shell: Shell,
    lock: LockLine,
    entries: Vec<EntryLine>,
    kinds: Vec<KindOption>,
    source: String,
    limit: i64,
}

/// `GET /locks/{id}`: the lock and its audit log.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let lock = locks::get(&app.store, &session.caller, &id).await?;
    let shell = Shell::load(&app, &session, &lock.name, "/locks", None).await?;
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    let filter = AuditFilter {
        kind: given(q.kind),
        source: given(q.source).filter(|s| s == "server" || s == "lock"),
        limit: Some(q.limit.unwrap_or(100).clamp(1, 500)),
    };
    let trail = locks::audit_newest(&app.store, &session.caller, &id, &filter).await?;
    let entries = trail
        .entries
        .into_iter()
        .map(|e| EntryLine {
            when: time(e.at, &shell.time_zone),
            source: if e.source == "lock" { "Lock" } else { "Server" },
            what: audit_word(&e.kind),
            slot: e.slot.map(|s| s.to_string()).unwrap_or_default(),
            detail: e.detail.unwrap_or_default(),
            kind: e.kind,
        })
        .collect();
    let kinds = AUDIT_KINDS
        .iter()
        .map(|k| KindOption {
            value: k,
            label: audit_word(k),
            selected: filter.kind.as_deref() == Some(*k),
        })
        .collect();
    let page = LockPage {
        shell,
        lock: line(lock),
        entries,
        kinds,
        source: filter.source.unwrap_or_default(),
        limit: filter.limit.unwrap_or(100),
    };
    Ok(render(StatusCode::OK, &page))
}
