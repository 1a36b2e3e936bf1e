//! A transport that times what the real one does: it wraps the btleplug
//! transport the phone core uses and notes when each call starts and ends,
//! so one delivery round splits into its Bluetooth steps on the real path
//! (nothing in the core is changed or told).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use keyway_delivery::{HeardDevice, LockLink, LockTransport, TransportError, WantedDevice};

/// One call to the transport or a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Scan,
    Connect,
    Write,
    Notification,
    Disconnect,
}

/// A call with when it started and ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) call: Call,
    pub(crate) start: Instant,
    pub(crate) end: Instant,
}

/// What the transport did, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timeline(Arc<Mutex<Vec<Span>>>);

impl Timeline {
    fn note(&self, call: Call, start: Instant) {
        let span = Span {
            call,
            start,
            end: Instant::now(),
        };
        self.0.lock().expect("the timeline").push(span);
    }

    /// Takes the spans noted so far.
    pub(crate) fn take(&self) -> Vec<Span> {
        std::mem::take(&mut *self.0.lock().expect("the timeline"))
    }
}

/// The transport `inner`, timed into `timeline`.
pub(crate) struct Timed<T> {
    pub(crate) inner: T,
    pub(crate) timeline: Timeline,
}

#[async_trait]
impl<T: LockTransport> LockTransport for Timed<T> {
    async fn scan(&self, duration: Duration) -> Result<Vec<HeardDevice>, TransportError> {
        let start = Instant::now();
        let heard = self.inner.scan(duration).await;
        self.timeline.note(Call::Scan, start);
        heard
    }

    async fn scan_until(
        &self,
        duration: Duration,
        wanted: &WantedDevice<'_>,
    ) -> Result<Vec<HeardDevice>, TransportError> {
        let start = Instant::now();
        let heard = self.inner.scan_until(duration, wanted).await;
        self.timeline.note(Call::Scan, start);
        heard
    }

    async fn connect(
        &self,
        device: &str,
        timeout: Duration,
    ) -> Result<Arc<dyn LockLink>, TransportError> {
        let start = Instant::now();
        let link = self.inner.connect(device, timeout).await;
        self.timeline.note(Call::Connect, start);
        Ok(Arc::new(TimedLink {
            inner: link?,
            timeline: self.timeline.clone(),
        }))
    }
}

struct TimedLink {
    inner: Arc<dyn LockLink>,
    timeline: Timeline,
}

#[async_trait]
impl LockLink for TimedLink {
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    async fn write_frame(&self, frame: Vec<u8>, with_response: bool) -> Result<(), TransportError> {
        let start = Instant::now();
        let written = self.inner.write_frame(frame, with_response).await;
        self.timeline.note(Call::Write, start);
        written
    }

    async fn next_notification(&self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        let start = Instant::now();
        let frame = self.inner.next_notification(timeout).await;
        self.timeline.note(Call::Notification, start);
        frame
    }

    async fn disconnect(&self) -> Result<(), TransportError> {
        let start = Instant::now();
        let closed = self.inner.disconnect().await;
        self.timeline.note(Call::Disconnect, start);
        closed
    }
}

/// The steps of one visit (one link), as the spans show them: the status
/// request written and its answer in; the gap while the phone asks the
/// server for the sealed job (no Bluetooth call); the job written and the
/// receipt in; the link closed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct VisitSteps {
    pub(crate) scan: Duration,
    pub(crate) connect: Duration,
    pub(crate) status: Duration,
    pub(crate) server: Duration,
    pub(crate) job_and_receipt: Duration,
    pub(crate) disconnect: Duration,
}

impl VisitSteps {
    /// The steps together.
    pub(crate) fn total(&self) -> Duration {
        self.scan
            + self.connect
            + self.status
            + self.server
            + self.job_and_receipt
            + self.disconnect
    }
}

/// Splits a round's spans into the steps of its first visit: the last scan
/// before the first connection, the connection, then the link's calls
/// (writes come in two bursts, the status request and the job).
pub(crate) fn first_visit(spans: &[Span]) -> Option<VisitSteps> {
    let connect_at = spans.iter().position(|s| s.call == Call::Connect)?;
    let scan = spans[..connect_at]
        .iter()
        .rev()
        .find(|s| s.call == Call::Scan)?;
    let connect = spans[connect_at];
    let link: Vec<&Span> = spans[connect_at + 1..]
        .iter()
        .take_while(|s| s.call != Call::Connect && s.call != Call::Scan)
        .collect();
    let first_write = link.iter().position(|s| s.call == Call::Write)?;
    let first_answer = first_write
        + link[first_write..]
            .iter()
            .position(|s| s.call == Call::Notification)?;
    let job_start = first_answer
        + link[first_answer..]
            .iter()
            .position(|s| s.call == Call::Write)?;
    let last_notification = link.iter().rposition(|s| s.call == Call::Notification)?;
    let disconnect = link
        .iter()
        .find(|s| s.call == Call::Disconnect)
        .map_or(Duration::ZERO, |s| s.end - s.start);
    // The status answer may come in several notifications: it ends with the
    // last one before the job's first write.
    let status_end = link[..job_start]
        .iter()
        .rev()
        .find(|s| s.call == Call::Notification)?
        .end;
    Some(VisitSteps {
        scan: scan.end - scan.start,
        connect: connect.end - connect.start,
        status: status_end - link[first_write].start,
        server: link[job_start].start - status_end,
        job_and_receipt: link[last_notification].end - link[job_start].start,
        disconnect,
    })
}
