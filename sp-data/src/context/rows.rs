//! Context rows as both backends return them (ids, times and JSON decoded natively by the
//! column types of [`crate::sql`]), and their conversion to domain types.

use sp_core::chat::Role;
use sp_core::context::{
    Context, ForkPoint, MemoryBlock, MemoryScope, Message, MessageKind, ToolCall,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Result};
use sqlx::types::Json;

use crate::sql::{DbId, DbTime};

#[derive(sqlx::FromRow)]
pub(crate) struct ContextRow {
    id: DbId,
    namespace: String,
    agent: Option<String>,
    title: Option<String>,
    system_prompt: Option<String>,
    metadata: serde_json::Value,
    extract_facts: bool,
    forked_from_context: Option<DbId>,
    forked_from_message: Option<DbId>,
    message_count: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: DbId,
    context_id: DbId,
    seq: i64,
    role: String,
    kind: String,
    content: String,
    tool_calls: Json<Vec<ToolCall>>,
    tool_call_id: Option<String>,
    covers_through: Option<i64>,
    metadata: serde_json::Value,
    token_count: i32,
    created_at: DbTime,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemoryRow {
    scope_kind: String,
    scope_id: String,
    name: String,
    content: String,
    limit_chars: i32,
    updated_at: DbTime,
}

/// A stored count or sequence number; a negative one means a corrupt row.
fn count(stored: i64) -> Result<u64> {
    u64::try_from(stored).map_err(|_| Error::internal(format!("stored count {stored} is negative")))
}

impl TryFrom<ContextRow> for Context {
    type Error = Error;

    fn try_from(row: ContextRow) -> Result<Context> {
        let forked_from = match (row.forked_from_context, row.forked_from_message) {
            (Some(context), Some(message)) => Some(ForkPoint {
                context_id: context.0,
                message_id: message.0,
            }),
            _ => None,
        };
        Ok(Context {
            id: row.id.0,
            namespace: Namespace::new(row.namespace)?,
            agent: row.agent,
            title: row.title,
            system_prompt: row.system_prompt,
            metadata: row.metadata,
            extract_facts: row.extract_facts,
            forked_from,
            message_count: count(row.message_count)?,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

pub(crate) fn parse_role(role: &str) -> Result<Role> {
    serde_json::from_value(serde_json::Value::String(role.to_owned()))
        .map_err(|_| Error::internal(format!("stored role `{role}` is unknown")))
}

pub(crate) fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Turn => "turn",
        MessageKind::Summary => "summary",
    }
}

impl TryFrom<MessageRow> for Message {
    type Error = Error;

    fn try_from(row: MessageRow) -> Result<Message> {
        Ok(Message {
            id: row.id.0,
            context_id: row.context_id.0,
            seq: count(row.seq)?,
            role: parse_role(&row.role)?,
            kind: if row.kind == "summary" {
                MessageKind::Summary
            } else {
                MessageKind::Turn
            },
            content: row.content,
            tool_calls: row.tool_calls.0,
            tool_call_id: row.tool_call_id,
            covers_through: row.covers_through.map(count).transpose()?,
            metadata: row.metadata,
            token_count: u32::try_from(row.token_count).map_err(Error::internal)?,
            created_at: row.created_at.0,
        })
    }
}

impl TryFrom<MemoryRow> for MemoryBlock {
    type Error = Error;

    fn try_from(row: MemoryRow) -> Result<MemoryBlock> {
        let scope = match row.scope_kind.as_str() {
            "context" => MemoryScope::Context(row.scope_id.parse()?),
            _ => MemoryScope::Agent(row.scope_id),
        };
        Ok(MemoryBlock {
            scope,
            name: row.name,
            content: row.content,
            limit_chars: u32::try_from(row.limit_chars).map_err(Error::internal)?,
            updated_at: row.updated_at.0,
        })
    }
}

pub(crate) fn context_not_found(id: Id) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Context,
        id: id.to_string(),
    }
}

pub(crate) fn message_not_found(id: Id) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Message,
        id: id.to_string(),
    }
}

pub(crate) fn memory_not_found(name: &str) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::MemoryBlock,
        id: name.to_owned(),
    }
}
