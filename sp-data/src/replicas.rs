//! Replicas' heartbeats in SQL, written once for both backends and stamped for each by
//! [`replica_store!`].

use async_trait::async_trait;
use sp_core::replicas::{Replica, ReplicaStore};
use sp_core::{Result, Timestamp};
use sqlx::types::Json;

use crate::sql::{DbTime, Dialect, SqlDatabase};

const HEARTBEAT: &str = "INSERT INTO replicas (id, url, models, resident, queue_depth, seen_at, \
     expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (id) DO UPDATE SET url = excluded.url, models = excluded.models, \
     resident = excluded.resident, queue_depth = excluded.queue_depth, \
     seen_at = excluded.seen_at, expires_at = excluded.expires_at";

const LIVE: &str = "SELECT id, url, models, resident, queue_depth, seen_at, expires_at \
     FROM replicas WHERE expires_at > $1 ORDER BY id";

const LEAVE: &str = "DELETE FROM replicas WHERE id = $1 OR expires_at <= $2";

/// Heartbeats of replicas that stopped without leaving (killed, their host gone): removed by
/// any replica's heartbeat once expired this long, so a deployment whose replicas only ever
/// crash (new pod addresses each time) does not keep them forever. An hour, not at once: a
/// replica whose clock runs ahead must not delete live replicas' rows.
const FORGET_AFTER_MICROS: i64 = 3_600_000_000;

const FORGET: &str = "DELETE FROM replicas WHERE expires_at <= $1";

#[derive(sqlx::FromRow)]
struct ReplicaRow {
    id: String,
    url: String,
    models: Json<Vec<String>>,
    resident: Json<Vec<String>>,
    queue_depth: i64,
    seen_at: DbTime,
    expires_at: DbTime,
}

impl From<ReplicaRow> for Replica {
    fn from(row: ReplicaRow) -> Self {
        Replica {
            id: row.id,
            url: row.url,
            models: row.models.0,
            resident: row.resident.0,
            queue_depth: u32::try_from(row.queue_depth).unwrap_or(u32::MAX),
            seen_at: row.seen_at.0,
            expires_at: row.expires_at.0,
        }
    }
}

/// Replicas' heartbeats in a SQL database: useful on PostgreSQL, where several replicas share
/// it; on the embedded file it only ever lists its one process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::replicas::{Replica, ReplicaStore};
/// use sp_core::Timestamp;
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await?;
/// let replicas = sp_data::SqliteReplicaStore::new(&db);
/// let now = Timestamp::now();
/// let later = Timestamp::from_unix_micros(now.unix_micros() + 6_000_000).unwrap();
/// let me = Replica { id: "r1".into(), url: "http://10.0.0.2:8080".into(),
///     models: vec!["smollm2".into()], resident: vec![], queue_depth: 0,
///     seen_at: now, expires_at: later };
/// replicas.heartbeat(&me).await?;
/// assert_eq!(replicas.live(now).await?, vec![me]);
/// assert!(replicas.live(later).await?.is_empty(), "expired");
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqlReplicaStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// Replicas' heartbeats in the embedded SQLite database.
pub type SqliteReplicaStore = SqlReplicaStore<sqlx::Sqlite>;

/// Replicas' heartbeats in PostgreSQL.
#[cfg(feature = "postgres")]
pub type PgReplicaStore = SqlReplicaStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlReplicaStore<DB> {
    /// The heartbeats in `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlReplicaStore {
            pool: db.pool().clone(),
        }
    }
}

/// Stamps [`ReplicaStore`] for one driver.
macro_rules! replica_store {
    ($db:ty) => {
        #[async_trait]
        impl ReplicaStore for SqlReplicaStore<$db> {
            async fn heartbeat(&self, replica: &Replica) -> Result<()> {
                sqlx::query(HEARTBEAT)
                    .bind(&replica.id)
                    .bind(&replica.url)
                    .bind(Json(&replica.models))
                    .bind(Json(&replica.resident))
                    .bind(i64::from(replica.queue_depth))
                    .bind(DbTime(replica.seen_at))
                    .bind(DbTime(replica.expires_at))
                    .execute(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                let forgotten = replica.seen_at.unix_micros() - FORGET_AFTER_MICROS;
                if let Some(before) = Timestamp::from_unix_micros(forgotten) {
                    sqlx::query(FORGET)
                        .bind(DbTime(before))
                        .execute(&self.pool)
                        .await
                        .map_err(<$db as Dialect>::error)?;
                }
                Ok(())
            }

            async fn live(&self, now: Timestamp) -> Result<Vec<Replica>> {
                let rows = sqlx::query_as::<_, ReplicaRow>(LIVE)
                    .bind(DbTime(now))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                Ok(rows.into_iter().map(Replica::from).collect())
            }

            async fn leave(&self, id: &str) -> Result<()> {
                sqlx::query(LEAVE)
                    .bind(id)
                    .bind(DbTime::now())
                    .execute(&self.pool)
                    .await
                    .map(|_| ())
                    .map_err(<$db as Dialect>::error)
            }
        }
    };
}

replica_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
replica_store!(sqlx::Postgres);
