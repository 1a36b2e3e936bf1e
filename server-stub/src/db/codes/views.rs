//! The API views of codes, with the state of each on its locks, its offline
//! codes and the backup codes handed out for it, in a fixed number of
//! queries whatever their number: a sync page or a list costs what it
//! returns, not a round trip per code and lock.

use std::collections::HashMap;

use keyway_api::{BackupCodeView, CodeOnLock, CodeState, CodeView, OfflineCodeView};

use super::super::Context;
use super::{CodeRow, Holds, Placement, placements};
use crate::clock::{now_secs, ts};
use crate::crypto::DataKey;
use crate::db::backups::{self, Handout};
use crate::db::offline::{self, OfflineRow};
use crate::error::{Error, Result};

/// The API view of a code; `reveal` decides whether the digits are shown.
pub async fn code_view(cx: &mut impl Context, code: &CodeRow, reveal: bool) -> Result<CodeView> {
    let mut views = code_views(cx, &[(code, reveal)]).await?;
    views
        .pop()
        .ok_or_else(|| Error::internal("viewing a code", "no view"))
}

/// The API views of several codes (each with whether its digits are
/// shown), in order.
pub async fn code_views(
    cx: &mut impl Context,
    codes: &[(&CodeRow, bool)],
) -> Result<Vec<CodeView>> {
    let mut views = Vec::with_capacity(codes.len());
    // Within both databases' limits on bound parameters.
    for chunk in codes.chunks(500) {
        views.extend(views_of_chunk(cx, chunk).await?);
    }
    Ok(views)
}

async fn views_of_chunk(
    cx: &mut impl Context,
    codes: &[(&CodeRow, bool)],
) -> Result<Vec<CodeView>> {
    let ids: Vec<&str> = codes.iter().map(|(code, _)| code.id.as_str()).collect();
    let mut by_code: HashMap<String, Vec<Placement>> = HashMap::new();
    // A code's state on its locks is its digits'; a courier's key card has
    // slots of its own.
    let digits = placements::of_codes(cx, &ids).await?.into_iter();
    for placement in digits.filter(|p| p.holds == Holds::Code) {
        by_code
            .entry(placement.code_id.clone())
            .or_default()
            .push(placement);
    }
    let mut offline_of: HashMap<String, Vec<OfflineRow>> = HashMap::new();
    for row in offline::of_codes(cx, &ids).await? {
        offline_of.entry(row.code_id.clone()).or_default().push(row);
    }
    let handed = Handed::of_codes(cx, &ids).await?;
    let lock_ids: std::collections::BTreeSet<&str> = by_code
        .values()
        .flatten()
        .map(|p| p.lock_id.as_str())
        .chain(offline_of.values().flatten().map(|r| r.lock_id.as_str()))
        .collect();
    let lock_ids: Vec<&str> = lock_ids.into_iter().collect();
    let names = super::super::locks::names(cx, &lock_ids).await?;
    let key = cx.key().clone();
    codes
        .iter()
        .map(|(code, reveal)| {
            let (none, no_offline) = (Vec::new(), Vec::new());
            let on_code = by_code.get(&code.id).unwrap_or(&none);
            let offline = offline_of.get(&code.id).unwrap_or(&no_offline);
            let mut view = view_of(&key, code, on_code, &names, *reveal)?;
            view.offline = offline_views(&key, offline, &names, *reveal)?;
            view.backups = handed.views(&key, &code.id, &names, *reveal)?;
            Ok(view)
        })
        .collect()
}

/// One code's view from its placements (oldest first) and the lock names.
fn view_of(
    key: &DataKey,
    code: &CodeRow,
    placements: &[Placement],
    names: &HashMap<String, String>,
    reveal: bool,
) -> Result<CodeView> {
    let mut lock_ids: Vec<&str> = Vec::new();
    for p in placements {
        if !lock_ids.contains(&p.lock_id.as_str()) {
            lock_ids.push(&p.lock_id);
        }
    }
    let mut locks = Vec::with_capacity(lock_ids.len());
    for lock_id in lock_ids {
        let on_lock: Vec<&Placement> = placements.iter().filter(|p| p.lock_id == lock_id).collect();
        let Some(newest) = on_lock.last() else {
            continue;
        };
        let previous_active = on_lock[..on_lock.len() - 1]
            .iter()
            .any(|p| p.conf_present && p.conf_enabled);
        locks.push(CodeOnLock {
            lock_id: lock_id.to_owned(),
            lock_name: names.get(lock_id).cloned().unwrap_or_default(),
            state: newest.state(),
            reason: newest.reason.clone(),
            previous_active,
        });
    }
    let value = if reveal {
        Some(code.code(key)?.as_str().to_owned())
    } else {
        None
    };
    Ok(CodeView {
        id: code.id.clone(),
        kind: code.kind,
        origin: code.origin,
        name: code.name.clone(),
        guest_type: code.guest_type,
        unit_id: code.unit_id.clone(),
        holder_id: code.holder_id.clone(),
        value,
        schedule: code.schedule.clone(),
        enabled: code.enabled,
        status: code.status,
        locks,
        offline: Vec::new(),
        backups: Vec::new(),
        created_at: ts(code.created_at),
        updated_at: ts(code.updated_at),
    })
}

/// A code's offline codes, one per door, as the API shows them.
fn offline_views(
    key: &DataKey,
    rows: &[OfflineRow],
    names: &HashMap<String, String>,
    reveal: bool,
) -> Result<Vec<OfflineCodeView>> {
    let now = now_secs();
    rows.iter()
        .map(|row| {
            Ok(OfflineCodeView {
                lock_id: row.lock_id.clone(),
                lock_name: names.get(&row.lock_id).cloned().unwrap_or_default(),
                value: if reveal {
                    Some(row.code(key)?.as_str().to_owned())
                } else {
                    None
                },
                one_time: row.offline.kind() == keyway_protocol::OfflineKind::OneTime,
                starts_at: row.offline.starts_at(),
                ends_at: row.offline.ends_at(),
                state: row.state(now),
                first_used_at: row.first_used_at.map(ts),
            })
        })
        .collect()
}

/// The backup codes handed out for a set of codes, with the backup codes'
/// rows and placements (none read when nothing was handed out).
struct Handed {
    handouts: Vec<Handout>,
    backups: HashMap<String, CodeRow>,
    placements: Vec<Placement>,
}

impl Handed {
    async fn of_codes(cx: &mut impl Context, ids: &[&str]) -> Result<Self> {
        let handouts = backups::of_codes(cx, ids).await?;
        let backup_ids: Vec<&str> = handouts.iter().map(|h| h.backup_code_id.as_str()).collect();
        let backups = super::by_ids(cx, &backup_ids)
            .await?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        let placements = placements::of_codes(cx, &backup_ids).await?;
        Ok(Self {
            handouts,
            backups,
            placements,
        })
    }

    /// The views of the backup codes handed out for `code_id`, newest first;
    /// the digits only while the backup opens the door.
    fn views(
        &self,
        key: &DataKey,
        code_id: &str,
        names: &HashMap<String, String>,
        reveal: bool,
    ) -> Result<Vec<BackupCodeView>> {
        let mut views = Vec::new();
        for handout in self.handouts.iter().filter(|h| h.code_id == code_id) {
            let on_lock = self
                .placements
                .iter()
                .filter(|p| p.code_id == handout.backup_code_id)
                .max_by_key(|p| p.created_at);
            let state = match (handout.ending.as_deref(), on_lock) {
                (Some("used"), _) => CodeState::Used,
                (Some(_), Some(p)) if p.conf_present => CodeState::Removing,
                (Some(_), _) => CodeState::Removed,
                (None, _) => CodeState::Active,
            };
            let value = match self.backups.get(&handout.backup_code_id) {
                Some(backup) if reveal && state == CodeState::Active => {
                    Some(backup.code(key)?.as_str().to_owned())
                }
                _ => None,
            };
            views.push(BackupCodeView {
                lock_id: handout.lock_id.clone(),
                lock_name: names.get(&handout.lock_id).cloned().unwrap_or_default(),
                value,
                handed_at: ts(handout.handed_at),
                state,
            });
        }
        Ok(views)
    }
}
