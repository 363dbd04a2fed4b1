//! Contexts in the embedded SQLite database.

use async_trait::async_trait;
use serde_json::json;
use sp_core::context::{
    Context, ContextStore, MemoryBlock, MemoryScope, Message, NewContext, PreparedMessage,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{AssertSqlSafe, SqliteConnection, SqlitePool};

use super::rows::{
    ContextRow, MemoryRow, MessageRow, context_not_found, kind_name, memory_not_found,
    message_not_found,
};
use crate::SqliteStore;
use crate::error::sqlx_error;

const CONTEXT_COLUMNS: &str = "id, namespace, agent, title, system_prompt, metadata, \
     forked_from_context, forked_from_message, message_count, created_at, updated_at";
const MESSAGE_COLUMNS: &str = "id, context_id, seq, role, kind, content, tool_calls, \
     tool_call_id, covers_through, metadata, token_count, created_at";
const MEMORY_COLUMNS: &str = "scope_kind, scope_id, name, content, limit_chars, updated_at";

fn db(err: sqlx::Error) -> Error {
    sqlx_error("sqlite", err)
}

/// Agent contexts in the embedded SQLite database.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::context::{ContextStore, NewContext};
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await.unwrap();
/// let store = sp_data::SqliteContextStore::new(&db);
/// let ctx = store.create(NewContext::default()).await.unwrap();
/// assert_eq!(store.get(&ctx.namespace, ctx.id).await.unwrap().message_count, 0);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqliteContextStore {
    pool: SqlitePool,
}

impl SqliteContextStore {
    /// Contexts in `db` (its migrations created the tables).
    pub fn new(db: &SqliteStore) -> Self {
        SqliteContextStore {
            pool: db.pool().clone(),
        }
    }
}

async fn context_in(conn: &mut SqliteConnection, namespace: &Namespace, id: Id) -> Result<Context> {
    let sql = format!("SELECT {CONTEXT_COLUMNS} FROM ctx_contexts WHERE id = ? AND namespace = ?");
    sqlx::query_as::<_, ContextRow>(AssertSqlSafe(sql))
        .bind(id.to_string())
        .bind(namespace.as_str())
        .fetch_optional(conn)
        .await
        .map_err(db)?
        .ok_or_else(|| context_not_found(id))?
        .try_into()
}

async fn insert_message(
    conn: &mut SqliteConnection,
    context_id: Id,
    message: &Message,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO ctx_messages (id, context_id, seq, role, kind, content, tool_calls, \
         tool_call_id, covers_through, metadata, token_count, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(message.id.to_string())
    .bind(context_id.to_string())
    .bind(message.seq as i64)
    .bind(message.role.as_str())
    .bind(kind_name(message.kind))
    .bind(&message.content)
    .bind(serde_json::to_string(&message.tool_calls).map_err(Error::internal)?)
    .bind(&message.tool_call_id)
    .bind(message.covers_through.map(|s| s as i64))
    .bind(message.metadata.to_string())
    .bind(i64::from(message.token_count))
    .bind(message.created_at.unix_micros())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    for call in &message.tool_calls {
        sqlx::query("INSERT OR IGNORE INTO ctx_tool_calls (context_id, call_id) VALUES (?, ?)")
            .bind(context_id.to_string())
            .bind(&call.id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl ContextStore for SqliteContextStore {
    async fn create(&self, new: NewContext) -> Result<Context> {
        let now = Timestamp::now();
        let id = Id::new();
        sqlx::query(
            "INSERT INTO ctx_contexts (id, namespace, agent, title, system_prompt, metadata, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(new.namespace.as_str())
        .bind(&new.agent)
        .bind(&new.title)
        .bind(&new.system_prompt)
        .bind(new.metadata.unwrap_or_else(|| json!({})).to_string())
        .bind(now.unix_micros())
        .bind(now.unix_micros())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        self.get(&new.namespace, id).await
    }

    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Context> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        context_in(&mut conn, namespace, id).await
    }

    async fn list(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Context>> {
        let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let sql = format!(
            "SELECT {CONTEXT_COLUMNS} FROM ctx_contexts WHERE namespace = ? AND id < ? \
             ORDER BY id DESC LIMIT ?"
        );
        let rows = sqlx::query_as::<_, ContextRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            // Past every UUID: the first page has no cursor.
            .bind(after.map_or_else(|| "g".to_owned(), |id| id.to_string()))
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let done = sqlx::query("DELETE FROM ctx_contexts WHERE id = ? AND namespace = ?")
            .bind(id.to_string())
            .bind(namespace.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(context_not_found(id));
        }
        sqlx::query("DELETE FROM ctx_memory WHERE scope_kind = 'context' AND scope_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn fork(&self, namespace: &Namespace, id: Id, at: Id) -> Result<Context> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let source = context_in(&mut tx, namespace, id).await?;
        let end: i64 =
            sqlx::query_scalar("SELECT seq FROM ctx_messages WHERE id = ? AND context_id = ?")
                .bind(at.to_string())
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?
                .ok_or_else(|| message_not_found(at))?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM ctx_messages WHERE context_id = ? AND seq <= ? ORDER BY seq"
        );
        let copied = sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(end)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let fork_id = Id::new();
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO ctx_contexts (id, namespace, agent, title, system_prompt, metadata, \
             forked_from_context, forked_from_message, message_count, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(fork_id.to_string())
        .bind(namespace.as_str())
        .bind(&source.agent)
        .bind(&source.title)
        .bind(&source.system_prompt)
        .bind(source.metadata.to_string())
        .bind(id.to_string())
        .bind(at.to_string())
        .bind(end)
        .bind(now.unix_micros())
        .bind(now.unix_micros())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for row in copied {
            let message = Message {
                id: Id::new(),
                context_id: fork_id,
                ..Message::try_from(row)?
            };
            insert_message(&mut tx, fork_id, &message).await?;
        }
        sqlx::query(
            "INSERT INTO ctx_memory (namespace, scope_kind, scope_id, name, content, limit_chars, updated_at) \
             SELECT namespace, scope_kind, ?, name, content, limit_chars, updated_at FROM ctx_memory \
             WHERE namespace = ? AND scope_kind = 'context' AND scope_id = ?",
        )
        .bind(fork_id.to_string())
        .bind(namespace.as_str())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let context = context_in(&mut tx, namespace, fork_id).await?;
        tx.commit().await.map_err(db)?;
        Ok(context)
    }

    async fn append(
        &self,
        namespace: &Namespace,
        id: Id,
        prepared: PreparedMessage,
    ) -> Result<Message> {
        // IMMEDIATE takes the write lock first: concurrent appends get consecutive seqs.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let context = context_in(&mut tx, namespace, id).await?;
        if let Some(call) = &prepared.message.tool_call_id {
            let made: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM ctx_tool_calls WHERE context_id = ? AND call_id = ?",
            )
            .bind(id.to_string())
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
        sqlx::query("UPDATE ctx_contexts SET message_count = ?, updated_at = ? WHERE id = ?")
            .bind(message.seq as i64)
            .bind(message.created_at.unix_micros())
            .bind(id.to_string())
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
            "SELECT {MESSAGE_COLUMNS} FROM ctx_messages WHERE context_id = ? AND seq > ? \
             ORDER BY seq LIMIT ?"
        );
        sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(after as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(Message::try_from)
            .collect()
    }

    async fn live_messages(&self, namespace: &Namespace, id: Id) -> Result<Vec<Message>> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        context_in(&mut tx, namespace, id).await?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM ctx_messages WHERE context_id = ? AND kind = 'summary' \
             ORDER BY seq DESC LIMIT 1"
        );
        let summary = sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .map(Message::try_from)
            .transpose()?;
        let covered = summary.as_ref().and_then(|s| s.covers_through).unwrap_or(0);
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM ctx_messages WHERE context_id = ? AND kind = 'turn' \
             AND seq > ? ORDER BY seq"
        );
        let turns = sqlx::query_as::<_, MessageRow>(AssertSqlSafe(sql))
            .bind(id.to_string())
            .bind(covered as i64)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        summary
            .map(Ok)
            .into_iter()
            .chain(turns.into_iter().map(Message::try_from))
            .collect()
    }

    async fn put_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
        content: &str,
        limit_chars: u32,
    ) -> Result<MemoryBlock> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        if let MemoryScope::Context(id) = scope {
            context_in(&mut tx, namespace, *id).await?;
        }
        let (kind, scope_id) = scope.parts();
        let now = Timestamp::now();
        sqlx::query(
            "INSERT INTO ctx_memory (namespace, scope_kind, scope_id, name, content, limit_chars, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, scope_kind, scope_id, name) \
             DO UPDATE SET content = excluded.content, limit_chars = excluded.limit_chars, \
             updated_at = excluded.updated_at",
        )
        .bind(namespace.as_str())
        .bind(kind)
        .bind(&scope_id)
        .bind(name)
        .bind(content)
        .bind(i64::from(limit_chars))
        .bind(now.unix_micros())
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
            "SELECT {MEMORY_COLUMNS} FROM ctx_memory WHERE namespace = ? AND scope_kind = ? \
             AND scope_id = ? ORDER BY name"
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
            "DELETE FROM ctx_memory WHERE namespace = ? AND scope_kind = ? AND scope_id = ? AND name = ?",
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
