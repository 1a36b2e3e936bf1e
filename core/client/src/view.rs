//! What the app sees: the mirror of the server's codes with the local overlay
//! (requests not yet answered, refusals) laid over it, and the policy context
//! the phone's local check builds from the same data.

use std::collections::HashMap;

use rusqlite::Connection;

use super::store::{self, LocalRow, OutboxRow};
use super::{ClientError, LocalCode, PendingOp, RequestFailure};
use keyway_api::{
    CodeMode, CodeOnLock, CodeState, CodeStatus, CodeView, CreateCodeRequest, LockSync,
    PropertyView, SetCodeRequest, UserView,
};
use keyway_codes::code::{AccessPoint, Code, CodeKind, Origin};
use keyway_codes::policy::{CheckContext, TargetLock};
use keyway_codes::schedule::Schedule;

/// Every code the phone knows, mirror and overlay merged, oldest first.
pub(crate) fn codes(conn: &Connection) -> Result<Vec<LocalCode>, ClientError> {
    let locks = store::locks(conn)?;
    let local = store::local_codes(conn)?;
    let outbox = store::outbox(conn)?;
    let mut ops: HashMap<&str, Vec<&OutboxRow>> = HashMap::new();
    for entry in &outbox {
        ops.entry(entry.code_id.as_str()).or_default().push(entry);
    }
    let by_server: HashMap<&str, &LocalRow> = local
        .iter()
        .filter_map(|l| l.server_id.as_deref().map(|s| (s, l)))
        .collect();
    let mut out = Vec::new();
    let mut mirrored = std::collections::HashSet::new();
    for (server_id, body) in store::mirror_codes(conn)? {
        let view: CodeView = serde_json::from_str(&body)?;
        let id = by_server
            .get(server_id.as_str())
            .map(|l| l.id.clone())
            .unwrap_or_else(|| server_id.clone());
        let mut code = from_view(view, id.clone());
        apply_ops(&mut code, ops.get(id.as_str()).map(Vec::as_slice));
        mirrored.insert(server_id);
        out.push(code);
    }
    for row in &local {
        if row.server_id.as_ref().is_some_and(|s| mirrored.contains(s)) {
            continue;
        }
        let mut code = from_request(row, &locks);
        apply_ops(&mut code, ops.get(row.id.as_str()).map(Vec::as_slice));
        out.push(code);
    }
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

fn from_view(view: CodeView, id: String) -> LocalCode {
    LocalCode {
        id,
        server_id: Some(view.id),
        kind: view.kind,
        origin: Some(view.origin),
        name: view.name,
        guest_type: view.guest_type,
        unit_id: view.unit_id,
        value: view.value,
        schedule: view.schedule,
        enabled: view.enabled,
        status: view.status,
        locks: view.locks,
        offline: view.offline,
        backups: view.backups,
        pending: None,
        failure: None,
        created_at: view.created_at,
        updated_at: view.updated_at,
    }
}

/// A code the server has not accepted yet, from the request that creates it.
fn from_request(row: &LocalRow, locks: &[LockSync]) -> LocalCode {
    let request = &row.request;
    let at = jiff::Timestamp::from_second(row.created_at).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let state = if row.server_id.is_some() {
        CodeState::Pending
    } else {
        CodeState::Requested
    };
    LocalCode {
        id: row.id.clone(),
        server_id: row.server_id.clone(),
        kind: request.kind,
        origin: Some(match request.mode {
            CodeMode::Generate => Origin::Generated,
            CodeMode::Pick => Origin::Custom,
        }),
        name: request.name.clone(),
        guest_type: request.guest_type,
        unit_id: request.unit_id.clone(),
        value: row.value.clone(),
        schedule: request.schedule.clone().unwrap_or(Schedule::Always),
        enabled: true,
        status: CodeStatus::Active,
        locks: row
            .lock_ids
            .iter()
            .map(|lock_id| CodeOnLock {
                lock_id: lock_id.clone(),
                lock_name: locks
                    .iter()
                    .find(|l| &l.lock_id == lock_id)
                    .map(|l| l.name.clone())
                    .unwrap_or_default(),
                state,
                reason: None,
                previous_active: false,
            })
            .collect(),
        offline: Vec::new(),
        backups: Vec::new(),
        pending: None,
        failure: None,
        created_at: at,
        updated_at: at,
    }
}

/// Lays the requests still in the outbox over a code.
fn apply_ops(code: &mut LocalCode, ops: Option<&[&OutboxRow]>) {
    for entry in ops.unwrap_or_default() {
        let Some(op) = PendingOp::parse(&entry.op) else {
            continue;
        };
        if entry.state == "failed" {
            let problem = entry.error.clone();
            let failure = RequestFailure {
                op,
                code: problem.as_ref().map(|p| p.code.clone()).unwrap_or_default(),
                detail: problem
                    .as_ref()
                    .map(|p| p.detail.clone())
                    .unwrap_or_default(),
                violations: problem.map(|p| p.violations).unwrap_or_default(),
            };
            if op == PendingOp::Create {
                code.status = CodeStatus::Failed;
                for lock in &mut code.locks {
                    lock.state = CodeState::Failed;
                    lock.reason = Some(failure.code.clone());
                }
            }
            code.failure = Some(failure);
            continue;
        }
        code.pending = Some(op);
        match op {
            PendingOp::Create => {}
            PendingOp::Change => {
                let request: Option<SetCodeRequest> = serde_json::from_str(&entry.body).ok();
                if let Some(request) = request {
                    code.value = request.code.clone();
                    code.origin = Some(match request.mode {
                        CodeMode::Generate => Origin::Generated,
                        CodeMode::Pick => Origin::Custom,
                    });
                }
                for lock in &mut code.locks {
                    lock.previous_active =
                        matches!(lock.state, CodeState::Active | CodeState::Disabling)
                            || lock.previous_active;
                    lock.state = CodeState::Requested;
                    lock.reason = None;
                }
            }
            PendingOp::Disable | PendingOp::Enable | PendingOp::Delete => {
                if op == PendingOp::Disable {
                    code.enabled = false;
                } else if op == PendingOp::Enable {
                    code.enabled = true;
                }
                for lock in code
                    .locks
                    .iter_mut()
                    .filter(|l| l.state != CodeState::Failed)
                {
                    lock.state = CodeState::Requested;
                }
            }
        }
    }
}

/// Whether a code in this state is, or is about to be, on the lock (the
/// server compares new codes with exactly these).
fn live(state: CodeState) -> bool {
    matches!(
        state,
        CodeState::Requested
            | CodeState::Pending
            | CodeState::Active
            | CodeState::Disabling
            | CodeState::Disabled
    )
}

/// The logged-in user and their property, as last synced.
pub(crate) fn session_parts(conn: &Connection) -> Result<(UserView, PropertyView), ClientError> {
    let user: Option<UserView> = store::get_meta_json(conn, "user")?;
    let property: Option<PropertyView> = store::get_meta_json(conn, "property")?;
    match (user, property) {
        (Some(user), Some(property)) => Ok((user, property)),
        _ => Err(ClientError::NotLoggedIn),
    }
}

/// The doors a new code goes on when the request names none: the unit's
/// doors, plus the community doors for generated resident codes (as the
/// server decides).
pub(crate) fn default_locks(
    locks: &[LockSync],
    unit_id: Option<&str>,
    kind: CodeKind,
    mode: CodeMode,
) -> Vec<String> {
    let shared = kind == CodeKind::Resident && mode == CodeMode::Generate;
    locks
        .iter()
        .filter(|l| {
            (l.access_point == AccessPoint::UnitDoor
                && l.unit_id.is_some()
                && l.unit_id.as_deref() == unit_id)
                || (shared && l.access_point.is_shared())
        })
        .map(|l| l.lock_id.clone())
        .collect()
}

/// The doors of a create request, checked against what the phone knows.
pub(crate) fn request_locks(
    conn: &Connection,
    request: &CreateCodeRequest,
) -> Result<Vec<String>, ClientError> {
    let (user, _) = session_parts(conn)?;
    let locks = store::locks(conn)?;
    let unit = request.unit_id.as_deref().or(user.unit_id.as_deref());
    match &request.lock_ids {
        Some(ids) => {
            if ids.is_empty() || ids.len() > 64 {
                return Err(ClientError::invalid("lock_ids lists 1 to 64 doors"));
            }
            let mut out: Vec<String> = Vec::new();
            for id in ids {
                if !locks.iter().any(|l| &l.lock_id == id) {
                    return Err(ClientError::not_found(format!("door {id}")));
                }
                if !out.contains(id) {
                    out.push(id.clone());
                }
            }
            Ok(out)
        }
        None => Ok(default_locks(&locks, unit, request.kind, request.mode)),
    }
}

/// The policy context of a code of `kind` on `lock_ids`, with the codes the
/// phone knows are on those locks (leaving out `exclude`, a code being
/// changed).
pub(crate) fn check_context(
    conn: &Connection,
    kind: CodeKind,
    origin: Origin,
    length: Option<u8>,
    lock_ids: &[String],
    exclude: Option<&str>,
) -> Result<CheckContext, ClientError> {
    let (_, property) = session_parts(conn)?;
    let locks = store::locks(conn)?;
    let known = codes(conn)?;
    let mut ctx = CheckContext::new(property.policy.community(), kind).with_origin(origin);
    if let Some(length) = length {
        ctx = ctx.with_length(usize::from(length));
    }
    for lock_id in lock_ids {
        let Some(lock) = locks.iter().find(|l| &l.lock_id == lock_id) else {
            return Err(ClientError::not_found(format!("door {lock_id}")));
        };
        let codes = known
            .iter()
            .filter(|c| Some(c.id.as_str()) != exclude)
            .filter(|c| {
                c.locks
                    .iter()
                    .any(|l| &l.lock_id == lock_id && live(l.state))
            })
            .filter_map(|c| c.value.as_deref().and_then(|v| Code::parse(v).ok()))
            .collect();
        ctx.locks.push(TargetLock {
            access_point: lock.access_point,
            enter_key: lock.enter_key,
            constraints: lock.constraints.clone(),
            codes,
        });
    }
    Ok(ctx)
}

/// Whether a generated code for these doors may be drawn on the phone and
/// sent as a pick: only where a custom code would be accepted (a resident's
/// code, custom codes on, no community door).
pub(crate) fn may_draw_locally(ctx: &CheckContext) -> bool {
    ctx.kind == CodeKind::Resident
        && ctx.community.custom_codes
        && !ctx.locks.is_empty()
        && ctx.locks.iter().all(|l| !l.access_point.is_shared())
}
