//! Live updates: a server-sent event each time anything the dashboard shows
//! changes (whoever changed it: a click, curl, a phone's visit, a clock).
//! The page then fetches the parts it shows again.

use std::collections::hash_map::DefaultHasher;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;

use super::BenchState;

/// How often the world is looked at.
const TICK: Duration = Duration::from_millis(250);

/// A digest of everything the dashboard shows.
fn fingerprint(state: &BenchState) -> u64 {
    let sim = &state.control.sim;
    let shown = serde_json::json!({
        "locks": sim.locks(),
        "phone": sim.phone(),
        "adapter": sim.adapter(),
        "recording": state.control.recorder.steps().len(),
        "recording_on": state.control.recorder.is_recording(),
        // Everything the phone panel shows but its count of rounds (which
        // would refresh the page every second).
        "phone_core": state.bench.phone.as_ref().map(|p| {
            let view = p.view();
            format!("{:?} {:?} {:?} {:?}", view.codes, view.uses, view.visits, view.error)
        }),
    });
    let mut hasher = DefaultHasher::new();
    shown.to_string().hash(&mut hasher);
    hasher.finish()
}

/// `GET /bench/events`: `changed` events, the first at once.
pub(super) async fn stream(
    State(state): State<BenchState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = futures::stream::unfold((state, None), |(state, last)| async move {
        loop {
            let now = fingerprint(&state);
            if last != Some(now) {
                let event = Event::default().event("changed").data(now.to_string());
                return Some((Ok(event), (state, Some(now))));
            }
            tokio::time::sleep(TICK).await;
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
