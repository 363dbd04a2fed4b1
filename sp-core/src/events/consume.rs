//! Delivering a stream to a consumer group: at least once, in order, failures retried and
//! finally set aside in the dead-letter queue.

use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::EventLog;
use super::groups::{DeadLetter, Group, GroupStart, NewGroup};
use super::types::{Event, EventQuery};
use super::validate::stream_name;
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::{Id, Page, PageRequest};

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivered {
    /// New events the handler took.
    pub delivered: u32,
    /// New events set aside after `events.max_attempts` failures.
    pub dead_lettered: u32,
    /// Redriven dead letters the handler took this time.
    pub redelivered: u32,
    /// The group's position afterwards.
    pub committed: u64,
}

impl EventLog {
    /// Creates a consumer group on an existing stream, at its beginning or its end.
    pub async fn create_group(&self, new: NewGroup) -> Result<Group> {
        if new.name.len() > 64 {
            return Err(Error::invalid_input("name", "at most 64 characters"));
        }
        stream_name("name", &new.name)?;
        stream_name("stream", &new.stream)?;
        let head = self
            .store
            .head(&new.namespace, &new.stream)
            .await?
            .ok_or_else(|| Error::StreamUnknown {
                stream: new.stream.clone(),
            })?;
        let committed = match new.start {
            GroupStart::Beginning => 0,
            GroupStart::End => head,
        };
        self.store.create_group(&new, committed).await
    }

    /// A group; `SP-EVT-004` when unknown.
    pub async fn group(&self, namespace: &Namespace, name: &str) -> Result<Group> {
        self.store.group(namespace, name).await
    }

    /// The next events a group has not finished with (for consumers that poll).
    pub async fn pending(
        &self,
        namespace: &Namespace,
        name: &str,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let group = self.store.group(namespace, name).await?;
        let query = EventQuery {
            namespace: namespace.clone(),
            stream: Some(group.stream),
            from_offset: Some(group.committed + 1),
            ..EventQuery::default()
        };
        Ok(self
            .store
            .query(&query, &PageRequest::new(Some(limit), None)?)
            .await?
            .items)
    }

    /// Acknowledges the group's next event (`offset` = its position + 1).
    pub async fn acknowledge(
        &self,
        namespace: &Namespace,
        name: &str,
        offset: u64,
    ) -> Result<Group> {
        check_offset(offset)?;
        let group = self.store.commit(namespace, name, offset).await?;
        super::counters::committed();
        Ok(group)
    }

    /// Reports that the handler failed on the group's next event: counted, and once
    /// `events.max_attempts` is reached the event goes to the dead-letter queue and the group
    /// moves past it. Returns the dead letter when that happened.
    pub async fn reject(
        &self,
        namespace: &Namespace,
        name: &str,
        offset: u64,
        reason: &str,
    ) -> Result<Option<DeadLetter>> {
        check_offset(offset)?;
        // The group's next event is the first retained after its committed offset (not
        // always `committed + 1`: retention may have removed the ones in between).
        let Some(event) = self.pending(namespace, name, 1).await?.pop() else {
            let group = self.store.group(namespace, name).await?;
            return Err(Error::Conflict(format!(
                "group `{name}` is at offset {} and has no next event to reject",
                group.committed
            )));
        };
        if event.offset != offset {
            return Err(Error::Conflict(format!(
                "group `{name}`'s next event is offset {}; only it can be rejected",
                event.offset
            )));
        }
        let attempts = self
            .store
            .record_failure(namespace, name, offset, reason)
            .await?;
        if attempts < self.config.max_attempts {
            return Ok(None);
        }
        let letter = self
            .store
            .dead_letter(namespace, name, &event, reason, attempts)
            .await?;
        super::counters::dead_lettered();
        Ok(Some(letter))
    }

    /// One delivery round for a group: its redriven dead letters first, then up to `limit`
    /// new events in order. Each event is handed to `handler` until it succeeds (the group
    /// commits past it) or has failed `events.max_attempts` times in all (it goes to the
    /// dead-letter queue with the last error, and the group moves on). Attempts are stored,
    /// so a consumer that crashes mid-way resumes with the counts it had: at least once.
    pub async fn deliver<F, Fut>(
        &self,
        namespace: &Namespace,
        name: &str,
        limit: u32,
        handler: F,
    ) -> Result<Delivered>
    where
        F: Fn(Arc<Event>) -> Fut,
        Fut: Future<Output = std::result::Result<(), String>>,
    {
        let mut done = Delivered::default();
        for letter in self.store.redriven(namespace, name).await? {
            match handler(Arc::new(letter.event.clone())).await {
                Ok(()) => {
                    self.store.settle(letter.id, true, "").await?;
                    done.redelivered += 1;
                }
                Err(reason) => self.store.settle(letter.id, false, &reason).await?,
            }
        }
        for event in self.pending(namespace, name, limit).await? {
            let event = Arc::new(event);
            loop {
                match handler(event.clone()).await {
                    Ok(()) => {
                        self.store.commit(namespace, name, event.offset).await?;
                        super::counters::committed();
                        done.delivered += 1;
                        break;
                    }
                    Err(reason) => {
                        if self
                            .reject(namespace, name, event.offset, &reason)
                            .await?
                            .is_some()
                        {
                            done.dead_lettered += 1;
                            break;
                        }
                    }
                }
            }
        }
        done.committed = self.store.group(namespace, name).await?.committed;
        Ok(done)
    }

    /// Dead letters of the namespace (of one group when given), newest first.
    pub async fn dead_letters(
        &self,
        namespace: &Namespace,
        group: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<DeadLetter>> {
        self.store.dead_letters(namespace, group, page).await
    }

    /// One dead letter.
    pub async fn dead_letter(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        self.store.dead_letter_by_id(namespace, id).await
    }

    /// A group's redriven dead letters not delivered yet (for consumers that poll).
    pub async fn redriven(&self, namespace: &Namespace, name: &str) -> Result<Vec<DeadLetter>> {
        self.store.group(namespace, name).await?;
        self.store.redriven(namespace, name).await
    }

    /// Reports a redriven dead letter's delivery: delivered (resolved), or failed again
    /// (back in the queue with the new reason).
    pub async fn settle(
        &self,
        namespace: &Namespace,
        id: Id,
        delivered: bool,
        reason: &str,
    ) -> Result<DeadLetter> {
        let letter = self.store.dead_letter_by_id(namespace, id).await?;
        if letter.redriven_at.is_none() || letter.resolved_at.is_some() {
            return Err(Error::Conflict(format!(
                "dead letter {id} is not waiting for a redelivery"
            )));
        }
        self.store.settle(id, delivered, reason).await?;
        self.store.dead_letter_by_id(namespace, id).await
    }

    /// Sends a dead letter back to its group: the group's next delivery round hands it to the
    /// handler before new events.
    pub async fn redrive(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        self.store.redrive(namespace, id).await
    }
}

/// Offsets are stored as signed 64-bit integers (both SQL backends): a larger one names no
/// event and is the caller's mistake, not a server error.
fn check_offset(offset: u64) -> Result<()> {
    if i64::try_from(offset).is_err() {
        return Err(Error::invalid_input(
            "offset",
            format!("at most {} (an event's offset)", i64::MAX),
        ));
    }
    Ok(())
}
