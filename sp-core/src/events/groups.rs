//! Consumer groups (a committed position per group and stream, at-least-once delivery) and the
//! dead-letter queue of events their handlers could not take.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::types::Event;
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::{Id, Page, PageRequest, Timestamp};

/// Where a new group starts reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum GroupStart {
    /// From the stream's first event.
    #[default]
    Beginning,
    /// From the next event appended.
    End,
}

/// A consumer group to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// The tenant.
    #[serde(default)]
    pub namespace: Namespace,
    /// 1-64 characters of `a-z A-Z 0-9 . _ -`, unique in the namespace.
    pub name: String,
    /// The stream it consumes (which must exist).
    pub stream: String,
    /// Where it starts (default `beginning`).
    #[serde(default)]
    pub start: GroupStart,
}

/// A consumer group and its position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    /// The tenant.
    pub namespace: Namespace,
    /// Its name.
    pub name: String,
    /// Its stream.
    pub stream: String,
    /// The last offset it finished with (acknowledged or dead-lettered); 0 before any.
    pub committed: u64,
    /// When it was created.
    pub created_at: Timestamp,
}

/// An event a group's handler failed on too often, set aside with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    /// Identifier.
    pub id: Id,
    /// The group that gave up on it.
    pub group: String,
    /// The event.
    pub event: Event,
    /// The handler's last error.
    pub reason: String,
    /// Deliveries tried.
    pub attempts: u32,
    /// When it was set aside.
    pub dead_at: Timestamp,
    /// When it was sent back to its group for another delivery (pending until delivered).
    pub redriven_at: Option<Timestamp>,
    /// When a redrive delivered it.
    pub resolved_at: Option<Timestamp>,
}

/// Stores groups, delivery attempts and dead letters (both `sp-data` event stores).
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Creates a group at `committed`; `SP-RES-002` when the name is taken.
    async fn create_group(&self, group: &NewGroup, committed: u64) -> Result<Group>;

    /// A group; `SP-EVT-004` when there is none of that name.
    async fn group(&self, namespace: &Namespace, name: &str) -> Result<Group>;

    /// Moves the group to `offset` (and forgets the offset's failures) when `offset` is the
    /// group's next event: the first one retained after its committed offset (`committed +
    /// 1` unless retention removed events in between), and not past the stream's head;
    /// `SP-RES-002` otherwise (another consumer moved it).
    async fn commit(&self, namespace: &Namespace, name: &str, offset: u64) -> Result<Group>;

    /// Records a failed delivery of `offset`; returns the attempts so far.
    async fn record_failure(
        &self,
        namespace: &Namespace,
        name: &str,
        offset: u64,
        reason: &str,
    ) -> Result<u32>;

    /// Sets `event` aside for the group and commits past it, in one transaction.
    async fn dead_letter(
        &self,
        namespace: &Namespace,
        name: &str,
        event: &Event,
        reason: &str,
        attempts: u32,
    ) -> Result<DeadLetter>;

    /// Dead letters of the namespace (of one group when given), newest first.
    async fn dead_letters(
        &self,
        namespace: &Namespace,
        group: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<DeadLetter>>;

    /// One dead letter; `SP-RES-001` when absent.
    async fn dead_letter_by_id(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter>;

    /// Marks a dead letter for redelivery (again, if it was); returns it.
    async fn redrive(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter>;

    /// The group's redriven dead letters not delivered yet, oldest first.
    async fn redriven(&self, namespace: &Namespace, group: &str) -> Result<Vec<DeadLetter>>;

    /// Marks a redriven dead letter delivered, or (`delivered` false) dead again with a new
    /// reason.
    async fn settle(&self, id: Id, delivered: bool, reason: &str) -> Result<()>;
}

/// The `SP-RES-002` of a commit that is not the group's next event: `next` is the first event
/// retained after the group's `committed` offset (none: the group has read its stream to the
/// end). Every group store answers with it.
///
/// ```
/// let err = sp_core::events::not_next_event("mailer", 5, Some(9));
/// assert_eq!(err.code(), sp_core::ErrorCode::Conflict);
/// assert!(err.to_string().contains("its next event, 9"));
/// ```
pub fn not_next_event(group: &str, committed: u64, next: Option<u64>) -> Error {
    Error::Conflict(match next {
        Some(next) => format!(
            "group `{group}` is at offset {committed}; only its next event, {next}, can be committed"
        ),
        None => format!("group `{group}` is at offset {committed}, the last event of its stream"),
    })
}
