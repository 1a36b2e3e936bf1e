//! Locks: each lock's versions (desired and confirmed), whether a change
//! waits for a phone at the door, whether it needs a person, its backup
//! codes (managers set how many it keeps); and a lock's audit log, newest
//! first, filtered by kind and source.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use keyway_api::{BackupPool, LockView};
use serde::Deserialize;

use super::extract::{Portal, Posted};
use super::page::{Done, PageResult, Shell, redirect, render};
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
    backups: BackupPool,
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
        backups: l.backup_pool,
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
    done: Option<String>,
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
    idem: String,
    manager: bool,
    pool_sizes: Vec<(u8, bool)>,
}

/// `GET /locks/{id}`: the lock and its audit log.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Path(id): Path<String>,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let lock = locks::get(&app.store, &session.caller, &id).await?;
    let pool_size = lock.backup_pool.size;
    let shell = Shell::load(&app, &session, &lock.name, "/locks", q.done.as_deref()).await?;
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
        idem: crate::crypto::new_id("form"),
        manager: session.caller.require_manager().is_ok(),
        pool_sizes: (0..=crate::ops::backups::MAX_POOL)
            .map(|n| (n, n == pool_size))
            .collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// The backup-pool form.
#[derive(Debug, Deserialize)]
pub struct PoolForm {
    size: u8,
}

/// `POST /locks/{id}/backup-pool`: how many backup codes the lock keeps
/// (managers).
pub async fn set_backup_pool(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted<PoolForm>,
) -> PageResult {
    posted.caller().require_manager()?;
    let size = posted.form.size;
    let lock_id = id.clone();
    posted
        .write(&app, move |w, who| {
            Box::pin(async move { crate::ops::backups::set_pool(w, who, &lock_id, size).await })
        })
        .await?;
    Ok(redirect(&format!("/locks/{id}?done=backup-pool")))
}
