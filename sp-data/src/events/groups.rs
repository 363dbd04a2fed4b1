//! Consumer groups and dead letters, written once for both backends and stamped for each
//! event store by [`group_store!`].

use async_trait::async_trait;
use sp_core::events::{DeadLetter, Event, Group, GroupStore, NewGroup};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Page, PageRequest, Result};
use sqlx::AssertSqlSafe;

use super::rows::{DeadLetterRow, group_unknown, letters_page};
use crate::sql::{DbId, DbTime, Dialect};

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
    created_at: DbTime,
}

impl GroupRow {
    fn into_group(self) -> Result<Group> {
        Ok(Group {
            namespace: Namespace::new(self.namespace)?,
            name: self.name,
            stream: self.stream,
            committed: u64::try_from(self.committed).map_err(Error::internal)?,
            created_at: self.created_at.0,
        })
    }
}

/// Stamps [`GroupStore`] for one event store and its driver.
macro_rules! group_store {
    ($store:ty, $db:ty) => {
        impl $store {
async fn group_in(conn: &mut <$db as sqlx::Database>::Connection, namespace: &Namespace, name: &str) -> Result<Group> {
    sqlx::query_as::<_, GroupRow>(
        "SELECT namespace, name, stream, committed, created_at FROM event_groups \
         WHERE namespace = $1 AND name = $2",
    )
    .bind(namespace.as_str())
    .bind(name)
    .fetch_optional(conn)
    .await
    .map_err(<$db as Dialect>::error)?
    .ok_or_else(|| group_unknown(name))?
    .into_group()
}

/// Moves the group to `offset` if that is its next event: past its committed offset, not
/// past the stream's head, and with no retained event of the stream in between (retention
/// may have removed the ones right after the committed offset).
async fn commit_in(
    conn: &mut <$db as sqlx::Database>::Connection,
    namespace: &Namespace,
    name: &str,
    offset: u64,
) -> Result<()> {
    let offset = i64::try_from(offset).map_err(Error::internal)?;
    let moved = sqlx::query(
        "UPDATE event_groups SET committed = $1 WHERE namespace = $2 AND name = $3 \
         AND committed < $1 \
         AND $1 <= COALESCE((SELECT head FROM event_streams s \
             WHERE s.namespace = $2 AND s.stream = event_groups.stream), 0) \
         AND NOT EXISTS (SELECT 1 FROM events e WHERE e.namespace = $2 \
             AND e.stream = event_groups.stream AND e.\"offset\" > event_groups.committed \
             AND e.\"offset\" < $1)",
    )
    .bind(offset)
    .bind(namespace.as_str())
    .bind(name)
    .execute(&mut *conn)
    .await
    .map_err(<$db as Dialect>::error)?;
    if moved.rows_affected() == 0 {
        let group = Self::group_in(conn, namespace, name).await?;
        let next: Option<i64> = sqlx::query_scalar(
            "SELECT min(\"offset\") FROM events WHERE namespace = $1 AND stream = $2 \
             AND \"offset\" > $3",
        )
        .bind(namespace.as_str())
        .bind(&group.stream)
        .bind(i64::try_from(group.committed).map_err(Error::internal)?)
        .fetch_one(&mut *conn)
        .await
        .map_err(<$db as Dialect>::error)?;
        let next = next.map(|n| u64::try_from(n).map_err(Error::internal)).transpose()?;
        return Err(sp_core::events::not_next_event(name, group.committed, next));
    }
    sqlx::query(
        "DELETE FROM event_attempts WHERE namespace = $1 AND group_name = $2 AND \"offset\" = $3",
    )
    .bind(namespace.as_str())
    .bind(name)
    .bind(offset)
    .execute(conn)
    .await
    .map_err(<$db as Dialect>::error)?;
    Ok(())
}

        }

#[async_trait]
impl GroupStore for $store {
    async fn create_group(&self, group: &NewGroup, committed: u64) -> Result<Group> {
        let created = sqlx::query(
            "INSERT INTO event_groups (namespace, name, stream, committed, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(group.namespace.as_str())
        .bind(&group.name)
        .bind(&group.stream)
        .bind(i64::try_from(committed).map_err(Error::internal)?)
        .bind(DbTime::now())
        .execute(self.pool())
        .await
        .map_err(<$db as Dialect>::error)?;
        if created.rows_affected() == 0 {
            return Err(Error::Conflict(format!("group `{}` exists", group.name)));
        }
        self.group(&group.namespace, &group.name).await
    }

    async fn group(&self, namespace: &Namespace, name: &str) -> Result<Group> {
        let mut conn = self.pool().acquire().await.map_err(<$db as Dialect>::error)?;
        Self::group_in(&mut conn, namespace, name).await
    }

    async fn commit(&self, namespace: &Namespace, name: &str, offset: u64) -> Result<Group> {
        let mut tx = self.pool().begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(<$db as Dialect>::error)?;
        Self::commit_in(&mut tx, namespace, name, offset).await?;
        let group = Self::group_in(&mut tx, namespace, name).await?;
        tx.commit().await.map_err(<$db as Dialect>::error)?;
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
             DO UPDATE SET attempts = event_attempts.attempts + 1, last_error = excluded.last_error \
             RETURNING attempts",
        )
        .bind(namespace.as_str())
        .bind(name)
        .bind(i64::try_from(offset).map_err(Error::internal)?)
        .bind(reason)
        .fetch_one(self.pool())
        .await
        .map_err(<$db as Dialect>::error)?;
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
        let mut tx = self.pool().begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(<$db as Dialect>::error)?;
        sqlx::query(
            "INSERT INTO event_dead_letters (id, namespace, group_name, event_id, reason, \
             attempts, dead_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(DbId(id))
        .bind(namespace.as_str())
        .bind(name)
        .bind(DbId(event.id))
        .bind(reason)
        .bind(i32::try_from(attempts).map_err(Error::internal)?)
        .bind(DbTime::now())
        .execute(&mut *tx)
        .await
        .map_err(<$db as Dialect>::error)?;
        Self::commit_in(&mut tx, namespace, name, event.offset).await?;
        tx.commit().await.map_err(<$db as Dialect>::error)?;
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
            "{LETTER} WHERE d.namespace = $1 AND ($2 IS NULL OR d.group_name = $3) AND d.id < $4 \
             ORDER BY d.id DESC LIMIT $5"
        );
        let rows = sqlx::query_as::<_, DeadLetterRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(group)
            .bind(group)
            .bind(DbId::before(after))
            .bind(i64::from(page.limit) + 1)
            .fetch_all(self.pool())
            .await
            .map_err(<$db as Dialect>::error)?;
        letters_page(rows, page)
    }

    async fn dead_letter_by_id(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        let sql = format!("{LETTER} WHERE d.namespace = $1 AND d.id = $2");
        sqlx::query_as::<_, DeadLetterRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(DbId(id))
            .fetch_optional(self.pool())
            .await
            .map_err(<$db as Dialect>::error)?
            .ok_or_else(|| Error::NotFound {
                kind: sp_core::Resource::DeadLetter,
                id: id.to_string(),
            })?
            .into_letter()
    }

    async fn redrive(&self, namespace: &Namespace, id: Id) -> Result<DeadLetter> {
        sqlx::query(
            "UPDATE event_dead_letters SET redriven_at = $1, resolved_at = NULL \
             WHERE namespace = $2 AND id = $3",
        )
        .bind(DbTime::now())
        .bind(namespace.as_str())
        .bind(DbId(id))
        .execute(self.pool())
        .await
        .map_err(<$db as Dialect>::error)?;
        self.dead_letter_by_id(namespace, id).await
    }

    async fn redriven(&self, namespace: &Namespace, group: &str) -> Result<Vec<DeadLetter>> {
        let sql = format!(
            "{LETTER} WHERE d.namespace = $1 AND d.group_name = $2 AND d.redriven_at IS NOT NULL \
             AND d.resolved_at IS NULL ORDER BY d.id"
        );
        sqlx::query_as::<_, DeadLetterRow>(AssertSqlSafe(sql))
            .bind(namespace.as_str())
            .bind(group)
            .fetch_all(self.pool())
            .await
            .map_err(<$db as Dialect>::error)?
            .into_iter()
            .map(DeadLetterRow::into_letter)
            .collect()
    }

    async fn settle(&self, id: Id, delivered: bool, reason: &str) -> Result<()> {
        let now = DbTime::now();
        let query = if delivered {
            sqlx::query("UPDATE event_dead_letters SET resolved_at = $1 WHERE id = $2")
                .bind(now)
                .bind(DbId(id))
        } else {
            sqlx::query(
                "UPDATE event_dead_letters SET redriven_at = NULL, attempts = attempts + 1, \
                 dead_at = $1, reason = $2 WHERE id = $3",
            )
            .bind(now)
            .bind(reason)
            .bind(DbId(id))
        };
        query.execute(self.pool()).await.map_err(<$db as Dialect>::error)?;
        Ok(())
    }
}
    };
}

group_store!(super::SqliteEventStore, sqlx::Sqlite);
#[cfg(feature = "postgres")]
group_store!(super::PgEventStore, sqlx::Postgres);
