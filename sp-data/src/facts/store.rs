//! Facts in SQL, written once for both backends and stamped for SQLite and PostgreSQL by
//! [`fact_store!`]. Recording an observation reads the current fact of its subject and
//! attribute under the write lock and merges, supersedes or adds in the same transaction.

use async_trait::async_trait;
use sp_core::facts::{
    Fact, FactKey, FactStore, FactView, IndexedFact, NewFact, Recorded, topic_taken,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Result, Timestamp};
use sqlx::AssertSqlSafe;

use super::rows::{FACT_COLUMNS, FactRow, IndexedRow, fact_unknown, vector_bytes};
use crate::sql::{DbId, DbTime, Dialect, SqlDatabase};

/// Facts in a SQL database: [`SqliteFactStore`] on the embedded file, [`PgFactStore`] on
/// PostgreSQL.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::context::{ContextStore, NewContext};
/// use sp_core::facts::{FactStore, NewFact};
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let ctx = sp_data::SqliteContextStore::new(&db).create(NewContext::default()).await?;
/// let store = sp_data::SqliteFactStore::new(&db);
/// let fact = NewFact::new("user", "city", "Oslo");
/// let key = fact.validate()?;
/// let recorded = store.record(&ctx.namespace, ctx.id, &fact, &key, None, sp_core::Timestamp::now()).await?;
/// assert_eq!(recorded.fact().value, "Oslo");
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlFactStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// Facts in the embedded SQLite database.
pub type SqliteFactStore = SqlFactStore<sqlx::Sqlite>;

/// Facts in PostgreSQL, in the configured schema.
#[cfg(feature = "postgres")]
pub type PgFactStore = SqlFactStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlFactStore<DB> {
    /// The facts of `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlFactStore {
            pool: db.pool().clone(),
        }
    }
}

fn context_unknown(id: Id) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Context,
        id: id.to_string(),
    }
}

/// The filter of a view (`$3` is its instant where it has one).
fn view_filter(view: FactView) -> &'static str {
    match view {
        FactView::Current => "valid_to IS NULL",
        FactView::AsOf(_) => "valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)",
        FactView::History => "TRUE",
    }
}

/// Stamps [`FactStore`] for one driver; the body is the same SQL for each.
macro_rules! fact_store {
    ($db:ty) => {
        impl SqlFactStore<$db> {
            async fn fact_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                namespace: &Namespace,
                id: Id,
                lock: bool,
            ) -> Result<FactRow> {
                let lock = if lock { <$db as Dialect>::LOCK_ROWS } else { "" };
                let row: Option<FactRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {FACT_COLUMNS} FROM ctx_facts WHERE id = $1 AND namespace = $2{lock}"
                )))
                .bind(DbId(id))
                .bind(namespace.as_str())
                .fetch_optional(conn)
                .await
                .map_err(<$db as Dialect>::error)?;
                row.ok_or_else(|| fact_unknown(id))
            }

            async fn insert(
                conn: &mut <$db as sqlx::Database>::Connection,
                fact: &Fact,
                key: &FactKey,
                vector: Option<&[f32]>,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO ctx_facts (id, namespace, context_id, subject, attribute, value, \
                     subject_key, attribute_key, value_key, confidence, mentions, source_message, \
                     vector, valid_from, valid_to, superseded_by, updated_at) VALUES ($1, $2, $3, $4, \
                     $5, $6, $7, $8, $9, $10, 1, $11, $12, $13, NULL, NULL, $13)",
                )
                .bind(DbId(fact.id))
                .bind(fact.namespace.as_str())
                .bind(DbId(fact.context_id))
                .bind(&fact.subject)
                .bind(&fact.attribute)
                .bind(&fact.value)
                .bind(&key.subject)
                .bind(&key.attribute)
                .bind(&key.value)
                .bind(fact.confidence)
                .bind(fact.source_message.map(DbId))
                .bind(vector.map(vector_bytes))
                .bind(DbTime(fact.valid_from))
                .execute(conn)
                .await
                .map_err(<$db as Dialect>::error)?;
                Ok(())
            }
        }

        #[async_trait]
        impl FactStore for SqlFactStore<$db> {
            async fn record(
                &self,
                namespace: &Namespace,
                context_id: Id,
                fact: &NewFact,
                key: &FactKey,
                vector: Option<Vec<f32>>,
                at: Timestamp,
            ) -> Result<Recorded> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                let owner: Option<(String,)> =
                    sqlx::query_as("SELECT namespace FROM ctx_contexts WHERE id = $1")
                        .bind(DbId(context_id))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                if owner.map(|(ns,)| ns).as_deref() != Some(namespace.as_str()) {
                    return Err(context_unknown(context_id));
                }
                let current: Option<FactRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {FACT_COLUMNS} FROM ctx_facts WHERE context_id = $1 AND subject_key = $2 \
                     AND attribute_key = $3 AND valid_to IS NULL{}",
                    <$db as Dialect>::LOCK_ROWS
                )))
                .bind(DbId(context_id))
                .bind(&key.subject)
                .bind(&key.attribute)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
                let recorded = match current {
                    Some(row) if row.value_key == key.value => {
                        let id = Fact::try_from(row)?.id;
                        sqlx::query(
                            "UPDATE ctx_facts SET mentions = mentions + 1, confidence = CASE WHEN \
                             confidence < $2 THEN $2 ELSE confidence END, updated_at = $3 WHERE id = $1",
                        )
                        .bind(DbId(id))
                        .bind(fact.confidence)
                        .bind(DbTime(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        let merged = Self::fact_in(&mut tx, namespace, id, false).await?;
                        Recorded::Merged { fact: merged.try_into()? }
                    }
                    Some(row) => {
                        let mut previous = Fact::try_from(row)?;
                        let added = Fact::observed(namespace, context_id, fact, at);
                        previous.valid_to = Some(at.max(previous.valid_from));
                        previous.superseded_by = Some(added.id);
                        previous.updated_at = at;
                        sqlx::query(
                            "UPDATE ctx_facts SET valid_to = $2, superseded_by = $3, updated_at = $4 \
                             WHERE id = $1",
                        )
                        .bind(DbId(previous.id))
                        .bind(previous.valid_to.map(DbTime))
                        .bind(DbId(added.id))
                        .bind(DbTime(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        Self::insert(&mut tx, &added, key, vector.as_deref()).await?;
                        Recorded::Superseded { fact: added, previous: Box::new(previous) }
                    }
                    None => {
                        let added = Fact::observed(namespace, context_id, fact, at);
                        Self::insert(&mut tx, &added, key, vector.as_deref()).await?;
                        Recorded::Added { fact: added }
                    }
                };
                tx.commit().await.map_err(db)?;
                Ok(recorded)
            }

            async fn list(
                &self,
                namespace: &Namespace,
                context_id: Id,
                view: FactView,
                limit: u32,
            ) -> Result<Vec<Fact>> {
                let text = format!(
                    "SELECT {FACT_COLUMNS} FROM ctx_facts WHERE namespace = $1 AND context_id = $2 \
                     AND {} ORDER BY valid_from DESC, id DESC LIMIT {limit}",
                    view_filter(view)
                );
                let query = sqlx::query_as::<_, FactRow>(AssertSqlSafe(text))
                    .bind(namespace.as_str())
                    .bind(DbId(context_id));
                let query = match view {
                    FactView::AsOf(at) => query.bind(DbTime(at)),
                    FactView::Current | FactView::History => query,
                };
                let rows = query
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                rows.into_iter().map(Fact::try_from).collect()
            }

            async fn indexed(
                &self,
                namespace: &Namespace,
                context_id: Id,
                limit: u32,
            ) -> Result<Vec<IndexedFact>> {
                let rows: Vec<IndexedRow> = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT {FACT_COLUMNS}, vector FROM ctx_facts WHERE namespace = $1 \
                     AND context_id = $2 AND valid_to IS NULL ORDER BY valid_from DESC, id DESC \
                     LIMIT {limit}"
                )))
                .bind(namespace.as_str())
                .bind(DbId(context_id))
                .fetch_all(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                rows.into_iter().map(IndexedFact::try_from).collect()
            }

            async fn get(&self, namespace: &Namespace, id: Id) -> Result<Fact> {
                let mut conn = self.pool.acquire().await.map_err(<$db as Dialect>::error)?;
                Self::fact_in(&mut conn, namespace, id, false).await?.try_into()
            }

            async fn edit(
                &self,
                namespace: &Namespace,
                id: Id,
                fact: &NewFact,
                key: &FactKey,
                vector: Option<Vec<f32>>,
            ) -> Result<Fact> {
                let db = <$db as Dialect>::error;
                let mut tx = self.pool.begin_with(<$db as Dialect>::BEGIN_WRITE).await.map_err(db)?;
                let stored = Fact::try_from(Self::fact_in(&mut tx, namespace, id, true).await?)?;
                if stored.is_current() {
                    let clash: Option<(DbId,)> = sqlx::query_as(
                        "SELECT id FROM ctx_facts WHERE context_id = $1 AND subject_key = $2 \
                         AND attribute_key = $3 AND valid_to IS NULL AND id <> $4",
                    )
                    .bind(DbId(stored.context_id))
                    .bind(&key.subject)
                    .bind(&key.attribute)
                    .bind(DbId(id))
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                    if clash.is_some() {
                        return Err(topic_taken(key));
                    }
                }
                sqlx::query(
                    "UPDATE ctx_facts SET subject = $2, attribute = $3, value = $4, subject_key = $5, \
                     attribute_key = $6, value_key = $7, confidence = $8, vector = $9, updated_at = $10 \
                     WHERE id = $1",
                )
                .bind(DbId(id))
                .bind(fact.subject.trim())
                .bind(fact.attribute.trim())
                .bind(fact.value.trim())
                .bind(&key.subject)
                .bind(&key.attribute)
                .bind(&key.value)
                .bind(fact.confidence)
                .bind(vector.as_deref().map(vector_bytes))
                .bind(DbTime::now())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                let edited = Self::fact_in(&mut tx, namespace, id, false).await?;
                tx.commit().await.map_err(db)?;
                edited.try_into()
            }

            async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
                let done = sqlx::query("DELETE FROM ctx_facts WHERE id = $1 AND namespace = $2")
                    .bind(DbId(id))
                    .bind(namespace.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                if done.rows_affected() == 0 {
                    return Err(fact_unknown(id));
                }
                Ok(())
            }
        }
    };
}

fact_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
fact_store!(sqlx::Postgres);
