//! The event log's store in process memory: for tests, examples and embedders that keep no
//! events on disk. It behaves as the SQL stores do (the shared suite in `sp-data/tests/events`
//! runs on it): gapless offsets per stream, one global order, groups and dead letters.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::groups::{DeadLetter, Group, GroupStore, NewGroup};
use super::store::EventStore;
use super::types::{Event, EventQuery, NewEvent};
use crate::error::{Error, Resource, Result};
use crate::knowledge::Namespace;
use crate::{Id, Page, PageRequest, Timestamp};

/// An [`EventBackend`](super::EventBackend) in memory, gone with the process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sp_core::events::{EventLog, EventsConfig, MemoryEventStore, NewEvent};
///
/// let log = EventLog::new(Arc::new(MemoryEventStore::default()), EventsConfig::default());
/// let first = log.append(NewEvent::new("orders", "order.placed", serde_json::json!({}))).await?;
/// assert_eq!(first.offset, 1);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryEventStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Every retained event in append order (its index + 1 + `pruned` is its global
    /// sequence).
    events: Vec<Event>,
    /// Events retention removed from the front of `events`.
    pruned: usize,
    /// The head offset of each (namespace, stream).
    heads: HashMap<(Namespace, String), u64>,
    groups: HashMap<(Namespace, String), Group>,
    /// Failed deliveries by (namespace, group, offset).
    attempts: HashMap<(Namespace, String, u64), u32>,
    letters: Vec<DeadLetter>,
}

impl MemoryEventStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn selects(query: &EventQuery, event: &Event) -> bool {
    event.namespace == query.namespace
        && query.stream.as_ref().is_none_or(|s| *s == event.stream)
        && query
            .event_type
            .as_ref()
            .is_none_or(|t| *t == event.event_type)
        && query
            .subject
            .as_ref()
            .is_none_or(|s| Some(s) == event.subject.as_ref())
        && query
            .correlationid
            .as_ref()
            .is_none_or(|c| Some(c) == event.correlationid.as_ref())
        && query.since.is_none_or(|t| event.time >= t)
        && query.until.is_none_or(|t| event.time < t)
        && query.from_offset.is_none_or(|o| event.offset >= o)
}

fn group_unknown(name: &str) -> Error {
    Error::GroupUnknown {
        group: name.to_owned(),
    }
}

impl State {
    fn group_mut(&mut self, namespace: &Namespace, name: &str) -> Result<&mut Group> {
        self.groups
            .get_mut(&(namespace.clone(), name.to_owned()))
            .ok_or_else(|| group_unknown(name))
    }

    /// Moves the group to `offset` if that is its next event: no retained event of its
    /// stream lies between its committed offset and `offset`, and `offset` is not past the
    /// head.
    fn commit(&mut self, namespace: &Namespace, name: &str, offset: u64) -> Result<Group> {
        let group = self.group_mut(namespace, name)?.clone();
        let head = self
            .heads
            .get(&(namespace.clone(), group.stream.clone()))
            .copied()
            .unwrap_or(0);
        let next = self
            .events
            .iter()
            .filter(|e| {
                e.namespace == *namespace && e.stream == group.stream && e.offset > group.committed
            })
            .map(|e| e.offset)
            .min();
        if offset <= group.committed || offset > head || next.is_some_and(|next| next < offset) {
            return Err(super::not_next_event(name, group.committed, next));
        }
        let group = self.group_mut(namespace, name)?;
        group.committed = offset;
        let group = group.clone();
        self.attempts
            .remove(&(namespace.clone(), name.to_owned(), offset));
        Ok(group)
    }

    fn letter_mut(&mut self, namespace: Option<&Namespace>, id: Id) -> Result<&mut DeadLetter> {
        self.letters
            .iter_mut()
            .find(|l| l.id == id && namespace.is_none_or(|ns| l.event.namespace == *ns))
            .ok_or_else(|| Error::NotFound {
                kind: Resource::DeadLetter,
                id: id.to_string(),
            })
    }
}

#[async_trait]
impl EventStore for MemoryEventStore {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        let mut state = self.state();
        let now = Timestamp::now();
        let mut stored = Vec::with_capacity(events.len());
        for new in events {
            let head = state
                .heads
                .entry((new.namespace.clone(), new.stream.clone()))
                .or_insert(0);
            *head += 1;
            stored.push(Event {
                specversion: "1.0".into(),
                id: Id::new(),
                source: new.source,
                event_type: new.event_type,
                subject: new.subject,
                time: now,
                datacontenttype: "application/json".into(),
                namespace: new.namespace,
                stream: new.stream,
                offset: *head,
                correlationid: new.correlationid,
                schemaversion: new.schemaversion,
                data: new.data,
            });
        }
        state.events.extend(stored.iter().cloned());
        Ok(stored)
    }

    async fn query(&self, query: &EventQuery, page: &PageRequest) -> Result<Page<Event>> {
        // Within a stream pages are keyed by offset, across streams by the global order.
        let by_offset = query.stream.is_some();
        let after: Option<i64> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let mut bytes = super::PageBytes::default();
        let state = self.state();
        let mut keyed: Vec<(i64, Event)> = Vec::new();
        for (index, event) in state.events.iter().enumerate() {
            if !selects(query, event) {
                continue;
            }
            let key = if by_offset {
                i64::try_from(event.offset).unwrap_or(i64::MAX)
            } else {
                i64::try_from(state.pruned + index + 1).unwrap_or(i64::MAX)
            };
            if after.is_some_and(|a| key <= a) {
                continue;
            }
            keyed.push((key, event.clone()));
            let size = serde_json::to_string(&event.data).map_or(0, |text| text.len());
            if !bytes.take(size) || keyed.len() > page.limit as usize {
                break;
            }
        }
        drop(state);
        let page = Page::from_rows(keyed, bytes.limit(page.limit), |(key, _)| *key)?;
        Ok(Page {
            items: page.items.into_iter().map(|(_, event)| event).collect(),
            next_cursor: page.next_cursor,
        })
    }

    async fn head(&self, namespace: &Namespace, stream: &str) -> Result<Option<u64>> {
        Ok(self
            .state()
            .heads
            .get(&(namespace.clone(), stream.to_owned()))
            .copied())
    }

    async fn prune(&self, before: Timestamp) -> Result<u64> {
        let mut state = self.state();
        // Appends are in time order, so the old ones are a prefix.
        let old = state.events.partition_point(|e| e.time < before);
        let gone: std::collections::HashSet<Id> = state.events.drain(..old).map(|e| e.id).collect();
        state.pruned += old;
        state.letters.retain(|l| !gone.contains(&l.event.id));
        Ok(old as u64)
    }
}

#[async_trait]
impl GroupStore for MemoryEventStore {
    async fn create_group(&self, group: &NewGroup, committed: u64) -> Result<Group> {
        let mut state = self.state();
        let key = (group.namespace.clone(), group.name.clone());
        if state.groups.contains_key(&key) {
            return Err(Error::Conflict(format!("group `{}` exists", group.name)));
        }
        let created = Group {
            namespace: group.namespace.clone(),
            name: group.name.clone(),
            stream: group.stream.clone(),
            committed,
            created_at: Timestamp::now(),
        };
        state.groups.insert(key, created.clone());
        Ok(created)
    }

    async fn group(&self, namespace: &Namespace, name: &str) -> Result<Group> {
        self.state().group_mut(namespace, name).map(|g| g.clone())
    }

    async fn commit(&self, namespace: &Namespace, name: &str, offset: u64) -> Result<Group> {
        self.state().commit(namespace, name, offset)
    }

    async fn record_failure(
        &self,
        namespace: &Namespace,
        name: &str,
        offset: u64,
        _reason: &str,
    ) -> Result<u32> {
        let mut state = self.state();
        let attempts = state
            .attempts
            .entry((namespace.clone(), name.to_owned(), offset))
            .or_insert(0);
        *attempts += 1;
        Ok(*attempts)
    }

    async fn dead_letter(
        &self,
        namespace: &Namespace,
        name: &str,
        event: &Event,
        reason: &str,
        attempts: u32,
    ) -> Result<DeadLetter> {
        let mut state = self.state();
        // Commit first: a group that moved on sets nothing aside (one step, as one
        // transaction does in SQL).
        state.commit(namespace, name, event.offset)?;
        let letter = DeadLetter {
            id: Id::new(),
            group: name.to_owned(),
            event: event.clone(),
            reason: reason.to_owned(),
            attempts,
            dead_at: Timestamp::now(),
            redriven_at: None,
            resolved_at: None,
        };
        state.letters.push(letter.clone());
        Ok(letter)
    }

    async fn dead_letters(
        &self,
        namespace: &Namespace,
        group: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<DeadLetter>> {
        let after: Option<String> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let after: Option<Id> = after.map(|a| a.parse()).transpose()?;
        let mut letters: Vec<DeadLetter> = self
            .state()
            .letters
            .iter()
            .filter(|l| l.event.namespace == *namespace)
            .filter(|l| group.is_none_or(|g| l.group == g))
            .filter(|l| after.is_none_or(|a| l.id < a))
            .cloned()
            .collect();
        letters.sort_by_key(|l| std::cmp::Reverse(l.id));
        letters.truncate(page.limit as usize + 1);
        Page::from_rows(letters, page.limit, |l| l.id.to_string())
    }

    async fn dead_letter_by_id(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        self.state()
            .letter_mut(Some(namespace), id)
            .map(|l| l.clone())
    }

    async fn redrive(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        let mut state = self.state();
        let letter = state.letter_mut(Some(namespace), id)?;
        letter.redriven_at = Some(Timestamp::now());
        letter.resolved_at = None;
        Ok(letter.clone())
    }

    async fn redriven(&self, namespace: &Namespace, group: &str) -> Result<Vec<DeadLetter>> {
        let mut pending: Vec<DeadLetter> = self
            .state()
            .letters
            .iter()
            .filter(|l| l.event.namespace == *namespace && l.group == group)
            .filter(|l| l.redriven_at.is_some() && l.resolved_at.is_none())
            .cloned()
            .collect();
        pending.sort_by_key(|l| l.id);
        Ok(pending)
    }

    async fn settle(&self, id: Id, delivered: bool, reason: &str) -> Result<()> {
        let mut state = self.state();
        let Ok(letter) = state.letter_mut(None, id) else {
            return Ok(());
        };
        let now = Timestamp::now();
        if delivered {
            letter.resolved_at = Some(now);
        } else {
            letter.redriven_at = None;
            letter.attempts += 1;
            letter.dead_at = now;
            reason.clone_into(&mut letter.reason);
        }
        Ok(())
    }
}
