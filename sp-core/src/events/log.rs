//! [`EventLog`]: validated appends and queries over an [`EventBackend`], and the live fan-out.

use std::sync::Arc;

use super::fanout::{Fanout, Live};
use super::{
    Event, EventBackend, EventQuery, EventsConfig, NewEvent, validate_event, validate_query,
};
use crate::error::{Error, Result};
use crate::{Page, PageRequest};

/// The event log of a process.
///
/// ```
/// # async fn demo(store: std::sync::Arc<dyn sp_core::events::EventBackend>) -> sp_core::Result<()> {
/// use serde_json::json;
/// use sp_core::events::{EventLog, EventQuery, EventsConfig, NewEvent};
///
/// let log = EventLog::new(store, EventsConfig::default());
/// let mut live = log.subscribe();
/// let stored = log.append(NewEvent::new("orders", "order.placed", json!({"id": 7}))).await?;
/// assert_eq!(live.next().await?.map(|e| e.offset()), Some(stored.offset));
/// let replay = EventQuery { stream: Some("orders".into()), from_offset: Some(1), ..Default::default() };
/// let page = log.query(&replay, &Default::default()).await?;
/// # let _ = page; Ok(()) }
/// ```
pub struct EventLog {
    pub(super) store: Arc<dyn EventBackend>,
    pub(super) config: EventsConfig,
    pub(super) live: Arc<Fanout>,
}

impl EventLog {
    /// A log over `store`.
    pub fn new(store: Arc<dyn EventBackend>, config: EventsConfig) -> Self {
        EventLog {
            store,
            live: Fanout::new(&config),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EventsConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn EventBackend> {
        &self.store
    }

    /// Appends one event; see [`EventLog::append_all`].
    pub async fn append(&self, event: NewEvent) -> Result<Event> {
        let mut stored = self.append_all(vec![event]).await?;
        stored
            .pop()
            .ok_or_else(|| Error::internal("the store returned no event"))
    }

    /// Validates every event, then appends them in order, all or none, and hands them to
    /// live subscribers. Nothing is stored when one is refused.
    pub async fn append_all(&self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        for event in &events {
            validate_event(event, &self.config)?;
        }
        let stored = self.store.append(events).await?;
        super::counters::appended(stored.len());
        self.publish(&stored);
        Ok(stored)
    }

    /// Records something the platform did (source `sp`): appended like any event, but a
    /// failure to store it is logged, not returned, since the action it reports already
    /// happened.
    pub async fn emit(&self, mut event: NewEvent) {
        event.source = super::PLATFORM_SOURCE.into();
        if let Err(err) = self.append(event).await {
            tracing::warn!(%err, "cannot record a platform event");
        }
    }

    /// Hands events to this process's live subscribers (the log does it for its own appends;
    /// a cross-process feed calls it for events appended elsewhere).
    pub fn publish(&self, events: &[Event]) {
        self.live.publish(events);
    }

    /// Events matching `query`. A named stream must exist (`SP-EVT-002`); a replay's
    /// `from_offset` must lie within it, or be the next offset to come (`SP-EVT-003`).
    pub async fn query(&self, query: &EventQuery, page: &PageRequest) -> Result<Page<Event>> {
        validate_query(query)?;
        if let Some(stream) = &query.stream {
            let head = self
                .store
                .head(&query.namespace, stream)
                .await?
                .ok_or_else(|| Error::StreamUnknown {
                    stream: stream.clone(),
                })?;
            if let Some(offset) = query.from_offset
                && offset > head + 1
            {
                return Err(Error::OffsetOutOfRange {
                    stream: stream.clone(),
                    offset,
                    head,
                });
            }
        }
        self.store.query(query, page).await
    }

    /// Every event appended from now on, as they come (for the platform's own use: not
    /// counted against the follower caps).
    pub fn subscribe(&self) -> Live {
        self.live.subscribe_all()
    }

    /// The events `query` selects from now on, for `owner` (a key id): at most
    /// `events.max_followers_per_key` such feeds per owner and `events.max_followers` in the
    /// process (`SP-AUTH-003` past either). Each is buffered on its own, up to
    /// `events.live_buffer` events and `events.live_buffer_bytes` bytes.
    pub fn follow(&self, query: EventQuery, owner: &str) -> Result<Live> {
        self.live.subscribe(Some(query), Some(owner.to_string()))
    }

    /// Live feeds open now (the platform's and callers').
    pub fn followers(&self) -> usize {
        self.live.subscribers()
    }
}

impl EventQuery {
    /// Whether `event` is one this query selects (for live feeds).
    pub fn matches(&self, event: &Event) -> bool {
        event.namespace == self.namespace
            && self.stream.as_ref().is_none_or(|s| *s == event.stream)
            && self
                .event_type
                .as_ref()
                .is_none_or(|t| *t == event.event_type)
            && self
                .subject
                .as_ref()
                .is_none_or(|s| Some(s) == event.subject.as_ref())
            && self
                .correlationid
                .as_ref()
                .is_none_or(|c| Some(c) == event.correlationid.as_ref())
            && self.since.is_none_or(|t| event.time >= t)
            && self.until.is_none_or(|t| event.time < t)
            && self.from_offset.is_none_or(|o| event.offset >= o)
    }
}
