//! Loading the embedded store's in-memory parts from SQLite on open: every section's vector
//! into the exact index and what its hits show into the hit rows.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use sp_core::knowledge::Section;
use sp_core::{Error, Id, Result};
use sqlx::{FromRow, Row, SqlitePool};

use super::db;
use super::hit_rows::{DocumentCard, HitRows};
use crate::knowledge::documents::SectionRow;
use crate::knowledge::flat_index::FlatIndex;
use crate::knowledge::vector_from_bytes;

macro_rules! sections {
    () => {
        "SELECT s.rowid, s.ordinal, s.heading_path, s.text, s.token_count, d.namespace, \
         s.embedding, d.id, d.title, d.external_id, d.metadata, d.deleted_at \
         FROM kb_sections s JOIN kb_documents d ON d.id = s.document_id"
    };
}

/// Reads every section of the documents `only` (all when `None`; of live and soft-deleted
/// documents: a restore brings them back), returning their rowids.
pub(super) async fn load(
    pool: &SqlitePool,
    index: &FlatIndex,
    hit_rows: &HitRows,
    only: Option<&[Id]>,
) -> Result<Vec<i64>> {
    let rows = match only {
        None => {
            sqlx::query(concat!(sections!(), " ORDER BY d.id, s.ordinal"))
                .fetch_all(pool)
                .await
        }
        Some(ids) => {
            let ids: Vec<String> = ids.iter().map(Id::to_string).collect();
            let ids = serde_json::to_string(&ids).map_err(Error::internal)?;
            sqlx::query(concat!(
                sections!(),
                " WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.id, s.ordinal"
            ))
            .bind(ids)
            .fetch_all(pool)
            .await
        }
    }
    .map_err(db)?;
    let mut rowids = Vec::with_capacity(rows.len());
    let mut namespaces: HashMap<String, Arc<str>> = HashMap::new();
    let mut cards: HashMap<String, Arc<DocumentCard>> = HashMap::new();
    let mut sections: HashMap<Id, Vec<(i64, Section)>> = HashMap::new();
    for row in rows {
        let rowid: i64 = row.get(0);
        rowids.push(rowid);
        let ns: String = row.get(5);
        let ns = namespaces
            .entry(ns.clone())
            .or_insert_with(|| Arc::from(ns.as_str()));
        index.insert(rowid, ns, &vector_from_bytes(row.get::<&[u8], _>(6)));
        let doc_id: String = row.get(7);
        let card = match cards.get(&doc_id) {
            Some(card) => Arc::clone(card),
            None => {
                let metadata: String = row.get(10);
                let card = DocumentCard::new(
                    Id::from_str(&doc_id)?,
                    row.get(8),
                    row.get(9),
                    serde_json::from_str(&metadata).map_err(Error::internal)?,
                    row.get::<Option<i64>, _>(11).is_some(),
                );
                cards.insert(doc_id, Arc::clone(&card));
                card
            }
        };
        sections.entry(card.id).or_default().push((
            rowid,
            Section::try_from(SectionRow::from_row(&row).map_err(db)?)?,
        ));
    }
    for card in cards.values() {
        hit_rows.insert(card, sections.remove(&card.id).unwrap_or_default());
    }
    Ok(rowids)
}
