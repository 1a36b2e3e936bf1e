//! Everything needed to run simulated locks behind the real btleplug in one
//! process: a private bus made this process's system bus, the simulator, its
//! BlueZ, and a btleplug transport. The scenario runner, the test kit's
//! worlds (`keyway-testkit`: the demo's, and the standalone locks the
//! simulator's suites and benchmark run on) use it.
//!
//! libdbus (under btleplug) reads `DBUS_SYSTEM_BUS_ADDRESS` once per process
//! and keeps it, so a process talks to one system bus for its whole life:
//! call [`system_bus`] first, before any thread or runtime starts, then build
//! the runtime ([`runtime`]). Tests that each need their own bus run in
//! their own process (the `rusty-fork` crate does that).

use std::sync::Arc;

use keyway_delivery::TransportError;
use keyway_delivery::ble::BleTransport;
use keyway_protocol::provisioning::{ProvisionedLock, ProvisioningFile};
use keyway_protocol::{LockId, RootKey};

use crate::bluez::BluezServer;
use crate::bus::{BusError, PrivateBus};
use crate::config::Resolved;
use crate::sim::{Sim, SimError};

/// Starts a private bus and makes it this process's D-Bus system bus.
///
/// Call it before starting any thread or async runtime: it sets
/// `DBUS_SYSTEM_BUS_ADDRESS` for the whole process.
pub fn system_bus() -> Result<PrivateBus, BusError> {
    let bus = PrivateBus::start()?;
    set_system_bus_address(bus.address());
    Ok(bus)
}

/// Points this process's D-Bus clients at `address`. Call before starting
/// threads.
#[allow(unsafe_code)]
pub fn set_system_bus_address(address: &str) {
    // SAFETY: the caller runs this before other threads start (see
    // `system_bus`), so nothing reads the environment concurrently.
    unsafe { std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", address) };
}

/// A multi-threaded tokio runtime for the simulator and the transport.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Why the harness could not start.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The simulator refused the configuration.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The simulated BlueZ could not take the bus.
    #[error("simulated BlueZ: {0}")]
    Bluez(#[from] zbus::Error),
}

/// The simulator serving BlueZ on a bus.
#[derive(Debug)]
pub struct Harness {
    /// The simulated world.
    pub sim: Arc<Sim>,
    /// The locks' provisioning (their keys: the tests play the server).
    pub provisioning: ProvisioningFile,
    bluez: BluezServer,
}

impl Harness {
    /// Starts `config`'s locks and serves `org.bluez` on the bus at `address`.
    pub async fn start(address: &str, config: &Resolved) -> Result<Self, HarnessError> {
        let sim = Arc::new(Sim::new(config)?);
        let bluez = BluezServer::start(sim.clone(), address).await?;
        Ok(Self {
            sim,
            provisioning: config.provisioning.clone(),
            bluez,
        })
    }

    /// A btleplug transport on this process's system bus.
    pub async fn transport(&self) -> Result<BleTransport, TransportError> {
        BleTransport::new().await
    }

    /// Stops serving BlueZ and gives the bus's `org.bluez` name back.
    pub async fn shutdown(self) {
        self.bluez.shutdown().await;
    }

    /// The simulated BlueZ.
    pub fn bluez(&self) -> &BluezServer {
        &self.bluez
    }

    /// A played server holding every lock's keys (`crate::played`).
    pub fn played_server(&self) -> crate::played::PlayedServer {
        crate::played::PlayedServer::new(
            self.provisioning
                .locks
                .iter()
                .map(|l| (l.lock_id, l.root_key.clone())),
        )
    }

    /// The root key of a lock, by id.
    pub fn root_key(&self, lock_id: LockId) -> Option<RootKey> {
        self.provisioning
            .locks
            .iter()
            .find(|l| l.lock_id == lock_id)
            .map(|l| l.root_key.clone())
    }
}

/// Gives `lock` in `sim` a job with `ops` through the lock's own protocol
/// path, without the radio, as a visit does: a status request opens a
/// session, a job from the version it shows is sealed for that session.
/// Returns the lock's answer to the job (an encoded message).
pub fn deliver_directly(
    sim: &Sim,
    lock: &ProvisionedLock,
    ops: Vec<keyway_protocol::Op>,
    lifetime: jiff::SignedDuration,
) -> Result<Vec<u8>, DirectError> {
    use keyway_protocol::{BaseVersion, Job, JobId, LockKeys, Message};
    let id = lock.lock_id.to_string();
    let keys = LockKeys::derive(&lock.root_key, lock.lock_id);
    let challenge: [u8; 16] = rand::random();
    let request = Message::StatusRequest {
        challenge,
        since_seq: 0,
    }
    .encode();
    let answer = sim.handle_message(&id, &request)?;
    let Ok(Message::Status(sealed)) = Message::decode(&answer) else {
        return Err(DirectError::NoStatus);
    };
    let status = keys
        .open_status(&sealed, challenge)
        .map_err(|e| DirectError::Seal(e.code()))?;
    let job = Job {
        job_id: JobId::random(),
        session: status.session,
        base: BaseVersion::Exact(status.version),
        target: status.version + 1,
        issued_at: status.lock_time,
        expires_at: status.lock_time.checked_add(lifetime)?,
        audit_ack: 0,
        ops,
    };
    let envelope = keys
        .seal_job(&job)
        .map_err(|e| DirectError::Seal(e.code()))?;
    Ok(sim.handle_message(&id, &Message::Jobs(vec![envelope]).encode())?)
}

/// Why [`deliver_directly`] could not hand the lock its job.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    /// The simulator refused the message (no such lock, no power).
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The lock answered the status request with something else.
    #[error("the lock did not answer the status request")]
    NoStatus,
    /// Sealing or opening failed (its stable code).
    #[error("sealing failed: {0}")]
    Seal(&'static str),
    /// The job's lifetime overflows the lock's clock.
    #[error("the job's lifetime: {0}")]
    Lifetime(#[from] jiff::Error),
}
