//! Context rows as both backends select them (PostgreSQL casts its UUID, JSONB and
//! TIMESTAMPTZ columns to text and microseconds), and their conversion to domain types.

use std::str::FromStr;

use sp_core::chat::Role;
use sp_core::context::{Context, ForkPoint, MemoryBlock, MemoryScope, Message, MessageKind};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Result};

#[derive(sqlx::FromRow)]
pub(crate) struct ContextRow {
    id: String,
    namespace: String,
    agent: Option<String>,
    title: Option<String>,
    system_prompt: Option<String>,
    metadata: String,
    forked_from_context: Option<String>,
    forked_from_message: Option<String>,
    message_count: i64,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    id: String,
    context_id: String,
    seq: i64,
    role: String,
    kind: String,
    content: String,
    tool_calls: String,
    tool_call_id: Option<String>,
    covers_through: Option<i64>,
    metadata: String,
    token_count: i64,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct MemoryRow {
    scope_kind: String,
    scope_id: String,
    name: String,
    content: String,
    limit_chars: i64,
    updated_at: i64,
}

use crate::error::stored_time as time;

fn json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(Error::internal)
}

impl TryFrom<ContextRow> for Context {
    type Error = Error;

    fn try_from(row: ContextRow) -> Result<Context> {
        let forked_from = match (row.forked_from_context, row.forked_from_message) {
            (Some(context), Some(message)) => Some(ForkPoint {
                context_id: Id::from_str(&context)?,
                message_id: Id::from_str(&message)?,
            }),
            _ => None,
        };
        Ok(Context {
            id: Id::from_str(&row.id)?,
            namespace: Namespace::new(row.namespace)?,
            agent: row.agent,
            title: row.title,
            system_prompt: row.system_prompt,
            metadata: json(&row.metadata)?,
            forked_from,
            message_count: row.message_count as u64,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
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
            id: Id::from_str(&row.id)?,
            context_id: Id::from_str(&row.context_id)?,
            seq: row.seq as u64,
            role: parse_role(&row.role)?,
            kind: if row.kind == "summary" {
                MessageKind::Summary
            } else {
                MessageKind::Turn
            },
            content: row.content,
            tool_calls: serde_json::from_str(&row.tool_calls).map_err(Error::internal)?,
            tool_call_id: row.tool_call_id,
            covers_through: row.covers_through.map(|s| s as u64),
            metadata: json(&row.metadata)?,
            token_count: row.token_count as u32,
            created_at: time(row.created_at)?,
        })
    }
}

impl TryFrom<MemoryRow> for MemoryBlock {
    type Error = Error;

    fn try_from(row: MemoryRow) -> Result<MemoryBlock> {
        let scope = match row.scope_kind.as_str() {
            "context" => MemoryScope::Context(Id::from_str(&row.scope_id)?),
            _ => MemoryScope::Agent(row.scope_id),
        };
        Ok(MemoryBlock {
            scope,
            name: row.name,
            content: row.content,
            limit_chars: row.limit_chars as u32,
            updated_at: time(row.updated_at)?,
        })
    }
}

pub(crate) fn context_not_found(id: Id) -> Error {
    Error::NotFound {
        kind: "context",
        id: id.to_string(),
    }
}

pub(crate) fn message_not_found(id: Id) -> Error {
    Error::NotFound {
        kind: "message",
        id: id.to_string(),
    }
}

pub(crate) fn memory_not_found(name: &str) -> Error {
    Error::NotFound {
        kind: "memory block",
        id: name.to_owned(),
    }
}
