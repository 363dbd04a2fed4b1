//! Knowledge-store backends: embedded SQLite (always) and PostgreSQL + pgvector (`postgres`).

mod documents;
mod flat_index;
mod graph_index;
#[cfg(feature = "postgres")]
mod postgres;
mod reembed;
mod snapshot_codec;
mod sqlite;
mod storage;
pub use graph_index::GraphParams;
#[cfg(feature = "postgres")]
pub use postgres::PgDocumentStore;
pub use reembed::ReembedProgress;
pub use sqlite::{SqliteDocumentStore, VectorIndexConfig};

mod encoding;
#[cfg(feature = "postgres")]
pub(crate) use encoding::query_words;
pub(crate) use encoding::{fts_query, vector_from_bytes, vector_to_bytes};
