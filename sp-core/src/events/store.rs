//! The storage trait every event log backend implements.

use async_trait::async_trait;

use super::types::{Event, EventQuery, NewEvent};
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::{Page, PageRequest};

/// An append-only log of events in ordered streams. Implemented by the embedded (SQLite) and
/// PostgreSQL backends of `sp-data`; [`EventLog`](super::EventLog) validates input and fans
/// appended events out to live subscribers on top.
///
/// Offsets are per stream, start at 1 and have no gaps, however many writers append at once:
/// a stream's head is a row that each append moves under its lock, in the transaction that
/// stores the event.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends validated events, in the given order, all or none; returns them stored.
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>>;

    /// Events matching `query`: in offset order within a stream, otherwise in append order;
    /// `page.cursor` continues an earlier page.
    async fn query(&self, query: &EventQuery, page: &PageRequest) -> Result<Page<Event>>;

    /// The last offset of a stream; `None` when nothing was ever appended to it.
    async fn head(&self, namespace: &Namespace, stream: &str) -> Result<Option<u64>>;
}

/// What an [`EventLog`](super::EventLog) runs on: the log and its consumer groups (every
/// `sp-data` event store is both).
pub trait EventBackend: EventStore + super::groups::GroupStore {}

impl<T: EventStore + super::groups::GroupStore> EventBackend for T {}
