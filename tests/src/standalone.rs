//! Simulated locks standing alone, without a server or a property:
//! fabricated locks (random ids and keys), their clocks frozen at
//! [`test_epoch`], at chosen distances from the phone, served behind the
//! simulated BlueZ on a private bus made this process's system bus. The
//! simulator's own suites (`ble-sim/tests`) and its
//! delivery benchmark run on them; the property's locks of the other worlds
//! come from [`crate::corridor`].

use jiff::Timestamp;
use keyway_ble_sim::config::{ClockSpec, LockSpec, Resolved, ResolvedLock};
use keyway_ble_sim::harness::{self, Harness};
use keyway_ble_sim::radio::{Position, RadioConfig};
use keyway_codes::AccessPoint;
use keyway_protocol::provisioning::{ProvisionedLock, ProvisioningFile};
use keyway_protocol::{LockId, RootKey};

use crate::error::{KitError, KitResult};

/// The instant every lock's frozen clock reads in [`test_config`].
pub fn test_epoch() -> Timestamp {
    Timestamp::from_second(1_795_435_200).unwrap_or(Timestamp::UNIX_EPOCH) // 2026-11-23T12:00:00Z
}

/// A unit-door lock with a random id and key.
pub fn test_lock(name: &str, enter_key: bool) -> ProvisionedLock {
    ProvisionedLock {
        lock_id: LockId::random(),
        name: name.to_owned(),
        access_point: AccessPoint::UnitDoor,
        root_key: RootKey::generate().unwrap_or_else(|_| RootKey::from_bytes(rand::random())),
        capacity: keyway_lock::DEFAULT_CAPACITY,
        enter_key,
        constraints: Vec::new(),
    }
}

/// A configuration with `locks` at the given positions (metres east), their
/// clocks frozen at [`test_epoch`], the phone at the origin, state in a fresh
/// temporary directory.
pub fn test_config(locks: Vec<(ProvisionedLock, f64)>, radio: RadioConfig) -> Resolved {
    let provisioning = ProvisioningFile::new(
        "Test property",
        locks.iter().map(|(l, _)| l.clone()).collect(),
    );
    Resolved {
        state_dir: None,
        phone: Position::default(),
        radio,
        locks: locks
            .into_iter()
            .map(|(provisioned, x)| ResolvedLock {
                spec: LockSpec {
                    id: provisioned.lock_id,
                    name: None,
                    x,
                    y: 0.0,
                    keypad: None,
                    capacity: None,
                    clock: ClockSpec {
                        start: Some(test_epoch()),
                        frozen: true,
                    },
                },
                provisioned,
            })
            .collect(),
        provisioning,
    }
}

/// One test lock named `name`, `x` metres from the phone, served on the
/// bus at `address`: the running simulator and the lock (with its key).
pub async fn one_lock(
    address: &str,
    name: &str,
    x: f64,
    radio: RadioConfig,
) -> KitResult<(Harness, ProvisionedLock)> {
    let lock = test_lock(name, true);
    let config = test_config(vec![(lock.clone(), x)], radio);
    Ok((Harness::start(address, &config).await?, lock))
}

/// Runs `body` (given the bus's address) on a fresh runtime, with a private
/// bus made this process's system bus first. Call it before any thread
/// starts, once per process (the tests that use it run in `rusty-fork`).
pub fn on_system_bus<F: std::future::Future>(
    body: impl FnOnce(String) -> F,
) -> KitResult<F::Output> {
    let bus = harness::system_bus()?;
    let address = bus.address().to_owned();
    let runtime = harness::runtime().map_err(KitError::Runtime)?;
    let output = runtime.block_on(body(address));
    drop(runtime);
    drop(bus);
    Ok(output)
}
