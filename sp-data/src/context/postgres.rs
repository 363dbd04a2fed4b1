//! Contexts in PostgreSQL.

use async_trait::async_trait;
use serde_json::json;
use sp_core::context::{
    Context, ContextStore, MemoryBlock, MemoryScope, Message, NewContext, PreparedMessage,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use super::rows::{
    ContextRow, MemoryRow, MessageRow, context_not_found, kind_name, memory_not_found,
    message_not_found,
};
use crate::PgStore;
use crate::error::sqlx_error;

// The shared row types read text ids and JSON, and microseconds.
const CONTEXT_COLUMNS: &str = "id::text AS id, namespace, agent, title, system_prompt, \
     metadata::text AS metadata, forked_from_context::text AS forked_from_context, \
     forked_from_message::text AS forked_from_message, message_count, \
     (extract(epoch FROM created_at) * 1000000)::int8 AS created_at, \
     (extract(epoch FROM updated_at) * 1000000)::int8 AS updated_at";
const MESSAGE_COLUMNS: &str = "id::text AS id, context_id::text AS context_id, seq, role, kind, \
     content, tool_calls::text AS tool_calls, tool_call_id, covers_through, \
     metadata::text AS metadata, token_count::int8 AS token_count, \
     (extract(epoch FROM created_at) * 1000000)::int8 AS created_at";
const MEMORY_COLUMNS: &str = "scope_kind, scope_id, name, content, limit_chars::int8 AS limit_chars, \
     (extract(epoch FROM updated_at) * 1000000)::int8 AS updated_at";

fn db(err: sqlx::Error) -> Error {
    sqlx_error("postgres", err)
}

/// Agent contexts in PostgreSQL, in the configured schema.
///
/// ```no_run
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::context::{ContextStore, NewContext};
///
/// let config = sp_core::config::DatabaseConfig {
///     url: Some("postgres://localhost/sp".into()),
///     ..Default::default()
/// };
/// let pg = sp_data::PgStore::connect_lazy(&config)?;
/// let store = sp_data::PgContextStore::open(&pg).await?;
/// let ctx = store.create(NewContext::default()).await?;
/// # Ok::<(), sp_core::Error>(())
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct PgContextStore {
    pool: PgPool,
}

impl PgContextStore {
    /// Runs the migrations and opens the store.
    pub async fn open(pg: &PgStore) -> Result<Self> {
        pg.migrate().await?;
        Ok(PgContextStore {
            pool: pg.pool().clone(),
        })
    }
}

/// The context, its row locked until the transaction ends when `lock` is set (appends to one
/// context serialise on it and get consecutive seqs).
async fn context_in(
    conn: &mut PgConnection,
    namespace: &Namespace,
    id: Id,
    lock: bool,
) -> Result<Context> {
    let sql = format!(
        "SELECT {CONTEXT_COLUMNS} FROM ctx_contexts WHERE id = $1 AND namespace = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as::<_, ContextRow>(AssertSqlSafe(sql))
        .bind(id.as_uuid())
        .bind(namespace.as_str())
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or_else(|| context_not_found(id))?
        .try_into()
}

async fn insert_message(conn: &mut PgConnection, context_id: Id, message: &Message) -> Result<()> {
    sqlx::query(
        "INSERT INTO ctx_messages (id, context_id, seq, role, kind, content, tool_calls, \
         tool_call_id, covers_through, metadata, token_count, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(message.id.as_uuid())
    .bind(context_id.as_uuid())
    .bind(message.seq as i64)
    .bind(message.role.as_str())
    .bind(kind_name(message.kind))
    .bind(&message.content)
    .bind(serde_json::to_value(&message.tool_calls).map_err(Error::internal)?)
    .bind(&message.tool_call_id)
    .bind(message.covers_through.map(|s| s as i64))
    .bind(&message.metadata)
    .bind(message.token_count as i32)
    .bind(message.created_at.as_datetime())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let calls: Vec<String> = message.tool_calls.iter().map(|c| c.id.clone()).collect();
    if !calls.is_empty() {
        sqlx::query(
            "INSERT INTO ctx_tool_calls (context_id, call_id) SELECT $1, * FROM UNNEST($2::text[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(context_id.as_uuid())
        .bind(&calls)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

fn messages_from(rows: Vec<MessageRow>) -> Result<Vec<Message>> {
    rows.into_iter().map(Message::try_from).collect()
}

#[async_trait]
impl ContextStore for PgContextStore {
    async fn create(&self, new: NewContext) -> Result<Context> {
        let now = Timestamp::now().as_datetime();
        let id = Id::new();
        sqlx::query(
            "INSERT INTO ctx_contexts (id, namespace, agent, title, system_prompt, metadata, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id.as_uuid())
        .bind(new.namespace.as_str())
        .bind(&new.agent)
        .bind(&new.title)
        .bind(&new.system_prompt)
        .bind(new.metadata.unwrap_or_else(|| json!({})))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        self.get(&new.namespace, id).await
    }

    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Context> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        context_in(&mut conn, namespace, id, false).await
    }

    async fn list(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Context>> {
        let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let sql = format!(
            "SELECT {CONTEXT_COLUMNS} FROM ctx_contexts WHERE namespace = $1 \
             AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query_as::<_, ContextRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(after.map(|id| id.as_uuid()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let contexts = rows
            .into_iter()
            .map(Context::try_from)
            .collect::<Result<Vec<_>>>()?;
        Page::from_rows(contexts, page.limit, |c| c.id)
    }

    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done = sqlx::query("DELETE FROM ctx_contexts WHERE id = $1 AND namespace = $2")
            .bind(id.as_uuid())
            .bind(namespace.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(context_not_found(id));
        }
        sqlx::query("DELETE FROM ctx_memory WHERE scope_kind = 'context' AND scope_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn fork(&self, namespace: &Namespace, id: Id, at: Id) -> Result<Context> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let source = context_in(&mut tx, namespace, id, true).await?;
        let end: i64 =
            sqlx::query_scalar("SELECT seq FROM ctx_messages WHERE id = $1 AND context_id = $2")
                .bind(at.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .ok_or_else(|| message_not_found(at))?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM ctx_messages WHERE context_id = $1 AND seq <= $2 ORDER BY seq"
        );
        let copied = sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .bind(end)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let fork_id = Id::new();
        sqlx::query(
            "INSERT INTO ctx_contexts (id, namespace, agent, title, system_prompt, metadata, \
             forked_from_context, forked_from_message, message_count, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(fork_id.as_uuid())
        .bind(namespace.as_str())
        .bind(&source.agent)
        .bind(&source.title)
        .bind(&source.system_prompt)
        .bind(&source.metadata)
        .bind(id.as_uuid())
        .bind(at.as_uuid())
        .bind(end)
        .bind(Timestamp::now().as_datetime())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for message in messages_from(copied)? {
            let message = Message {
                id: Id::new(),
                context_id: fork_id,
                ..message
            };
            insert_message(&mut tx, fork_id, &message).await?;
        }
        sqlx::query(
            "INSERT INTO ctx_memory (namespace, scope_kind, scope_id, name, content, limit_chars, updated_at) \
             SELECT namespace, scope_kind, $1, name, content, limit_chars, updated_at FROM ctx_memory \
             WHERE namespace = $2 AND scope_kind = 'context' AND scope_id = $3",
        )
        .bind(fork_id.to_string())
        .bind(namespace.as_str())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let context = context_in(&mut tx, namespace, fork_id, false).await?;
        tx.commit().await.map_err(db)?;
        Ok(context)
    }

    async fn append(
        &self,
        namespace: &Namespace,
        id: Id,
        prepared: PreparedMessage,
    ) -> Result<Message> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let context = context_in(&mut tx, namespace, id, true).await?;
        if let Some(call) = &prepared.message.tool_call_id {
            let made: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM ctx_tool_calls WHERE context_id = $1 AND call_id = $2",
            )
            .bind(id.as_uuid())
            .bind(call)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if made.is_none() {
                return Err(Error::ToolCallUnknown {
                    tool_call_id: call.clone(),
                });
            }
        }
        let message = prepared.into_message(id, context.message_count + 1);
        insert_message(&mut tx, id, &message).await?;
        sqlx::query("UPDATE ctx_contexts SET message_count = $1, updated_at = $2 WHERE id = $3")
            .bind(message.seq as i64)
            .bind(message.created_at.as_datetime())
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(message)
    }

    async fn messages(
        &self,
        namespace: &Namespace,
        id: Id,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.get(namespace, id).await?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM ctx_messages WHERE context_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3"
        );
        let rows = sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .bind(after as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        messages_from(rows)
    }

    async fn live_messages(&self, namespace: &Namespace, id: Id) -> Result<Vec<Message>> {
        self.get(namespace, id).await?;
        // One statement, one snapshot: the latest summary, then the turns after it.
        let sql = format!(
            "WITH summary AS (SELECT seq, covers_through FROM ctx_messages \
                 WHERE context_id = $1 AND kind = 'summary' ORDER BY seq DESC LIMIT 1) \
             SELECT {MESSAGE_COLUMNS} FROM ctx_messages m WHERE m.context_id = $1 AND ( \
                 m.seq = (SELECT seq FROM summary) OR (m.kind = 'turn' \
                 AND m.seq > COALESCE((SELECT covers_through FROM summary), 0))) \
             ORDER BY m.kind = 'summary' DESC, m.seq"
        );
        let rows = sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        messages_from(rows)
    }

    async fn put_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
        content: &str,
        limit_chars: u32,
    ) -> Result<MemoryBlock> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        if let MemoryScope::Context(id) = scope {
            context_in(&mut tx, namespace, *id, true).await?;
        }
        let (kind, scope_id) = scope.parts();
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO ctx_memory (namespace, scope_kind, scope_id, name, content, limit_chars, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (namespace, scope_kind, scope_id, name) \
             DO UPDATE SET content = excluded.content, limit_chars = excluded.limit_chars, \
             updated_at = excluded.updated_at",
        )
        .bind(namespace.as_str())
        .bind(kind)
        .bind(&scope_id)
        .bind(name)
        .bind(content)
        .bind(limit_chars as i32)
        .bind(now.as_datetime())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(MemoryBlock {
            scope: scope.clone(),
            name: name.to_owned(),
            content: content.to_owned(),
            limit_chars,
            updated_at: now,
        })
    }

    async fn memory(&self, namespace: &Namespace, scope: &MemoryScope) -> Result<Vec<MemoryBlock>> {
        if let MemoryScope::Context(id) = scope {
            self.get(namespace, *id).await?;
        }
        let (kind, scope_id) = scope.parts();
        let sql = format!(
            "SELECT {MEMORY_COLUMNS} FROM ctx_memory WHERE namespace = $1 AND scope_kind = $2 \
             AND scope_id = $3 ORDER BY name"
        );
        sqlx::query_as::<_, MemoryRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(kind)
            .bind(scope_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(MemoryBlock::try_from)
            .collect()
    }

    async fn delete_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
    ) -> Result<()> {
        let (kind, scope_id) = scope.parts();
        let done = sqlx::query(
            "DELETE FROM ctx_memory WHERE namespace = $1 AND scope_kind = $2 AND scope_id = $3 AND name = $4",
        )
        .bind(namespace.as_str())
        .bind(kind)
        .bind(scope_id)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(memory_not_found(name));
        }
        Ok(())
    }
}
