//! The dashboard: how many locks are in sync, wait for a phone, or need a
//! person; which ones; and the property's recent activity.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;

use super::extract::Portal;
use super::page::{Done, PageResult, Shell, render};
use super::views::{audit_word, time};
use crate::app::App;
use crate::ops::locks;

/// A lock that is not in sync.
struct LockNote {
    id: String,
    name: String,
    note: &'static str,
    attention: Option<String>,
}

/// One line of recent activity.
struct ActivityLine {
    when: String,
    lock_id: String,
    lock_name: String,
    what: &'static str,
    detail: String,
}

#[derive(Template)]
#[template(path = "portal/dashboard.html")]
struct DashboardPage {
    shell: Shell,
    total: usize,
    in_sync: usize,
    pending: usize,
    attention: usize,
    notes: Vec<LockNote>,
    activity: Vec<ActivityLine>,
}

/// `GET /`.
pub async fn show(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    let caller = &session.caller;
    caller.require_staff()?;
    let shell = Shell::load(&app, &session, "Dashboard", "/", q.done.as_deref()).await?;
    let all = locks::list(&app.store, caller).await?.locks;
    let mut notes = Vec::new();
    let (mut in_sync, mut pending, mut attention) = (0, 0, 0);
    for lock in &all {
        if lock.attention.is_some() {
            attention += 1;
        } else if lock.job_pending {
            pending += 1;
        } else {
            in_sync += 1;
            continue;
        }
        notes.push(LockNote {
            id: lock.lock_id.clone(),
            name: lock.name.clone(),
            note: if lock.attention.is_some() {
                "Needs attention"
            } else {
                "Changes wait for a phone at the door"
            },
            attention: lock.attention.clone(),
        });
    }
    let activity = locks::recent_activity(&app.store, caller, 12)
        .await?
        .into_iter()
        .map(|a| ActivityLine {
            when: time(a.entry.at, &shell.time_zone),
            what: audit_word(&a.entry.kind),
            detail: a.entry.detail.unwrap_or_default(),
            lock_id: a.lock_id,
            lock_name: a.lock_name,
        })
        .collect();
    let page = DashboardPage {
        total: all.len(),
        in_sync,
        pending,
        attention,
        notes,
        activity,
        shell,
    };
    Ok(render(StatusCode::OK, &page))
}
