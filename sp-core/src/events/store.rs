//! The storage trait every event log backend implements.

use async_trait::async_trait;

use super::types::{Event, EventQuery, NewEvent};
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::{Page, PageRequest, Timestamp};

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

    /// Retention: removes events appended before `before`, with the dead letters that hold
    /// them; returns how many events went. Heads stay, so offsets are never reused; a
    /// stream's oldest retained event is then its first, and a consumer group behind it
    /// moves on from there. PostgreSQL drops whole day partitions (an event stays until its
    /// whole day is past `before`); the other stores delete the rows.
    async fn prune(&self, before: Timestamp) -> Result<u64>;
}

/// The most event `data` one page of a query holds (bytes, as JSON text): a page stops
/// before the event that would pass it (it always holds one event), and its cursor goes on
/// from there — a `limit` of 1,000 events of 256 KiB is 16 pages, not 256 MiB at once
/// (review finding H7).
pub const MAX_PAGE_DATA_BYTES: usize = 4 * 1024 * 1024;

/// Counts a page's `data` bytes as its rows come, so a store can stop reading at
/// [`MAX_PAGE_DATA_BYTES`].
///
/// ```
/// use sp_core::events::{MAX_PAGE_DATA_BYTES, PageBytes};
/// let mut bytes = PageBytes::default();
/// assert!(bytes.take(MAX_PAGE_DATA_BYTES), "a page holds at least one event");
/// assert!(!bytes.take(1), "this row only shows that more exist");
/// assert_eq!(bytes.limit(1000), 1);
/// ```
#[derive(Debug, Default)]
pub struct PageBytes {
    used: usize,
    rows: u32,
    full: bool,
}

impl PageBytes {
    /// Counts one more row of `bytes`; `false` when the page is full, this row being only
    /// the sign that more exist (read no further).
    pub fn take(&mut self, bytes: usize) -> bool {
        self.rows += 1;
        self.used = self.used.saturating_add(bytes);
        self.full = self.rows >= 2 && self.used > MAX_PAGE_DATA_BYTES;
        !self.full
    }

    /// The limit to cut the page's rows at: `requested`, or the rows before the one that
    /// filled it.
    pub fn limit(&self, requested: u32) -> u32 {
        if self.full { self.rows - 1 } else { requested }
    }
}

/// What an [`EventLog`](super::EventLog) runs on: the log and its consumer groups (every
/// `sp-data` event store is both).
pub trait EventBackend: EventStore + super::groups::GroupStore {}

impl<T: EventStore + super::groups::GroupStore> EventBackend for T {}
