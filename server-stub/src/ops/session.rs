//! A user's session: trading an API token for a device token, logging a
//! device out, who the caller is, and the doors they may use.

use keyway_api::{DoorList, DoorView, LoginResponse, MeResponse, PropertyView, Role};

use crate::auth::{Caller, authenticate};
use crate::clock::now_secs;
use crate::crypto::{new_id, new_token, token_hash};
use crate::db::users::{self, NewDevice};
use crate::db::{Store, locks, properties};
use crate::error::{Error, ErrorKind, Result};

/// Trades an API token for a device token (one per device, revocable alone).
pub async fn login(store: &Store, token: &str, device_name: &str) -> Result<LoginResponse> {
    let device_name = device_name.trim();
    if device_name.is_empty() || device_name.chars().count() > 100 {
        return Err(Error::invalid("device_name must be 1 to 100 characters"));
    }
    if !token.starts_with("kwa_") {
        return Err(Error::unauthorized());
    }
    let caller = authenticate(store, token).await?;
    let device_token = new_token("kwd")?;
    let device = NewDevice {
        id: new_id("dev"),
        user_id: caller.user_id.clone(),
        name: device_name.to_owned(),
        token_hash: token_hash(&device_token),
        created_at: now_secs(),
    };
    crate::db::insert(&mut store.read().await?, std::slice::from_ref(&device)).await?;
    log::info!("user {} logged in a device {}", caller.user_id, device.id);
    Ok(LoginResponse {
        device_token,
        device_id: device.id,
        user: caller.view(),
    })
}

/// Revokes the calling device's token (API tokens are revoked by an operator).
pub async fn logout(store: &Store, caller: &Caller) -> Result<()> {
    let Some(device_id) = &caller.device_id else {
        return Err(Error::new(
            ErrorKind::Invalid,
            "not_a_device",
            "only device tokens log out; an operator revokes API tokens",
        ));
    };
    users::revoke_device(&mut store.read().await?, device_id, now_secs()).await
}

/// The caller and their property.
pub async fn me(store: &Store, caller: &Caller) -> Result<MeResponse> {
    let property = properties::load(&mut store.read().await?, &caller.property_id).await?;
    Ok(MeResponse {
        user: caller.view(),
        property: PropertyView {
            id: property.id,
            name: property.name,
            time_zone: property.time_zone,
            policy: property.policy,
        },
    })
}

/// The doors the caller may use and carry jobs to.
pub async fn doors(store: &Store, caller: &Caller) -> Result<DoorList> {
    let mut read = store.read().await?;
    let rows = match (&caller.role, &caller.unit_id) {
        (Role::Resident, Some(unit)) => {
            locks::unit_and_shared(&mut read, &caller.property_id, unit, -1, i64::MAX).await?
        }
        _ => locks::all(&mut read, &caller.property_id).await?,
    };
    let doors = rows
        .into_iter()
        .filter(|lock| caller.may_reach_lock(lock))
        .map(|lock| DoorView {
            lock_id: lock.id,
            name: lock.name,
            access_point: lock.access_point,
            unit_id: lock.unit_id,
            enter_key: lock.enter_key,
            constraints: lock.constraints,
        })
        .collect();
    Ok(DoorList { doors })
}
