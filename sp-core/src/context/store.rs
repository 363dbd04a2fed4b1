//! The storage trait every context backend implements.

use async_trait::async_trait;

use super::types::{
    Context, MemoryBlock, MemoryScope, Message, MessageKind, NewContext, NewMessage,
};
use crate::Id;
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::page::{Page, PageRequest};

/// A message with its token count, ready to append.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedMessage {
    /// What the caller sent.
    pub message: NewMessage,
    /// Tokens it takes in a prompt (content plus the template's wrapping).
    pub token_count: u32,
    /// For a summary written by compaction: the last `seq` it stands for.
    pub covers_through: Option<u64>,
}

impl PreparedMessage {
    /// The stored form of this message as message `seq` of `context_id`: a new id, the
    /// current time, `summary` when it covers earlier turns, `{}` for absent metadata.
    pub fn into_message(self, context_id: Id, seq: u64) -> Message {
        Message {
            id: Id::new(),
            context_id,
            seq,
            role: self.message.role,
            kind: if self.covers_through.is_some() {
                MessageKind::Summary
            } else {
                MessageKind::Turn
            },
            content: self.message.content,
            tool_calls: self.message.tool_calls,
            tool_call_id: self.message.tool_call_id,
            covers_through: self.covers_through,
            metadata: self
                .message
                .metadata
                .unwrap_or_else(|| serde_json::json!({})),
            token_count: self.token_count,
            created_at: crate::Timestamp::now(),
        }
    }
}

/// Stores contexts, their messages and memory blocks. Implemented by the embedded (SQLite)
/// and PostgreSQL backends of `sp-data`; [`Contexts`](super::Contexts) adds token counting,
/// assembly and compaction on top.
///
/// Every failing call leaves the context exactly as it was.
#[async_trait]
pub trait ContextStore: Send + Sync {
    /// Creates a context (validated by the caller).
    async fn create(&self, new: NewContext) -> Result<Context>;

    /// A context of `namespace`.
    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Context>;

    /// Contexts of a namespace, newest first.
    async fn list(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Context>>;

    /// Removes a context with its messages and context-scoped memory.
    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()>;

    /// A new context holding copies of the source's messages up to and including `at`, and
    /// its context-scoped memory blocks.
    async fn fork(&self, namespace: &Namespace, id: Id, at: Id) -> Result<Context>;

    /// Appends a message: it gets the next `seq`, atomically, however many writers append at
    /// once. A tool result must answer a call an earlier assistant message made.
    async fn append(
        &self,
        namespace: &Namespace,
        id: Id,
        message: PreparedMessage,
    ) -> Result<Message>;

    /// Messages with `seq > after`, in order, at most `limit`.
    async fn messages(
        &self,
        namespace: &Namespace,
        id: Id,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>>;

    /// What assembly needs: the latest summary (if any) and every turn after what it covers.
    async fn live_messages(&self, namespace: &Namespace, id: Id) -> Result<Vec<Message>>;

    /// Creates or edits a memory block (validated by the caller). A context scope must name
    /// a context of `namespace`.
    async fn put_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
        content: &str,
        limit_chars: u32,
    ) -> Result<MemoryBlock>;

    /// The blocks of a scope, by name.
    async fn memory(&self, namespace: &Namespace, scope: &MemoryScope) -> Result<Vec<MemoryBlock>>;

    /// Removes a block.
    async fn delete_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
    ) -> Result<()>;

    /// Removes the messages after `keep` (the newest turns: what deleting the latest response
    /// of a chain removes), with the tool calls they made; nothing when the context has no
    /// more than `keep`. `SP-RES-001` for an unknown context.
    async fn truncate(&self, namespace: &Namespace, id: Id, keep: u64) -> Result<()>;

    /// The namespaces holding a context that extracts facts (where the fact extractor looks
    /// for turns left by other processes or an earlier run).
    async fn extracting_namespaces(&self) -> Result<Vec<Namespace>>;
}
