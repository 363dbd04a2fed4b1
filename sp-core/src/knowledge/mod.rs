//! The knowledge store: documents split into sections, embedded, and searched by vector,
//! keyword or both (hybrid, reciprocal rank fusion).
//!
//! Backend-free parts live here: the types, [`chunk`]ing, the [`DocumentStore`] trait, the
//! [`KnowledgeBase`] that ingests and searches over any store, a [`SimpleTokenizer`] and a
//! [`HashEmbedder`] for when no model is loaded, and an in-process [`MemoryDocumentStore`]. `sp-data`
//! implements `DocumentStore` on SQLite (embedded) and PostgreSQL + pgvector.

mod base;
mod cache;
mod chunk;
mod fusion;
mod hash_embedder;
mod memory;
mod reembed;
mod simple_tokenizer;
mod store;
mod types;

pub use base::{
    KnowledgeBase, KnowledgeConfig, check_vector, embeddable_text, rerank_hits, retrieval_of,
    top_n_of,
};
pub use cache::KnowledgeCacheTtl;
pub use chunk::{ChunkConfig, chunk};
pub use fusion::{RRF_K, reciprocal_rank_fusion};
pub use hash_embedder::HashEmbedder;
pub use memory::MemoryDocumentStore;
pub use reembed::{
    ReembedReport, ReembeddedSection, Reembedder, StoredSection, forget_cached_searches,
};
pub use simple_tokenizer::SimpleTokenizer;
pub use store::{DocumentStore, PreparedDocument};
pub use types::{
    ContentFormat, Document, IngestOutcome, Ingested, MAX_K, Namespace, NewDocument, RerankStage,
    SearchHit, SearchMode, SearchQuery, Section, json_contains, validate_filter,
};
