//! The live fan-out: each subscriber has a queue of its own, bounded in events and in bytes,
//! so a follower that stops reading costs its own buffer and never holds events for the rest
//! (review finding H7: one `broadcast` channel pinned its last 4,096 events — up to 16 GiB
//! of parsed `data` — for every subscriber while one stalled).
//!
//! An event is serialized once, when the first subscriber wants it, and that text is shared by
//! every queue it goes to. A subscriber whose queue would pass its bounds is told it lagged —
//! its queue is dropped at once — and replays from the log after the last offset it saw.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::{Event, EventQuery, EventsConfig};
use crate::Id;
use crate::error::{Error, Result};

/// An event as a live feed delivers it: its identity and its JSON text, shared by every
/// subscriber it went to.
#[derive(Debug)]
pub struct LiveEvent {
    offset: u64,
    id: Id,
    json: Arc<str>,
}

impl LiveEvent {
    /// Its place in its stream.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Its id.
    pub fn id(&self) -> Id {
        self.id
    }

    /// The event as JSON (what `GET /v1/events` lists for it).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The event itself, parsed from its JSON.
    pub fn event(&self) -> Result<Event> {
        serde_json::from_str(&self.json).map_err(Error::internal)
    }
}

impl From<&Event> for LiveEvent {
    fn from(event: &Event) -> Self {
        LiveEvent {
            offset: event.offset,
            id: event.id,
            // An `Event` always serializes (its `data` is a JSON value already).
            json: serde_json::to_string(event).unwrap_or_default().into(),
        }
    }
}

/// The subscribers of one log and their bounds.
pub(super) struct Fanout {
    subscribers: Mutex<Subscribers>,
    max_events: usize,
    max_bytes: usize,
    max_per_owner: usize,
    max_subscribers: usize,
}

#[derive(Default)]
struct Subscribers {
    next_id: u64,
    by_id: HashMap<u64, Arc<Subscriber>>,
    per_owner: HashMap<String, usize>,
    /// Callers' feeds (those with an owner).
    owned: usize,
}

struct Subscriber {
    /// Only events this query selects are queued (`None`: every event).
    filter: Option<EventQuery>,
    owner: Option<String>,
    queue: Mutex<Queue>,
    ready: tokio::sync::Notify,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Arc<LiveEvent>>,
    bytes: usize,
    /// Events it missed since it lagged (0: it has not).
    missed: u64,
    closed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (each update is one
    // push or one clear), so a poisoned lock is used as it is.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Fanout {
    pub(super) fn new(config: &EventsConfig) -> Arc<Self> {
        Arc::new(Fanout {
            subscribers: Mutex::default(),
            max_events: config.live_buffer.max(1),
            max_bytes: config.live_buffer_bytes.max(1),
            max_per_owner: config.max_followers_per_key.max(1),
            max_subscribers: config.max_followers.max(1),
        })
    }

    /// A new subscriber of the events `filter` selects. A caller's (`owner`'s) feeds are
    /// counted: refused with `SP-AUTH-003` when `owner` already has `events.max_followers_per_key`
    /// or the process `events.max_followers` callers' feeds. The platform's own are not.
    pub(super) fn subscribe(
        self: &Arc<Self>,
        filter: Option<EventQuery>,
        owner: Option<String>,
    ) -> Result<Live> {
        let mut subscribers = lock(&self.subscribers);
        if let Some(owner) = &owner
            && (subscribers.owned >= self.max_subscribers
                || subscribers.per_owner.get(owner).copied().unwrap_or(0) >= self.max_per_owner)
        {
            return Err(Error::RateLimited {
                retry_after_secs: 1,
            });
        }
        Ok(self.attach(&mut subscribers, filter, owner))
    }

    /// A subscriber of every event, for the platform's own use (not counted).
    pub(super) fn subscribe_all(self: &Arc<Self>) -> Live {
        let mut subscribers = lock(&self.subscribers);
        self.attach(&mut subscribers, None, None)
    }

    fn attach(
        self: &Arc<Self>,
        subscribers: &mut Subscribers,
        filter: Option<EventQuery>,
        owner: Option<String>,
    ) -> Live {
        let id = subscribers.next_id;
        subscribers.next_id += 1;
        if let Some(owner) = &owner {
            *subscribers.per_owner.entry(owner.clone()).or_default() += 1;
            subscribers.owned += 1;
        }
        let subscriber = Arc::new(Subscriber {
            filter,
            owner,
            queue: Mutex::default(),
            ready: tokio::sync::Notify::new(),
        });
        subscribers.by_id.insert(id, subscriber.clone());
        Live {
            id,
            subscriber,
            fanout: Arc::downgrade(self),
        }
    }

    /// Queues `events` for every subscriber that selects them.
    pub(super) fn publish(&self, events: &[Event]) {
        let subscribers: Vec<Arc<Subscriber>> = {
            let subscribers = lock(&self.subscribers);
            if subscribers.by_id.is_empty() {
                return;
            }
            subscribers.by_id.values().cloned().collect()
        };
        for event in events {
            let mut shared: Option<Arc<LiveEvent>> = None;
            for subscriber in &subscribers {
                if subscriber.filter.as_ref().is_none_or(|f| f.matches(event)) {
                    let item = shared.get_or_insert_with(|| Arc::new(LiveEvent::from(event)));
                    self.push(subscriber, item.clone());
                }
            }
        }
    }

    fn push(&self, subscriber: &Subscriber, item: Arc<LiveEvent>) {
        let mut queue = lock(&subscriber.queue);
        if queue.missed > 0 {
            queue.missed += 1;
            return;
        }
        let size = item.json.len();
        if queue.items.len() >= self.max_events || queue.bytes + size > self.max_bytes {
            // Lagged: what it holds is released now, not when it reads again.
            super::counters::follower_lagged();
            queue.missed = queue.items.len() as u64 + 1;
            queue.items = VecDeque::new();
            queue.bytes = 0;
        } else {
            queue.bytes += size;
            queue.items.push_back(item);
        }
        drop(queue);
        subscriber.ready.notify_one();
    }

    fn remove(&self, id: u64) {
        let mut subscribers = lock(&self.subscribers);
        let Some(owner) = subscribers
            .by_id
            .remove(&id)
            .and_then(|gone| gone.owner.clone())
        else {
            return;
        };
        subscribers.owned = subscribers.owned.saturating_sub(1);
        if let Some(count) = subscribers.per_owner.get_mut(&owner) {
            *count -= 1;
            if *count == 0 {
                subscribers.per_owner.remove(&owner);
            }
        }
    }

    /// Live feeds open now.
    pub(super) fn subscribers(&self) -> usize {
        lock(&self.subscribers).by_id.len()
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        let subscribers = lock(&self.subscribers);
        for subscriber in subscribers.by_id.values() {
            lock(&subscriber.queue).closed = true;
            subscriber.ready.notify_one();
        }
    }
}

/// A live feed of appended events; dropping it unsubscribes.
pub struct Live {
    id: u64,
    subscriber: Arc<Subscriber>,
    fanout: Weak<Fanout>,
}

impl Live {
    /// The next event; `None` when the log is gone. A subscriber that fell more than
    /// `events.live_buffer` events or `events.live_buffer_bytes` bytes behind gets
    /// `SP-GEN-002` naming how many it missed: it should replay them from the log and
    /// subscribe again.
    pub async fn next(&mut self) -> Result<Option<Arc<LiveEvent>>> {
        loop {
            {
                let mut queue = lock(&self.subscriber.queue);
                if queue.missed > 0 {
                    return Err(Error::unavailable(
                        "events",
                        format!(
                            "the live feed fell {} events behind; replay them from the log",
                            queue.missed
                        ),
                    ));
                }
                if let Some(item) = queue.items.pop_front() {
                    queue.bytes -= item.json.len();
                    return Ok(Some(item));
                }
                if queue.closed || self.fanout.strong_count() == 0 {
                    return Ok(None);
                }
            }
            // `notify_one` keeps a permit when nobody waits: a push between the check above
            // and this wait is not missed.
            self.subscriber.ready.notified().await;
        }
    }

    /// Bytes of events waiting in this feed's queue.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.subscriber.queue).bytes
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(fanout) = self.fanout.upgrade() {
            fanout.remove(self.id);
        }
    }
}

#[cfg(test)]
#[path = "fanout_tests.rs"]
mod tests;
