//! An in-process [`FactStore`]: for tests, examples and short-lived agents. Nothing survives
//! the process; `sp-data` has the durable backends.

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::store::FactStore;
use super::types::{Fact, FactKey, FactView, IndexedFact, NewFact, Recorded};
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::{Id, Resource, Timestamp};

struct Row {
    fact: Fact,
    key: FactKey,
    vector: Option<Vec<f32>>,
}

/// Facts held in memory behind one lock.
#[derive(Default)]
pub struct MemoryFactStore {
    rows: Mutex<Vec<Row>>,
}

impl std::fmt::Debug for MemoryFactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryFactStore").finish_non_exhaustive()
    }
}

/// `SP-RES-001` for a fact.
pub(crate) fn fact_not_found(id: Id) -> Error {
    Error::NotFound {
        kind: Resource::Fact,
        id: id.to_string(),
    }
}

fn same_topic(row: &Row, namespace: &Namespace, context_id: Id, key: &FactKey) -> bool {
    row.fact.namespace == *namespace
        && row.fact.context_id == context_id
        && row.fact.is_current()
        && row.key.subject == key.subject
        && row.key.attribute == key.attribute
}

#[async_trait]
impl FactStore for MemoryFactStore {
    async fn record(
        &self,
        namespace: &Namespace,
        context_id: Id,
        fact: &NewFact,
        key: &FactKey,
        vector: Option<Vec<f32>>,
        at: Timestamp,
    ) -> Result<Recorded> {
        let mut rows = self.rows.lock().await;
        let current = rows
            .iter_mut()
            .find(|row| same_topic(row, namespace, context_id, key));
        let previous = match current {
            Some(row) if row.key.value == key.value => {
                row.fact.mentions = row.fact.mentions.saturating_add(1);
                row.fact.confidence = row.fact.confidence.max(fact.confidence);
                row.fact.updated_at = at;
                return Ok(Recorded::Merged {
                    fact: row.fact.clone(),
                });
            }
            Some(row) => Some(row),
            None => None,
        };
        let added = Fact::observed(namespace, context_id, fact, at);
        let previous = previous.map(|row| {
            row.fact.valid_to = Some(at.max(row.fact.valid_from));
            row.fact.superseded_by = Some(added.id);
            row.fact.updated_at = at;
            row.fact.clone()
        });
        rows.push(Row {
            fact: added.clone(),
            key: key.clone(),
            vector,
        });
        Ok(match previous {
            Some(previous) => Recorded::Superseded {
                fact: added,
                previous: Box::new(previous),
            },
            None => Recorded::Added { fact: added },
        })
    }

    async fn list(
        &self,
        namespace: &Namespace,
        context_id: Id,
        view: FactView,
        limit: u32,
    ) -> Result<Vec<Fact>> {
        let rows = self.rows.lock().await;
        let mut facts: Vec<Fact> = rows
            .iter()
            .map(|row| &row.fact)
            .filter(|f| f.namespace == *namespace && f.context_id == context_id)
            .filter(|f| match view {
                FactView::Current => f.is_current(),
                FactView::AsOf(at) => f.held_at(at),
                FactView::History => true,
            })
            .cloned()
            .collect();
        facts.sort_by_key(|f| std::cmp::Reverse((f.valid_from, f.id)));
        facts.truncate(limit as usize);
        Ok(facts)
    }

    async fn indexed(
        &self,
        namespace: &Namespace,
        context_id: Id,
        limit: u32,
    ) -> Result<Vec<IndexedFact>> {
        let rows = self.rows.lock().await;
        let mut facts: Vec<IndexedFact> = rows
            .iter()
            .filter(|r| r.fact.namespace == *namespace && r.fact.context_id == context_id)
            .filter(|r| r.fact.is_current())
            .map(|r| IndexedFact {
                fact: r.fact.clone(),
                vector: r.vector.clone(),
            })
            .collect();
        facts.sort_by_key(|f| std::cmp::Reverse((f.fact.valid_from, f.fact.id)));
        facts.truncate(limit as usize);
        Ok(facts)
    }

    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Fact> {
        let rows = self.rows.lock().await;
        rows.iter()
            .find(|r| r.fact.id == id && r.fact.namespace == *namespace)
            .map(|r| r.fact.clone())
            .ok_or_else(|| fact_not_found(id))
    }

    async fn edit(
        &self,
        namespace: &Namespace,
        id: Id,
        fact: &NewFact,
        key: &FactKey,
        vector: Option<Vec<f32>>,
    ) -> Result<Fact> {
        let mut rows = self.rows.lock().await;
        let index = rows
            .iter()
            .position(|r| r.fact.id == id && r.fact.namespace == *namespace)
            .ok_or_else(|| fact_not_found(id))?;
        let (context_id, current) = (rows[index].fact.context_id, rows[index].fact.is_current());
        if current
            && rows
                .iter()
                .any(|r| r.fact.id != id && same_topic(r, namespace, context_id, key))
        {
            return Err(topic_taken(key));
        }
        let row = &mut rows[index];
        row.fact.subject = fact.subject.trim().to_owned();
        row.fact.attribute = fact.attribute.trim().to_owned();
        row.fact.value = fact.value.trim().to_owned();
        row.fact.confidence = fact.confidence;
        row.fact.updated_at = Timestamp::now();
        row.key = key.clone();
        row.vector = vector;
        Ok(row.fact.clone())
    }

    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let mut rows = self.rows.lock().await;
        let before = rows.len();
        rows.retain(|r| !(r.fact.id == id && r.fact.namespace == *namespace));
        if rows.len() == before {
            return Err(fact_not_found(id));
        }
        Ok(())
    }
}

/// `SP-RES-002`: another current fact already says what this subject's attribute is.
pub fn topic_taken(key: &FactKey) -> Error {
    Error::Conflict(format!(
        "a current fact already gives `{}` `{}`: edit or delete that one",
        key.subject, key.attribute
    ))
}
