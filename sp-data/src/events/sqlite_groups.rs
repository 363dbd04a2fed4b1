//! Consumer groups and dead letters in the embedded database.

use async_trait::async_trait;
use sp_core::events::{DeadLetter, Event, Group, GroupStore, NewGroup};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Page, PageRequest, Result, Timestamp};
use sqlx::{AssertSqlSafe, SqliteConnection};

use super::rows::{DeadLetterRow, group_unknown, letters_page};
use super::sqlite::SqliteEventStore;
use crate::error::{sqlx_error, stored_time};

fn db(err: sqlx::Error) -> Error {
    sqlx_error("sqlite", err)
}

const LETTER: &str = "SELECT d.id AS dl_id, d.group_name, d.reason, d.attempts, d.dead_at, \
     d.redriven_at, d.resolved_at, e.seq, e.id, e.namespace, e.stream, e.\"offset\" AS \"offset\", \
     e.type AS event_type, e.source, e.subject, e.time, e.correlation_id, e.schema_version, \
     e.data FROM event_dead_letters d JOIN events e ON e.id = d.event_id";

#[derive(sqlx::FromRow)]
struct GroupRow {
    namespace: String,
    name: String,
    stream: String,
    committed: i64,
    created_at: i64,
}

impl GroupRow {
    fn into_group(self) -> Result<Group> {
        Ok(Group {
            namespace: Namespace::new(self.namespace)?,
            name: self.name,
            stream: self.stream,
            committed: u64::try_from(self.committed).map_err(Error::internal)?,
            created_at: stored_time(self.created_at)?,
        })
    }
}

async fn group_in(conn: &mut SqliteConnection, namespace: &Namespace, name: &str) -> Result<Group> {
    sqlx::query_as::<_, GroupRow>(
        "SELECT namespace, name, stream, committed, created_at FROM event_groups \
         WHERE namespace = ? AND name = ?",
    )
    .bind(namespace.as_str())
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .ok_or_else(|| group_unknown(name))?
    .into_group()
}

/// Moves the group to `offset` if it is at `offset - 1`.
async fn commit_in(
    conn: &mut SqliteConnection,
    namespace: &Namespace,
    name: &str,
    offset: u64,
) -> Result<()> {
    let offset = i64::try_from(offset).map_err(Error::internal)?;
    let moved = sqlx::query(
        "UPDATE event_groups SET committed = ? WHERE namespace = ? AND name = ? AND committed = ?",
    )
    .bind(offset)
    .bind(namespace.as_str())
    .bind(name)
    .bind(offset - 1)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if moved.rows_affected() == 0 {
        let group = group_in(conn, namespace, name).await?;
        return Err(Error::Conflict(format!(
            "group `{name}` is at offset {}; only {} can be committed",
            group.committed,
            group.committed + 1
        )));
    }
    sqlx::query(
        "DELETE FROM event_attempts WHERE namespace = ? AND group_name = ? AND \"offset\" = ?",
    )
    .bind(namespace.as_str())
    .bind(name)
    .bind(offset)
    .execute(conn)
    .await
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl GroupStore for SqliteEventStore {
    async fn create_group(&self, group: &NewGroup, committed: u64) -> Result<Group> {
        let created = sqlx::query(
            "INSERT INTO event_groups (namespace, name, stream, committed, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(group.namespace.as_str())
        .bind(&group.name)
        .bind(&group.stream)
        .bind(i64::try_from(committed).map_err(Error::internal)?)
        .bind(Timestamp::now().unix_micros())
        .execute(self.pool())
        .await
        .map_err(db)?;
        if created.rows_affected() == 0 {
            return Err(Error::Conflict(format!("group `{}` exists", group.name)));
        }
        self.group(&group.namespace, &group.name).await
    }

    async fn group(&self, namespace: &Namespace, name: &str) -> Result<Group> {
        let mut conn = self.pool().acquire().await.map_err(db)?;
        group_in(&mut conn, namespace, name).await
    }

    async fn commit(&self, namespace: &Namespace, name: &str, offset: u64) -> Result<Group> {
        let mut tx = self.pool().begin().await.map_err(db)?;
        commit_in(&mut tx, namespace, name, offset).await?;
        let group = group_in(&mut tx, namespace, name).await?;
        tx.commit().await.map_err(db)?;
        Ok(group)
    }

    async fn record_failure(
        &self,
        namespace: &Namespace,
        name: &str,
        offset: u64,
        reason: &str,
    ) -> Result<u32> {
        let attempts: i64 = sqlx::query_scalar(
            "INSERT INTO event_attempts (namespace, group_name, \"offset\", attempts, last_error) \
             VALUES (?, ?, ?, 1, ?) ON CONFLICT (namespace, group_name, \"offset\") \
             DO UPDATE SET attempts = attempts + 1, last_error = excluded.last_error \
             RETURNING attempts",
        )
        .bind(namespace.as_str())
        .bind(name)
        .bind(i64::try_from(offset).map_err(Error::internal)?)
        .bind(reason)
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        u32::try_from(attempts).map_err(Error::internal)
    }

    async fn dead_letter(
        &self,
        namespace: &Namespace,
        name: &str,
        event: &Event,
        reason: &str,
        attempts: u32,
    ) -> Result<DeadLetter> {
        let id = Id::new();
        let mut tx = self.pool().begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO event_dead_letters (id, namespace, group_name, event_id, reason, \
             attempts, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(namespace.as_str())
        .bind(name)
        .bind(event.id.to_string())
        .bind(reason)
        .bind(i64::from(attempts))
        .bind(Timestamp::now().unix_micros())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        commit_in(&mut tx, namespace, name, event.offset).await?;
        tx.commit().await.map_err(db)?;
        self.dead_letter_by_id(namespace, id).await
    }

    async fn dead_letters(
        &self,
        namespace: &Namespace,
        group: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<DeadLetter>> {
        let after: Option<String> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let sql = format!(
            "{LETTER} WHERE d.namespace = ? AND (? IS NULL OR d.group_name = ?) AND d.id < ? \
             ORDER BY d.id DESC LIMIT ?"
        );
        let rows = sqlx::query_as::<_, DeadLetterRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(group)
            .bind(group)
            .bind(after.unwrap_or_else(|| "g".into()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        letters_page(rows, page)
    }

    async fn dead_letter_by_id(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        let sql = format!("{LETTER} WHERE d.namespace = ? AND d.id = ?");
        sqlx::query_as::<_, DeadLetterRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?
            .ok_or_else(|| Error::NotFound {
                kind: "dead letter",
                id: id.to_string(),
            })?
            .into_letter()
    }

    async fn redrive(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        sqlx::query(
            "UPDATE event_dead_letters SET redriven_at = ?, resolved_at = NULL \
             WHERE namespace = ? AND id = ?",
        )
        .bind(Timestamp::now().unix_micros())
        .bind(namespace.as_str())
        .bind(id.to_string())
        .execute(self.pool())
        .await
        .map_err(db)?;
        self.dead_letter_by_id(namespace, id).await
    }

    async fn redriven(&self, namespace: &Namespace, group: &str) -> Result<Vec<DeadLetter>> {
        let sql = format!(
            "{LETTER} WHERE d.namespace = ? AND d.group_name = ? AND d.redriven_at IS NOT NULL \
             AND d.resolved_at IS NULL ORDER BY d.id"
        );
        sqlx::query_as::<_, DeadLetterRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(group)
            .fetch_all(self.pool())
            .await
            .map_err(db)?
            .into_iter()
            .map(DeadLetterRow::into_letter)
            .collect()
    }

    async fn settle(&self, id: Id, delivered: bool, reason: &str) -> Result<()> {
        let now = Timestamp::now().unix_micros();
        let query = if delivered {
            sqlx::query("UPDATE event_dead_letters SET resolved_at = ? WHERE id = ?")
                .bind(now)
                .bind(id.to_string())
        } else {
            sqlx::query(
                "UPDATE event_dead_letters SET redriven_at = NULL, attempts = attempts + 1, \
                 dead_at = ?, reason = ? WHERE id = ?",
            )
            .bind(now)
            .bind(reason)
            .bind(id.to_string())
        };
        query.execute(self.pool()).await.map_err(db)?;
        Ok(())
    }
}
