//! Discovery as BlueZ runs it: sessions, advertisement reports, and
//! temporary devices.
//!
//! - While any client discovers, every advertising interval brings one report
//!   per lock the phone hears ([`crate::sim::Sim::advertisement_reports`]): a
//!   new address becomes a `Device1` (`InterfacesAdded`); a known one gets
//!   its `RSSI`, `ManufacturerData` and `Name` updated, and a
//!   `PropertiesChanged` for whatever changed (the RSSI walk changes it most
//!   times; with a `DuplicateData` filter `ManufacturerData` is sent with
//!   every report, as BlueZ does).
//! - When the last session ends, every device's `RSSI` is invalidated
//!   (`PropertiesChanged` listing it as invalidated) after `rssi_hold_ms`;
//!   a session starting earlier drops it quietly first. So the first report
//!   of every session changes `RSSI`, and clients that wait for a change
//!   (bleak) see each lock in every session.
//! - Devices are temporary (Keyway locks are never paired or bonded): one
//!   neither connected nor heard for `temporary_timeout_s` is removed
//!   (`InterfacesRemoved`), as BlueZ's `TemporaryTimeout` does; a connected
//!   one stays, and its timer starts when the link ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zbus::Connection;

use super::device::{DeviceIface, DeviceState, device_path};
use super::{Bluez, Session};

impl Bluez {
    /// Follows the adapter's discovery: a session starting drops stale RSSI
    /// values and hears the locks at once; the last one ending schedules the
    /// RSSI invalidation.
    pub(super) async fn follow_sessions(self: &Arc<Self>, conn: &Connection) {
        let discovering = self.sim.adapter().discovering;
        let hold = Duration::from_millis(self.sim.radio().rssi_hold_ms);
        let before = {
            let mut state = self.state();
            let before = state.session;
            state.session = match (before, discovering) {
                (_, true) => Session::Discovering,
                (Session::Discovering, false) => Session::Ended {
                    invalidate_at: Instant::now() + hold,
                },
                (other, false) => other,
            };
            before
        };
        match (before, discovering) {
            (Session::Discovering, true) => {}
            (Session::Ended { .. }, true) => {
                // BlueZ would have invalidated them when the last session ended.
                self.invalidate_rssi(conn, true).await;
                self.hear(conn).await;
            }
            (Session::Idle, true) => self.hear(conn).await,
            (_, false) => {
                let due = matches!(
                    self.state().session,
                    Session::Ended { invalidate_at } if invalidate_at <= Instant::now()
                );
                if due {
                    self.invalidate_rssi(conn, false).await;
                    self.state().session = Session::Idle;
                }
            }
        }
    }

    /// Drops every device's `RSSI`: with a signal (the property listed as
    /// invalidated), or `quietly` (a new session starts, and its first
    /// report will publish a fresh value).
    async fn invalidate_rssi(self: &Arc<Self>, conn: &Connection, quietly: bool) {
        let paths: Vec<String> = self
            .state()
            .devices
            .values_mut()
            .filter_map(|d| d.rssi.take().map(|_| d.path()))
            .collect();
        for path in paths {
            if quietly {
                self.objects.note::<DeviceIface>(conn, &path).await;
            } else {
                self.objects.sync::<DeviceIface>(conn, &path).await;
            }
        }
    }

    /// One advertising interval while discovering: every lock heard reports.
    pub(super) async fn hear(self: &Arc<Self>, conn: &Connection) {
        let reports = self.sim.advertisement_reports();
        let duplicates = !self.state().duplicate_data.is_empty();
        let force: &[&str] = if duplicates {
            &["ManufacturerData"]
        } else {
            &[]
        };
        let now = Instant::now();
        for report in reports {
            let path = device_path(&report.address);
            let known = self
                .update_device(&report.address, |d| {
                    d.rssi = Some(report.rssi);
                    d.advertisement.clone_from(&report.advertisement);
                    d.name.clone_from(&report.name);
                    d.last_seen = now;
                })
                .is_some();
            if known {
                self.objects
                    .sync_forcing::<DeviceIface>(conn, &path, force)
                    .await;
                continue;
            }
            let device = DeviceState {
                lock_id: report.lock_id,
                address: report.address.clone(),
                name: report.name,
                rssi: Some(report.rssi),
                advertisement: report.advertisement,
                connected: false,
                services_resolved: false,
                notifying: false,
                last_seen: now,
            };
            self.state().devices.insert(report.address.clone(), device);
            let iface = DeviceIface {
                bluez: self.clone(),
                address: report.address.clone(),
            };
            self.objects.add(conn, &path, iface).await;
            log::debug!(
                "lock {}: heard as {} at {} dBm",
                report.lock_id,
                report.address,
                report.rssi
            );
        }
    }

    /// Removes temporary devices neither connected nor heard for the
    /// temporary timeout; a connected device counts as seen.
    pub(super) async fn expire_temporary(self: &Arc<Self>, conn: &Connection) {
        let timeout = self.sim.radio().temporary_timeout_s;
        let now = Instant::now();
        let expired: Vec<String> = {
            let mut state = self.state();
            for device in state.devices.values_mut().filter(|d| d.connected) {
                device.last_seen = now;
            }
            if timeout <= 0.0 {
                return;
            }
            let timeout = Duration::from_secs_f64(timeout);
            state
                .devices
                .values()
                .filter(|d| now.duration_since(d.last_seen) >= timeout)
                .map(|d| d.address.clone())
                .collect()
        };
        for address in expired {
            self.remove_device(conn, &address).await;
        }
    }
}
