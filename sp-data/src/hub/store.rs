//! The service registry in SQL, written once for both backends (`$N` placeholders, the column
//! types of [`crate::sql`]) and stamped for SQLite and PostgreSQL by [`registry_store!`]; only
//! how each planner is steered through a discovery differs ([`DiscoveryPlan`]).

use async_trait::async_trait;
use sp_core::hub::{
    CheckTarget, Discovery, HealthStatus, Instance, NewInstance, NewService, RegistryStore, Service,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Result, Timestamp};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, QueryBuilder};

use super::rows::{
    DEFAULT_HEALTH_PATH, DiscoveryPlan, InstanceRow, ServiceRow, TargetRow, assemble, expiry,
    filters, labels, service_not_found,
};
use crate::sql::{DbId, DbTime, Dialect, SqlDatabase};

const SERVICE_COLUMNS: &str = "s.id, s.namespace, s.name, s.version, s.description, s.base_url, \
     s.health_path, s.tags, s.capabilities, s.metadata, s.tools, s.canary_percent, s.protocol, \
     s.created_at, s.updated_at";
/// The joined live instance's columns, named apart from the service's.
const JOINED_INSTANCE_COLUMNS: &str = "i.id AS instance_id, i.url, i.ttl_secs, i.expires_at, \
     i.health, i.registered_at";
const INSTANCE_COLUMNS: &str = "i.id, i.url, i.ttl_secs, i.expires_at, i.health, i.registered_at";
/// Whether instance `i` is live at `$1`.
const LIVE: &str = "(i.expires_at IS NULL OR i.expires_at > $1)";

/// The service registry in a SQL database: [`SqliteRegistryStore`] on the embedded file,
/// [`PgRegistryStore`] on PostgreSQL. Liveness is judged by the process clock on both.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::hub::{NewService, RegistryStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let db = sp_data::SqliteStore::open(dir.path()).await.unwrap();
/// let registry = sp_data::SqliteRegistryStore::new(&db);
/// let new: NewService = serde_json::from_value(serde_json::json!({
///     "name": "echo", "version": "1.0.0", "base_url": "http://127.0.0.1:9"})).unwrap();
/// let (service, created) = registry.register(new).await.unwrap();
/// assert!(created);
/// assert_eq!(service.instances.len(), 1);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqlRegistryStore<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
}

/// The service registry in the embedded SQLite database.
pub type SqliteRegistryStore = SqlRegistryStore<sqlx::Sqlite>;

/// The service registry in PostgreSQL, in the configured schema.
#[cfg(feature = "postgres")]
pub type PgRegistryStore = SqlRegistryStore<sqlx::Postgres>;

impl<DB: sqlx::Database> SqlRegistryStore<DB> {
    /// The registry in `db` (migrated when it was opened).
    pub fn new(db: &impl SqlDatabase<Driver = DB>) -> Self {
        SqlRegistryStore {
            pool: db.pool().clone(),
        }
    }
}

/// How each backend's planner is steered through a discovery.
trait Discover {
    const PLAN: DiscoveryPlan;
}

impl Discover for sqlx::Sqlite {
    const PLAN: DiscoveryPlan = DiscoveryPlan {
        label_driven_namespace: "+s.namespace",
        shared_label: "s.id IN ({})",
    };
}

#[cfg(feature = "postgres")]
impl Discover for sqlx::Postgres {
    const PLAN: DiscoveryPlan = DiscoveryPlan {
        label_driven_namespace: "s.namespace",
        shared_label: "s.id = ANY(ARRAY({}))",
    };
}

fn sql(text: String) -> AssertSqlSafe<String> {
    AssertSqlSafe(text)
}

/// Stamps [`RegistryStore`] for one driver; the body is the same SQL and control flow for each.
macro_rules! registry_store {
    ($db:ty) => {
        impl SqlRegistryStore<$db> {
            async fn service_id(
                &self,
                namespace: &Namespace,
                name: &str,
                version: &str,
            ) -> Result<DbId> {
                sqlx::query_scalar::<_, DbId>(
                    "SELECT id FROM hub_services WHERE namespace = $1 AND name = $2 \
                     AND version = $3",
                )
                .bind(namespace.as_str())
                .bind(name)
                .bind(version)
                .fetch_optional(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?
                .ok_or_else(|| service_not_found(name, version))
            }

            async fn replace_labels(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: DbId,
                new: &NewService,
            ) -> Result<()> {
                let db = <$db as Dialect>::error;
                sqlx::query("DELETE FROM hub_labels WHERE service_id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                let labels = labels(new);
                if labels.is_empty() {
                    return Ok(());
                }
                let mut insert = QueryBuilder::<$db>::new(
                    "INSERT INTO hub_labels (service_id, namespace, kind, value) ",
                );
                insert.push_values(labels, |mut row, (kind, value)| {
                    row.push_bind(id)
                        .push_bind(new.namespace.as_str().to_owned())
                        .push_bind(kind)
                        .push_bind(value.to_owned());
                });
                insert.build().execute(&mut *conn).await.map_err(db)?;
                Ok(())
            }

            /// The permanent instance follows `base_url`: dropped when it changes or goes,
            /// (re)made permanent when it is set (a heartbeat instance at that URL is adopted).
            async fn place_base_instance(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: DbId,
                base_url: Option<&str>,
                now: DbTime,
            ) -> Result<()> {
                let db = <$db as Dialect>::error;
                sqlx::query(
                    "DELETE FROM hub_instances WHERE service_id = $1 AND ttl_secs IS NULL \
                     AND url IS DISTINCT FROM $2",
                )
                .bind(id)
                .bind(base_url)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                if let Some(url) = base_url {
                    sqlx::query(
                        "INSERT INTO hub_instances (id, service_id, url, ttl_secs, expires_at, \
                         health, registered_at) VALUES ($1, $2, $3, NULL, NULL, 'unknown', $4) \
                         ON CONFLICT (service_id, url) DO UPDATE SET ttl_secs = NULL, \
                         expires_at = NULL",
                    )
                    .bind(DbId(Id::new()))
                    .bind(id)
                    .bind(url)
                    .bind(now)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                }
                Ok(())
            }
        }

        #[async_trait]
        impl RegistryStore for SqlRegistryStore<$db> {
            async fn register(&self, new: NewService) -> Result<(Service, bool)> {
                let db = <$db as Dialect>::error;
                let now = DbTime::now();
                let fresh = DbId(Id::new());
                let metadata = new.metadata.clone().unwrap_or_else(|| serde_json::json!({}));
                let health_path = new.health_path.as_deref().unwrap_or(DEFAULT_HEALTH_PATH);
                let mut tx = self.pool.begin().await.map_err(db)?;
                // One statement decides new or replaced, so two racing registrations cannot
                // both insert; the row is new exactly when it kept the id offered here.
                let id = sqlx::query_scalar::<_, DbId>(
                    "INSERT INTO hub_services (id, namespace, name, version, description, \
                     base_url, health_path, tags, capabilities, metadata, tools, protocol, \
                     created_at, updated_at, canary_percent) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) \
                     ON CONFLICT (namespace, name, version) DO UPDATE SET \
                     description = excluded.description, base_url = excluded.base_url, \
                     health_path = excluded.health_path, tags = excluded.tags, \
                     capabilities = excluded.capabilities, metadata = excluded.metadata, \
                     tools = excluded.tools, protocol = excluded.protocol, \
                     updated_at = excluded.updated_at, canary_percent = excluded.canary_percent \
                     RETURNING id",
                )
                .bind(fresh)
                .bind(new.namespace.as_str())
                .bind(&new.name)
                .bind(&new.version)
                .bind(&new.description)
                .bind(new.base_url.as_deref())
                .bind(health_path)
                .bind(Json(&new.tags))
                .bind(Json(&new.capabilities))
                .bind(metadata)
                .bind(Json(&new.tools))
                .bind(new.protocol.as_str())
                .bind(now)
                .bind(new.canary_percent.map(i64::from))
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
                Self::replace_labels(&mut tx, id, &new).await?;
                Self::place_base_instance(&mut tx, id, new.base_url.as_deref(), now).await?;
                tx.commit().await.map_err(db)?;
                let service = self.get(&new.namespace, &new.name, &new.version).await?;
                Ok((service, id == fresh))
            }

            async fn get(
                &self,
                namespace: &Namespace,
                name: &str,
                version: &str,
            ) -> Result<Service> {
                let query = Discovery {
                    namespace: namespace.clone(),
                    name: Some(name.to_owned()),
                    ..Discovery::default()
                };
                self.find(&query)
                    .await?
                    .into_iter()
                    .find(|s| s.version == version)
                    .ok_or_else(|| service_not_found(name, version))
            }

            async fn deregister(
                &self,
                namespace: &Namespace,
                name: &str,
                version: &str,
            ) -> Result<()> {
                let deleted = sqlx::query(
                    "DELETE FROM hub_services WHERE namespace = $1 AND name = $2 \
                     AND version = $3",
                )
                .bind(namespace.as_str())
                .bind(name)
                .bind(version)
                .execute(&self.pool)
                .await
                .map_err(<$db as Dialect>::error)?;
                if deleted.rows_affected() == 0 {
                    return Err(service_not_found(name, version));
                }
                Ok(())
            }

            async fn find(&self, query: &Discovery) -> Result<Vec<Service>> {
                let (filter, binds) = filters(query, &<$db as Discover>::PLAN);
                // One statement: one snapshot and one round trip for services and instances.
                let text = format!(
                    "SELECT {SERVICE_COLUMNS}, {JOINED_INSTANCE_COLUMNS} FROM hub_services s \
                     LEFT JOIN hub_instances i ON i.service_id = s.id AND {LIVE} \
                     WHERE {filter} ORDER BY s.name, s.id, i.registered_at, i.id"
                );
                let mut services =
                    sqlx::query_as::<_, ServiceRow>(sql(text)).bind(DbTime::now());
                for bind in binds {
                    services = services.bind(bind);
                }
                assemble(
                    services
                        .fetch_all(&self.pool)
                        .await
                        .map_err(<$db as Dialect>::error)?,
                )
            }

            async fn heartbeat(
                &self,
                namespace: &Namespace,
                name: &str,
                version: &str,
                instance: &NewInstance,
            ) -> Result<Instance> {
                let service_id = self.service_id(namespace, name, version).await?;
                let now = Timestamp::now();
                let ttl = i32::try_from(instance.ttl_secs).map_err(Error::internal)?;
                // A renewal keeps the health of a live instance; one that had expired starts
                // over.
                sqlx::query_as::<_, InstanceRow>(
                    "INSERT INTO hub_instances AS i (id, service_id, url, ttl_secs, expires_at, \
                     health, registered_at) VALUES ($2, $3, $4, $5, $6, 'unknown', $1) \
                     ON CONFLICT (service_id, url) DO UPDATE SET \
                     health = CASE WHEN i.expires_at IS NOT NULL AND i.expires_at <= $1 \
                              THEN 'unknown' ELSE i.health END, \
                     ttl_secs = CASE WHEN i.ttl_secs IS NULL THEN NULL \
                                ELSE excluded.ttl_secs END, \
                     expires_at = CASE WHEN i.ttl_secs IS NULL THEN NULL \
                                  ELSE excluded.expires_at END \
                     RETURNING id, url, ttl_secs, expires_at, health, registered_at",
                )
                    .bind(DbTime(now))
                    .bind(DbId(Id::new()))
                    .bind(service_id)
                    .bind(&instance.url)
                    .bind(ttl)
                    .bind(expiry(now, instance.ttl_secs)?)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .try_into()
            }

            async fn remove_instance(
                &self,
                namespace: &Namespace,
                name: &str,
                version: &str,
                instance: Id,
            ) -> Result<()> {
                let service_id = self.service_id(namespace, name, version).await?;
                let deleted =
                    sqlx::query("DELETE FROM hub_instances WHERE id = $1 AND service_id = $2")
                        .bind(DbId(instance))
                        .bind(service_id)
                        .execute(&self.pool)
                        .await
                        .map_err(<$db as Dialect>::error)?;
                if deleted.rows_affected() == 0 {
                    return Err(Error::NotFound {
                        kind: sp_core::Resource::Instance,
                        id: instance.to_string(),
                    });
                }
                Ok(())
            }

            async fn set_health(&self, instance: Id, health: HealthStatus) -> Result<()> {
                sqlx::query("UPDATE hub_instances SET health = $1 WHERE id = $2")
                    .bind(health.as_str())
                    .bind(DbId(instance))
                    .execute(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                Ok(())
            }

            async fn live_instances(&self) -> Result<Vec<CheckTarget>> {
                let text = format!(
                    "SELECT s.namespace, s.name, s.version, s.health_path, s.protocol, \
                     {INSTANCE_COLUMNS} FROM hub_instances i \
                     JOIN hub_services s ON s.id = i.service_id WHERE {LIVE}"
                );
                sqlx::query_as::<_, TargetRow>(sql(text))
                    .bind(DbTime::now())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?
                    .into_iter()
                    .map(CheckTarget::try_from)
                    .collect()
            }

            async fn service_health(&self) -> Result<Vec<HealthStatus>> {
                let text = format!(
                    "SELECT s.id, i.health FROM hub_services s \
                     LEFT JOIN hub_instances i ON i.service_id = s.id AND {LIVE}"
                );
                let rows = sqlx::query_as::<_, (DbId, Option<String>)>(sql(text))
                    .bind(DbTime::now())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                super::rows::service_health(rows)
            }

            async fn purge_expired(&self) -> Result<u64> {
                let done = sqlx::query("DELETE FROM hub_instances WHERE expires_at <= $1")
                    .bind(DbTime::now())
                    .execute(&self.pool)
                    .await
                    .map_err(<$db as Dialect>::error)?;
                Ok(done.rows_affected())
            }
        }
    };
}

registry_store!(sqlx::Sqlite);
#[cfg(feature = "postgres")]
registry_store!(sqlx::Postgres);
