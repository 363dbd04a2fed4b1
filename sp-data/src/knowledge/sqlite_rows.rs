//! Reading knowledge rows of the embedded store into domain types.

use std::str::FromStr;

use sp_core::knowledge::{Document, Namespace, Section};
use sp_core::{Error, Id, Result, Timestamp};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// The document columns, in the order [`document_from_row_at`] reads them.
pub(super) const DOC_COLUMNS: &str = "d.id, d.namespace, d.external_id, d.title, d.source_uri, d.metadata, \
     d.content_hash, d.section_count, d.created_at, d.updated_at, d.deleted_at";

pub(super) fn not_found(id: Id) -> Error {
    Error::NotFound {
        kind: "document",
        id: id.to_string(),
    }
}

pub(super) fn section_from_row(row: &SqliteRow) -> Result<Section> {
    let heading_path: String = row.get(2);
    Ok(Section {
        ordinal: row.get::<i64, _>(1) as u32,
        heading_path: serde_json::from_str(&heading_path).map_err(Error::internal)?,
        text: row.get(3),
        token_count: row.get::<i64, _>(4) as u32,
    })
}

pub(super) fn document_from_row(row: &SqliteRow) -> Result<Document> {
    document_from_row_at(row, 0)
}

pub(super) fn document_from_row_at(row: &SqliteRow, at: usize) -> Result<Document> {
    let id: String = row.get(at);
    let metadata: String = row.get(at + 5);
    let time = |i: usize| -> Result<Timestamp> { crate::error::stored_time(row.get(at + i)) };
    let deleted: Option<i64> = row.get(at + 10);
    Ok(Document {
        id: Id::from_str(&id)?,
        namespace: Namespace::new(row.get::<String, _>(at + 1))?,
        external_id: row.get(at + 2),
        title: row.get(at + 3),
        source_uri: row.get(at + 4),
        metadata: serde_json::from_str(&metadata).map_err(Error::internal)?,
        content_hash: row.get(at + 6),
        section_count: row.get::<i64, _>(at + 7) as u32,
        created_at: time(8)?,
        updated_at: time(9)?,
        deleted_at: deleted.and_then(Timestamp::from_unix_micros),
    })
}
