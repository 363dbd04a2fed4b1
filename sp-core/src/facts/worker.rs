//! Extraction off the request path: a turn of a context that learns facts is recorded as a
//! `memory.turn` event on its namespace's `memory` stream; the consumer group
//! `memory-extract` takes each one to the model. A failing extraction (the model unloaded,
//! busy or cut off) is retried `events.max_attempts` times and then dead-lettered with its
//! reason — never lost: `POST /v1/dlq/{id}/redrive` sends it back.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::service::Facts;
use super::types::Recorded;
use crate::Id;
use crate::error::{Error, Result};
use crate::events::{Delivered, Event, GroupStart, NewGroup, Origin, platform_event};
use crate::knowledge::Namespace;

/// The stream of a namespace that carries turns to learn from and what was learned.
pub const MEMORY_STREAM: &str = "memory";
/// A turn to extract facts from.
pub const TURN_EVENT: &str = "memory.turn";
/// What an extraction recorded.
pub const LEARNED_EVENT: &str = "memory.learned";
/// The consumer group that extracts.
pub const EXTRACT_GROUP: &str = "memory-extract";
/// How often the worker looks for turns other processes (or an earlier run) left.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Events one delivery round takes.
const ROUND: u32 = 32;

/// The data of a [`TURN_EVENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnToLearn {
    /// The context.
    pub context_id: Id,
    /// The turn's last message (the assistant's answer).
    pub through: u64,
}

/// The `memory.turn` event for the turn of `context_id` that ended at message `through`.
pub fn turn_event(namespace: &Namespace, context_id: Id, through: u64) -> crate::events::NewEvent {
    platform_event(
        namespace,
        MEMORY_STREAM,
        TURN_EVENT,
        format!("contexts/{context_id}"),
        &Origin::default(),
        json!(TurnToLearn {
            context_id,
            through
        }),
    )
}

impl Facts {
    /// One delivery round of `namespace`'s `memory` stream to the extractor (creating the
    /// group on first use). What extraction records is reported as `memory.learned`.
    pub async fn deliver(&self, namespace: &Namespace) -> Result<Delivered> {
        let log = self
            .events
            .clone()
            .ok_or_else(|| Error::unavailable("events", "fact extraction needs an event log"))?;
        match log.group(namespace, EXTRACT_GROUP).await {
            Ok(_) => {}
            Err(Error::GroupUnknown { .. }) => {
                let new = NewGroup {
                    namespace: namespace.clone(),
                    name: EXTRACT_GROUP.into(),
                    stream: MEMORY_STREAM.into(),
                    start: GroupStart::Beginning,
                };
                match log.create_group(new).await {
                    // Nothing was ever learned here yet, or another process made the group.
                    Ok(_) | Err(Error::StreamUnknown { .. } | Error::Conflict(_)) => {}
                    Err(err) => return Err(err),
                }
                if log.group(namespace, EXTRACT_GROUP).await.is_err() {
                    return Ok(Delivered::default());
                }
            }
            Err(err) => return Err(err),
        }
        let facts = self.clone();
        log.deliver(namespace, EXTRACT_GROUP, ROUND, move |event| {
            let facts = facts.clone();
            async move { facts.take(&event).await.map_err(|err| err.to_string()) }
        })
        .await
    }

    async fn take(&self, event: &Event) -> Result<()> {
        if event.event_type != TURN_EVENT {
            return Ok(());
        }
        let turn: TurnToLearn = serde_json::from_value(event.data.clone())
            .map_err(|err| Error::internal(format!("a memory.turn event is malformed: {err}")))?;
        let recorded = self
            .extract(&event.namespace, turn.context_id, turn.through)
            .await?;
        if recorded.is_empty() {
            return Ok(());
        }
        let count = |f: fn(&Recorded) -> bool| recorded.iter().filter(|r| f(r)).count();
        let data = json!({
            "context_id": turn.context_id,
            "through": turn.through,
            "added": count(|r| matches!(r, Recorded::Added { .. })),
            "merged": count(|r| matches!(r, Recorded::Merged { .. })),
            "superseded": count(|r| matches!(r, Recorded::Superseded { .. })),
            "facts": recorded.iter().map(|r| r.fact().id).collect::<Vec<_>>(),
        });
        if let Some(log) = &self.events {
            let subject = format!("contexts/{}", turn.context_id);
            log.emit(platform_event(
                &event.namespace,
                MEMORY_STREAM,
                LEARNED_EVENT,
                subject,
                &Origin::default(),
                data,
            ))
            .await;
        }
        Ok(())
    }

    /// Runs extraction in the background for as long as the log lives: each namespace whose
    /// `memory` stream receives a turn (in this process, or — on PostgreSQL — another) gets a
    /// delivery round at once, and every [`SWEEP_EVERY`] the namespaces with contexts that
    /// learn get one, for turns an earlier run or another process left.
    pub fn spawn_worker(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let Some(log) = self.events.clone() else {
                return;
            };
            let mut live = log.subscribe();
            let mut sweep = tokio::time::interval(SWEEP_EVERY);
            loop {
                let mut due = BTreeSet::new();
                tokio::select! {
                    _ = sweep.tick() => match self.contexts.store().extracting_namespaces().await {
                        Ok(namespaces) => due.extend(namespaces),
                        Err(err) => tracing::warn!(%err, "cannot list the namespaces that learn facts"),
                    },
                    next = live.next() => match next {
                        Ok(Some(event)) => {
                            if let Some(namespace) = memory_turn(&event) {
                                due.insert(namespace);
                            }
                        }
                        Ok(None) => return,
                        // Fell behind: subscribe again and sweep everything.
                        Err(_) => {
                            live = log.subscribe();
                            sweep.reset_immediately();
                        }
                    },
                }
                for namespace in due {
                    // Round after round while a backlog lasts (a full round may leave more).
                    loop {
                        match self.deliver(&namespace).await {
                            Ok(done) if done.delivered + done.dead_lettered >= ROUND => {}
                            Ok(_) => break,
                            Err(err) => {
                                tracing::warn!(%err, namespace = %namespace.as_str(), "fact extraction round failed");
                                break;
                            }
                        }
                    }
                }
            }
        })
    }
}

/// The namespace of a live `memory.turn` event (cheaply ruling out every other event first).
fn memory_turn(event: &crate::events::LiveEvent) -> Option<Namespace> {
    if !event.json().contains(TURN_EVENT) {
        return None;
    }
    let event = event.event().ok()?;
    (event.stream == MEMORY_STREAM && event.event_type == TURN_EVENT).then_some(event.namespace)
}
