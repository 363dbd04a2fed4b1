//! Consumer groups and dead letters in PostgreSQL.

use async_trait::async_trait;
use sp_core::events::{DeadLetter, Event, Group, GroupStore, NewGroup};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Page, PageRequest, Result};
use sqlx::{AssertSqlSafe, PgConnection};

use super::postgres::PgEventStore;
use super::rows::{DeadLetterRow, group_unknown, letters_page};
use crate::error::{sqlx_error, stored_time};

fn micros(column: &str) -> String {
    format!("(extract(epoch FROM {column}) * 1000000)::int8")
}

fn db(err: sqlx::Error) -> Error {
    sqlx_error("postgres", err)
}

fn letter() -> String {
    format!(
        "SELECT d.id::text AS dl_id, d.group_name, d.reason, d.attempts::int8 AS attempts, \
         {} AS dead_at, {} AS redriven_at, {} AS resolved_at, e.seq, e.id::text AS id, \
         e.namespace, e.stream, e.\"offset\" AS \"offset\", e.type AS event_type, e.source, \
         e.subject, {} AS time, e.correlation_id, e.schema_version::int8 AS schema_version, \
         e.data::text AS data FROM event_dead_letters d JOIN events e ON e.id = d.event_id",
        micros("d.dead_at"),
        micros("d.redriven_at"),
        micros("d.resolved_at"),
        micros("e.time")
    )
}

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

async fn group_in(conn: &mut PgConnection, namespace: &Namespace, name: &str) -> Result<Group> {
    sqlx::query_as::<_, GroupRow>(
        "SELECT namespace, name, stream, committed, \
         (extract(epoch FROM created_at) * 1000000)::int8 AS created_at FROM event_groups \
         WHERE namespace = $1 AND name = $2",
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
    conn: &mut PgConnection,
    namespace: &Namespace,
    name: &str,
    offset: u64,
) -> Result<()> {
    let offset = i64::try_from(offset).map_err(Error::internal)?;
    let moved = sqlx::query(
        "UPDATE event_groups SET committed = $1 WHERE namespace = $2 AND name = $3 \
         AND committed = $4",
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
        "DELETE FROM event_attempts WHERE namespace = $1 AND group_name = $2 AND \"offset\" = $3",
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
impl GroupStore for PgEventStore {
    async fn create_group(&self, group: &NewGroup, committed: u64) -> Result<Group> {
        let created = sqlx::query(
            "INSERT INTO event_groups (namespace, name, stream, committed, created_at) \
             VALUES ($1, $2, $3, $4, now()) ON CONFLICT DO NOTHING",
        )
        .bind(group.namespace.as_str())
        .bind(&group.name)
        .bind(&group.stream)
        .bind(i64::try_from(committed).map_err(Error::internal)?)
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
        let attempts: i32 = sqlx::query_scalar(
            "INSERT INTO event_attempts (namespace, group_name, \"offset\", attempts, last_error) \
             VALUES ($1, $2, $3, 1, $4) ON CONFLICT (namespace, group_name, \"offset\") \
             DO UPDATE SET attempts = event_attempts.attempts + 1, \
             last_error = excluded.last_error RETURNING attempts",
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
             attempts, dead_at) VALUES ($1, $2, $3, $4, $5, $6, now())",
        )
        .bind(id.as_uuid())
        .bind(namespace.as_str())
        .bind(name)
        .bind(event.id.as_uuid())
        .bind(reason)
        .bind(i32::try_from(attempts).map_err(Error::internal)?)
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
        let after: Option<Id> = after.map(|a| a.parse()).transpose()?;
        let sql = format!(
            "{} WHERE d.namespace = $1 AND ($2::text IS NULL OR d.group_name = $2) \
             AND ($3::uuid IS NULL OR d.id < $3) ORDER BY d.id DESC LIMIT $4",
            letter()
        );
        let rows = sqlx::query_as::<_, DeadLetterRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(group)
            .bind(after.map(|a| a.as_uuid()))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        letters_page(rows, page)
    }

    async fn dead_letter_by_id(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        let sql = format!("{} WHERE d.namespace = $1 AND d.id = $2", letter());
        sqlx::query_as::<_, DeadLetterRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(id.as_uuid())
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
            "UPDATE event_dead_letters SET redriven_at = now(), resolved_at = NULL \
             WHERE namespace = $1 AND id = $2",
        )
        .bind(namespace.as_str())
        .bind(id.as_uuid())
        .execute(self.pool())
        .await
        .map_err(db)?;
        self.dead_letter_by_id(namespace, id).await
    }

    async fn redriven(&self, namespace: &Namespace, group: &str) -> Result<Vec<DeadLetter>> {
        let sql = format!(
            "{} WHERE d.namespace = $1 AND d.group_name = $2 AND d.redriven_at IS NOT NULL \
             AND d.resolved_at IS NULL ORDER BY d.id",
            letter()
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
        let query = if delivered {
            sqlx::query("UPDATE event_dead_letters SET resolved_at = now() WHERE id = $1")
                .bind(id.as_uuid())
        } else {
            sqlx::query(
                "UPDATE event_dead_letters SET redriven_at = NULL, attempts = attempts + 1, \
                 dead_at = now(), reason = $1 WHERE id = $2",
            )
            .bind(reason)
            .bind(id.as_uuid())
        };
        query.execute(self.pool()).await.map_err(db)?;
        Ok(())
    }
}
