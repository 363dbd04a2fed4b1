//! The service registry in the embedded SQLite database.

use async_trait::async_trait;
use sp_core::hub::{
    CheckTarget, Discovery, HealthStatus, Instance, NewInstance, NewService, RegistryStore, Service,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Result, Timestamp};
use sqlx::{AssertSqlSafe, SqliteConnection, SqlitePool};

use super::rows::{
    DEFAULT_HEALTH_PATH, InstanceRow, ServiceRow, TargetRow, assemble, expiry, filters,
    json_columns, labels, service_not_found,
};
use crate::SqliteStore;
use crate::error::sqlx_error;

const SERVICE_COLUMNS: &str = "s.id, s.namespace, s.name, s.version, s.description, s.base_url, \
     s.health_path, s.tags, s.capabilities, s.metadata, s.tools, s.protocol, s.created_at, \
     s.updated_at";
const INSTANCE_COLUMNS: &str = "i.id, i.url, i.ttl_secs, i.expires_at, i.health, i.registered_at";
const LIVE: &str = "(i.expires_at IS NULL OR i.expires_at > ?)";
/// A service's live instances as a JSON array, in registration order.
const INSTANCES_JSON: &str = "(SELECT json_group_array(json_object('id', i.id, 'url', i.url, \
     'ttl_secs', i.ttl_secs, 'expires_at', i.expires_at, 'health', i.health, \
     'registered_at', i.registered_at) ORDER BY i.registered_at, i.id) \
     FROM hub_instances i WHERE i.service_id = s.id \
     AND (i.expires_at IS NULL OR i.expires_at > ?))";

fn db(err: sqlx::Error) -> Error {
    sqlx_error("sqlite", err)
}

/// The service registry in the embedded SQLite database.
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
pub struct SqliteRegistryStore {
    pool: SqlitePool,
}

impl SqliteRegistryStore {
    /// The registry in `db` (its migrations created the tables).
    pub fn new(db: &SqliteStore) -> Self {
        SqliteRegistryStore {
            pool: db.pool().clone(),
        }
    }

    async fn service_id(&self, namespace: &Namespace, name: &str, version: &str) -> Result<String> {
        sqlx::query_scalar::<_, String>(
            "SELECT id FROM hub_services WHERE namespace = ? AND name = ? AND version = ?",
        )
        .bind(namespace.as_str())
        .bind(name)
        .bind(version)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .ok_or_else(|| service_not_found(name, version))
    }
}

async fn replace_labels(conn: &mut SqliteConnection, id: &str, new: &NewService) -> Result<()> {
    sqlx::query("DELETE FROM hub_labels WHERE service_id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let labels = labels(new);
    if labels.is_empty() {
        return Ok(());
    }
    let values = vec!["(?, ?, ?, ?)"; labels.len()].join(", ");
    let sql =
        format!("INSERT INTO hub_labels (service_id, namespace, kind, value) VALUES {values}");
    let mut insert = sqlx::query(AssertSqlSafe(sql));
    for (kind, value) in labels {
        insert = insert
            .bind(id)
            .bind(new.namespace.as_str())
            .bind(kind)
            .bind(value);
    }
    insert.execute(&mut *conn).await.map_err(db)?;
    Ok(())
}

/// The permanent instance follows `base_url`: dropped when it changes or goes, (re)made
/// permanent when it is set (a heartbeat instance at that URL is adopted).
async fn place_base_instance(
    conn: &mut SqliteConnection,
    id: &str,
    base_url: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "DELETE FROM hub_instances WHERE service_id = ? AND ttl_secs IS NULL \
         AND url IS NOT ?",
    )
    .bind(id)
    .bind(base_url)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if let Some(url) = base_url {
        sqlx::query(
            "INSERT INTO hub_instances (id, service_id, url, ttl_secs, expires_at, health, \
             registered_at) VALUES (?, ?, ?, NULL, NULL, 'unknown', ?) \
             ON CONFLICT (service_id, url) DO UPDATE SET ttl_secs = NULL, expires_at = NULL",
        )
        .bind(Id::new().to_string())
        .bind(id)
        .bind(url)
        .bind(now.unix_micros())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl RegistryStore for SqliteRegistryStore {
    async fn register(&self, new: NewService) -> Result<(Service, bool)> {
        let now = Timestamp::now();
        let [tags, capabilities, metadata, tools] = json_columns(&new)?;
        let health_path = new.health_path.as_deref().unwrap_or(DEFAULT_HEALTH_PATH);
        let mut tx = self.pool.begin().await.map_err(db)?;
        // One statement decides new or replaced, so two racing registrations cannot both
        // insert; `created_at` is only ours when the row is new.
        let (id, created_at) = sqlx::query_as::<_, (String, i64)>(
            "INSERT INTO hub_services (id, namespace, name, version, description, base_url, \
             health_path, tags, capabilities, metadata, tools, protocol, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (namespace, name, version) DO UPDATE SET \
             description = excluded.description, base_url = excluded.base_url, \
             health_path = excluded.health_path, tags = excluded.tags, \
             capabilities = excluded.capabilities, metadata = excluded.metadata, \
             tools = excluded.tools, protocol = excluded.protocol, \
             updated_at = excluded.updated_at \
             RETURNING id, created_at",
        )
        .bind(Id::new().to_string())
        .bind(new.namespace.as_str())
        .bind(&new.name)
        .bind(&new.version)
        .bind(&new.description)
        .bind(new.base_url.as_deref())
        .bind(health_path)
        .bind(tags)
        .bind(capabilities)
        .bind(metadata)
        .bind(tools)
        .bind(new.protocol.as_str())
        .bind(now.unix_micros())
        .bind(now.unix_micros())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let created = created_at == now.unix_micros();
        replace_labels(&mut tx, &id, &new).await?;
        place_base_instance(&mut tx, &id, new.base_url.as_deref(), now).await?;
        tx.commit().await.map_err(db)?;
        let service = self.get(&new.namespace, &new.name, &new.version).await?;
        Ok((service, created))
    }

    async fn get(&self, namespace: &Namespace, name: &str, version: &str) -> Result<Service> {
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

    async fn deregister(&self, namespace: &Namespace, name: &str, version: &str) -> Result<()> {
        let deleted = sqlx::query(
            "DELETE FROM hub_services WHERE namespace = ? AND name = ? AND version = ?",
        )
        .bind(namespace.as_str())
        .bind(name)
        .bind(version)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if deleted.rows_affected() == 0 {
            return Err(service_not_found(name, version));
        }
        Ok(())
    }

    async fn find(&self, query: &Discovery) -> Result<Vec<Service>> {
        let (filter, binds) = filters(query, |_| "?".to_owned(), "+s.namespace", "s.id IN ({})");
        let sql = format!(
            "SELECT {SERVICE_COLUMNS}, {INSTANCES_JSON} AS instances \
             FROM hub_services s WHERE {filter} ORDER BY s.name, s.id"
        );
        let mut services = sqlx::query_as::<_, ServiceRow>(AssertSqlSafe(sql))
            .bind(Timestamp::now().unix_micros());
        for bind in &binds {
            services = services.bind(bind);
        }
        assemble(services.fetch_all(&self.pool).await.map_err(db)?)
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
        // A renewal keeps the health of a live instance; one that had expired starts over.
        let row = sqlx::query_as::<_, InstanceRow>(
            "INSERT INTO hub_instances AS i (id, service_id, url, ttl_secs, expires_at, health, \
             registered_at) VALUES (?, ?, ?, ?, ?, 'unknown', ?) \
             ON CONFLICT (service_id, url) DO UPDATE SET \
             health = CASE WHEN i.expires_at IS NOT NULL AND i.expires_at <= ? \
                      THEN 'unknown' ELSE i.health END, \
             ttl_secs = CASE WHEN i.ttl_secs IS NULL THEN NULL ELSE excluded.ttl_secs END, \
             expires_at = CASE WHEN i.ttl_secs IS NULL THEN NULL ELSE excluded.expires_at END \
             RETURNING service_id, id, url, ttl_secs, expires_at, health, registered_at",
        )
        .bind(Id::new().to_string())
        .bind(&service_id)
        .bind(&instance.url)
        .bind(i64::from(instance.ttl_secs))
        .bind(expiry(now, instance.ttl_secs))
        .bind(now.unix_micros())
        .bind(now.unix_micros())
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        row.try_into()
    }

    async fn remove_instance(
        &self,
        namespace: &Namespace,
        name: &str,
        version: &str,
        instance: Id,
    ) -> Result<()> {
        let service_id = self.service_id(namespace, name, version).await?;
        let deleted = sqlx::query("DELETE FROM hub_instances WHERE id = ? AND service_id = ?")
            .bind(instance.to_string())
            .bind(service_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        if deleted.rows_affected() == 0 {
            return Err(Error::NotFound {
                kind: "instance",
                id: instance.to_string(),
            });
        }
        Ok(())
    }

    async fn set_health(&self, instance: Id, health: HealthStatus) -> Result<()> {
        sqlx::query("UPDATE hub_instances SET health = ? WHERE id = ?")
            .bind(health.as_str())
            .bind(instance.to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn live_instances(&self) -> Result<Vec<CheckTarget>> {
        let sql = format!(
            "SELECT s.namespace, s.name, s.version, s.health_path, s.protocol, {INSTANCE_COLUMNS} \
             FROM hub_instances i JOIN hub_services s ON s.id = i.service_id WHERE {LIVE}"
        );
        sqlx::query_as::<_, TargetRow>(AssertSqlSafe(sql))
            .bind(Timestamp::now().unix_micros())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(CheckTarget::try_from)
            .collect()
    }

    async fn service_health(&self) -> Result<Vec<HealthStatus>> {
        let sql = format!(
            "SELECT s.id, i.health FROM hub_services s \
             LEFT JOIN hub_instances i ON i.service_id = s.id AND {LIVE}"
        );
        let rows = sqlx::query_as::<_, (String, Option<String>)>(AssertSqlSafe(sql))
            .bind(Timestamp::now().unix_micros())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        super::rows::service_health(rows)
    }

    async fn purge_expired(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM hub_instances WHERE expires_at <= ?")
            .bind(Timestamp::now().unix_micros())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
