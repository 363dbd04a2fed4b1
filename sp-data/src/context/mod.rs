//! Agent contexts on the embedded SQLite database and on PostgreSQL.

#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PgContextStore;
pub use sqlite::SqliteContextStore;

use serde_json::json;
use sp_core::context::{Message, MessageKind, PreparedMessage};
use sp_core::{Id, Timestamp};

/// The stored form of `prepared` as message `seq` of `context_id`.
fn new_message(context_id: Id, seq: u64, prepared: PreparedMessage) -> Message {
    Message {
        id: Id::new(),
        context_id,
        seq,
        role: prepared.message.role,
        kind: if prepared.covers_through.is_some() {
            MessageKind::Summary
        } else {
            MessageKind::Turn
        },
        content: prepared.message.content,
        tool_calls: prepared.message.tool_calls,
        tool_call_id: prepared.message.tool_call_id,
        covers_through: prepared.covers_through,
        metadata: prepared.message.metadata.unwrap_or_else(|| json!({})),
        token_count: prepared.token_count,
        created_at: Timestamp::now(),
    }
}
