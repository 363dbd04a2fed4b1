//! Fact rows as both backends return them, and vectors as the bytes they are stored as.

use sp_core::facts::{Fact, IndexedFact};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Result};

use crate::sql::{DbId, DbTime};

/// The columns of [`FactRow`], in its order.
pub(crate) const FACT_COLUMNS: &str = "id, namespace, context_id, subject, attribute, value, \
     value_key, confidence, mentions, source_message, valid_from, valid_to, superseded_by, \
     updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct FactRow {
    id: DbId,
    namespace: String,
    context_id: DbId,
    subject: String,
    attribute: String,
    value: String,
    pub(crate) value_key: String,
    confidence: f32,
    mentions: i32,
    source_message: Option<DbId>,
    valid_from: DbTime,
    valid_to: Option<DbTime>,
    superseded_by: Option<DbId>,
    updated_at: DbTime,
}

#[derive(sqlx::FromRow)]
pub(crate) struct IndexedRow {
    #[sqlx(flatten)]
    fact: FactRow,
    vector: Option<Vec<u8>>,
}

impl TryFrom<FactRow> for Fact {
    type Error = Error;

    fn try_from(row: FactRow) -> Result<Fact> {
        Ok(Fact {
            id: row.id.0,
            namespace: Namespace::new(row.namespace)?,
            context_id: row.context_id.0,
            subject: row.subject,
            attribute: row.attribute,
            value: row.value,
            confidence: row.confidence,
            mentions: u32::try_from(row.mentions)
                .map_err(|_| Error::internal("a stored fact's mentions are negative"))?,
            source_message: row.source_message.map(|id| id.0),
            valid_from: row.valid_from.0,
            valid_to: row.valid_to.map(|at| at.0),
            superseded_by: row.superseded_by.map(|id| id.0),
            updated_at: row.updated_at.0,
        })
    }
}

impl TryFrom<IndexedRow> for IndexedFact {
    type Error = Error;

    fn try_from(row: IndexedRow) -> Result<IndexedFact> {
        Ok(IndexedFact {
            fact: row.fact.try_into()?,
            vector: row.vector.as_deref().map(vector_from_bytes).transpose()?,
        })
    }
}

/// A vector as little-endian f32 bytes (both backends store them as a blob).
pub(crate) fn vector_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Error::internal("a stored fact vector is not whole f32s"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// `SP-RES-001` for a fact.
pub(crate) fn fact_unknown(id: sp_core::Id) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Fact,
        id: id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_bytes() {
        let vector = vec![0.25, -1.5, f32::MIN_POSITIVE];
        assert_eq!(vector_from_bytes(&vector_bytes(&vector)).unwrap(), vector);
        assert!(vector_from_bytes(&[1, 2, 3]).is_err());
    }
}
