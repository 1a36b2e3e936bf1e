//! Notifications: the outbox's newest messages (one-time PINs by email and
//! SMS, invitations) with their delivery state, never their bodies.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;

use super::extract::Portal;
use super::page::{Done, PageResult, Shell, render};
use super::views::time;
use crate::app::App;
use crate::ops::notifications;

struct MessageLine {
    queued: String,
    channel: &'static str,
    to: String,
    subject: String,
    status: &'static str,
    attempts: i64,
    sent: String,
}

#[derive(Template)]
#[template(path = "portal/notifications.html")]
struct NotificationsPage {
    shell: Shell,
    messages: Vec<MessageLine>,
}

/// `GET /notifications`.
pub async fn list(
    State(app): State<App>,
    Portal(session): Portal,
    Query(q): Query<Done>,
) -> PageResult {
    let shell = Shell::load(
        &app,
        &session,
        "Notifications",
        "/notifications",
        q.done.as_deref(),
    )
    .await?;
    let tz = shell.time_zone.clone();
    let messages = notifications::recent(&app.store, &session.caller, 200)
        .await?
        .into_iter()
        .map(|n| MessageLine {
            queued: time(n.created_at, &tz),
            channel: if n.channel == "sms" { "SMS" } else { "Email" },
            to: n.to,
            subject: n.subject,
            status: match n.status.as_str() {
                "sent" => "Sent",
                "failed" => "Failed (gave up)",
                _ => "Queued",
            },
            attempts: n.attempts,
            sent: n.sent_at.map(|at| time(at, &tz)).unwrap_or_default(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &NotificationsPage { shell, messages },
    ))
}
