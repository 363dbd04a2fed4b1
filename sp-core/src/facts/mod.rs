//! Memory that learns: facts a context picks up from its turns.
//!
//! After a turn of a context created with `extract_facts`, a schema-constrained model call
//! (off the request path: the `memory-extract` consumer group on the namespace's `memory`
//! stream) extracts facts — subject, attribute, value, confidence, source message. An
//! observation that matches the current fact of its subject and attribute merges into it; one
//! that contradicts it **supersedes** it: the old fact is closed (`valid_to`,
//! `superseded_by`) and kept as history, never deleted. Facts are listed as they are now or
//! as of any instant, searched (keywords and vectors fused, weighted by recency), corrected
//! and forgotten by hand. See `docs/contexts.md`.
//!
//! `sp-data` implements [`FactStore`] on SQLite (embedded) and PostgreSQL;
//! [`MemoryFactStore`] keeps facts in the process.

mod extract;
mod memory_store;
mod rank;
mod service;
mod store;
#[cfg(test)]
mod tests;
mod types;
mod worker;

pub use extract::{MAX_FACTS_PER_TURN, schema as extraction_schema, spans as extraction_spans};
pub use memory_store::{MemoryFactStore, topic_taken};
pub use rank::rank;
pub use service::{Facts, MAX_LISTED, MAX_SEARCHED};
pub use store::FactStore;
pub use types::{
    Fact, FactEdit, FactHit, FactKey, FactView, IndexedFact, MAX_KEY_CHARS, MAX_VALUE_CHARS,
    NewFact, Recorded,
};
pub use worker::{
    EXTRACT_GROUP, LEARNED_EVENT, MEMORY_STREAM, SWEEP_EVERY, TURN_EVENT, TurnToLearn, turn_event,
};
