//! A private D-Bus bus: a `dbus-daemon` child process listening on a socket
//! in a temporary directory, so a simulator (or a test) has a bus of its own
//! and leaves nothing behind. Clients reach it through
//! `DBUS_SYSTEM_BUS_ADDRESS`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// `dbus-daemon` could not be run (the `dbus` package provides it).
    #[error("cannot run dbus-daemon (install the `dbus` package): {0}")]
    Spawn(std::io::Error),
    /// It ran but did not report an address.
    #[error("dbus-daemon did not start: {0}")]
    NoAddress(String),
}

/// A running private bus; the daemon stops and its socket goes when dropped.
#[derive(Debug)]
pub struct PrivateBus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    /// Starts `dbus-daemon` on a socket in a fresh temporary directory.
    pub fn start() -> Result<Self, BusError> {
        let dir = tempfile::Builder::new()
            .prefix("keyway-bus")
            .tempdir()
            .map_err(BusError::Spawn)?;
        Self::start_in(dir)
    }

    fn start_in(dir: tempfile::TempDir) -> Result<Self, BusError> {
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, config_text(&socket)).map_err(BusError::Spawn)?;
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .arg("--print-address=1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // It only complains it may not raise its file limit.
            .stderr(Stdio::null())
            .spawn()
            .map_err(BusError::Spawn)?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let address = line.trim().to_owned();
        if !matches!(read, Some(Ok(n)) if n > 0) || address.is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BusError::NoAddress("no address printed".into()));
        }
        Ok(Self {
            child,
            address,
            _dir: dir,
        })
    }

    /// The bus address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bus that lets every local client own names and talk to everyone: it is
/// private to one simulator, on a socket only its user can reach.
fn config_text(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bus_starts_and_leaves_nothing_behind() {
        let bus = PrivateBus::start().unwrap();
        assert!(bus.address().starts_with("unix:path="));
        let socket = bus
            .address()
            .trim_start_matches("unix:path=")
            .split(',')
            .next()
            .unwrap()
            .to_owned();
        assert!(Path::new(&socket).exists());
        drop(bus);
        assert!(!Path::new(&socket).exists());
    }
}
