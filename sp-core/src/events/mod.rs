//! The event log: typed events in ordered streams, queried and replayed from storage, and
//! fanned out live to subscribers.
//!
//! [`EventLog`] is the facade: it validates events ([`validate_event`]) and queries, checks
//! replays against a stream's head, stores through an [`EventStore`] (SQLite or PostgreSQL in
//! `sp-data`) and hands every appended event to live subscribers ([`EventLog::subscribe`]).

mod config;
mod consume;
mod counters;
mod fanout;
mod groups;
mod log;
mod memory;
mod origin;
mod store;
mod types;
mod validate;

pub use config::EventsConfig;
pub use consume::Delivered;
pub use counters::{EventCounters, counters};
pub use fanout::{Live, LiveEvent};
pub use groups::{DeadLetter, Group, GroupStart, GroupStore, NewGroup, not_next_event};
pub use log::EventLog;
pub use memory::MemoryEventStore;
pub(crate) use origin::Recorder;
pub use origin::{Origin, platform_event};
pub use store::{EventBackend, EventStore, MAX_PAGE_DATA_BYTES, PageBytes};
pub use types::{Event, EventQuery, NewEvent};
pub use validate::{
    PLATFORM_SOURCE, PLATFORM_STREAMS, refuse_platform_forgery, stream_name, validate_event,
    validate_query,
};
