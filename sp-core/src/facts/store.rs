//! The storage trait every fact backend implements.

use async_trait::async_trait;

use super::types::{Fact, FactKey, FactView, IndexedFact, NewFact, Recorded};
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// Stores the facts contexts learn. Implemented by the embedded (SQLite) and PostgreSQL
/// backends of `sp-data`; [`MemoryFactStore`](super::MemoryFactStore) keeps them in the
/// process. [`Facts`](super::Facts) validates, embeds and ranks on top.
///
/// A context holds at most one current fact per (subject key, attribute key); a fact is
/// closed by the observation that replaces it, never deleted by one.
#[async_trait]
pub trait FactStore: Send + Sync {
    /// Records a validated observation `fact` (keys `key`) of context `context_id` at `at`,
    /// in one transaction: merged into the current fact of its subject and attribute when the
    /// values match, replacing it (closed at `at`) when they differ, added when there is none.
    /// `SP-RES-002` when another writer recorded the same subject and attribute at once.
    async fn record(
        &self,
        namespace: &Namespace,
        context_id: Id,
        fact: &NewFact,
        key: &FactKey,
        vector: Option<Vec<f32>>,
        at: Timestamp,
    ) -> Result<Recorded>;

    /// Facts of a context in `view`, newest `valid_from` first, at most `limit`.
    async fn list(
        &self,
        namespace: &Namespace,
        context_id: Id,
        view: FactView,
        limit: u32,
    ) -> Result<Vec<Fact>>;

    /// The current facts of a context with their vectors (for search), newest first, at most
    /// `limit`.
    async fn indexed(
        &self,
        namespace: &Namespace,
        context_id: Id,
        limit: u32,
    ) -> Result<Vec<IndexedFact>>;

    /// One fact; `SP-RES-001` when the namespace has none of that id.
    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Fact>;

    /// Replaces a fact's subject, attribute, value and confidence in place (a correction);
    /// `SP-RES-002` when a current fact would then share its subject and attribute with
    /// another current one.
    async fn edit(
        &self,
        namespace: &Namespace,
        id: Id,
        fact: &NewFact,
        key: &FactKey,
        vector: Option<Vec<f32>>,
    ) -> Result<Fact>;

    /// Removes a fact for good (by hand: what a user asks to be forgotten); a fact it had
    /// replaced stays history.
    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()>;
}
