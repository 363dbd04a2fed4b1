//! `/v1/events`: append, query and replay the event log, and follow it live over SSE or a
//! WebSocket (the `events` scope).

pub(super) use super::params::QueryOf;
mod groups;
mod live;

mod appending;
pub use appending::router;
use appending::{EventParams, log};
