//! The service registry in PostgreSQL.

use async_trait::async_trait;
use sp_core::hub::{
    CheckTarget, Discovery, HealthStatus, Instance, NewInstance, NewService, RegistryStore, Service,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Result};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};

use super::rows::{
    DEFAULT_HEALTH_PATH, InstanceRow, ServiceRow, TargetRow, assemble, filters, json_columns,
    labels, service_not_found,
};
use crate::PgStore;
use crate::error::sqlx_error;

const MICROS: &str = "(extract(epoch FROM {}) * 1000000)::int8";

fn micros(column: &str) -> String {
    MICROS.replace("{}", column)
}

fn service_columns() -> String {
    format!(
        "s.id::text AS id, s.namespace, s.name, s.version, s.description, s.base_url, \
         s.health_path, s.tags::text AS tags, s.capabilities::text AS capabilities, \
         s.metadata::text AS metadata, s.tools::text AS tools, s.protocol, {} AS created_at, \
         {} AS updated_at",
        micros("s.created_at"),
        micros("s.updated_at")
    )
}

fn instance_columns() -> String {
    format!(
        "i.id::text AS id, i.url, i.ttl_secs::int8 AS ttl_secs, \
         {} AS expires_at, i.health, {} AS registered_at",
        micros("i.expires_at"),
        micros("i.registered_at")
    )
}

const LIVE: &str = "(i.expires_at IS NULL OR i.expires_at > now())";

/// A service's live instances as a JSON array, in registration order.
fn instances_json() -> String {
    format!(
        "(SELECT coalesce(json_agg(json_build_object('id', i.id::text, 'url', i.url, \
         'ttl_secs', i.ttl_secs, 'expires_at', {}, 'health', i.health, 'registered_at', {}) \
         ORDER BY i.registered_at, i.id), '[]')::text \
         FROM hub_instances i WHERE i.service_id = s.id AND {LIVE})",
        micros("i.expires_at"),
        micros("i.registered_at")
    )
}

fn db(err: sqlx::Error) -> Error {
    sqlx_error("postgres", err)
}

/// The service registry in PostgreSQL, in the configured schema.
///
/// ```no_run
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let config = sp_core::config::DatabaseConfig {
///     url: Some("postgres://localhost/sp".into()),
///     ..Default::default()
/// };
/// let pg = sp_data::PgStore::connect_lazy(&config)?;
/// pg.migrate().await?;
/// let registry = sp_data::PgRegistryStore::new(&pg);
/// # Ok::<(), sp_core::Error>(())
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct PgRegistryStore {
    pool: PgPool,
}

impl PgRegistryStore {
    /// The registry in `pg` (migrated when it was opened).
    pub fn new(pg: &PgStore) -> Self {
        PgRegistryStore {
            pool: pg.pool().clone(),
        }
    }

    async fn service_id(
        &self,
        namespace: &Namespace,
        name: &str,
        version: &str,
    ) -> Result<sqlx::types::Uuid> {
        sqlx::query_scalar::<_, sqlx::types::Uuid>(
            "SELECT id FROM hub_services WHERE namespace = $1 AND name = $2 AND version = $3",
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

async fn replace_labels(
    conn: &mut PgConnection,
    id: sqlx::types::Uuid,
    new: &NewService,
) -> Result<()> {
    sqlx::query("DELETE FROM hub_labels WHERE service_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let labels = labels(new);
    if labels.is_empty() {
        return Ok(());
    }
    let (kinds, values): (Vec<&str>, Vec<&str>) = labels.into_iter().unzip();
    sqlx::query(
        "INSERT INTO hub_labels (service_id, namespace, kind, value) \
         SELECT $1, $2, kind, value FROM UNNEST($3::text[], $4::text[]) AS l(kind, value)",
    )
    .bind(id)
    .bind(new.namespace.as_str())
    .bind(kinds)
    .bind(values)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

async fn place_base_instance(
    conn: &mut PgConnection,
    id: sqlx::types::Uuid,
    base_url: Option<&str>,
) -> Result<()> {
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
            "INSERT INTO hub_instances (id, service_id, url, ttl_secs, expires_at, health, \
             registered_at) VALUES ($1, $2, $3, NULL, NULL, 'unknown', now()) \
             ON CONFLICT (service_id, url) DO UPDATE SET ttl_secs = NULL, expires_at = NULL",
        )
        .bind(Id::new().as_uuid())
        .bind(id)
        .bind(url)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl RegistryStore for PgRegistryStore {
    async fn register(&self, new: NewService) -> Result<(Service, bool)> {
        let [tags, capabilities, metadata, tools] = json_columns(&new)?;
        let health_path = new.health_path.as_deref().unwrap_or(DEFAULT_HEALTH_PATH);
        let mut tx = self.pool.begin().await.map_err(db)?;
        // `xmax = 0` only for a freshly inserted row: new or replaced in one statement.
        let (id, created) = sqlx::query_as::<_, (sqlx::types::Uuid, bool)>(
            "INSERT INTO hub_services (id, namespace, name, version, description, base_url, \
             health_path, tags, capabilities, metadata, tools, protocol, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11::jsonb, \
             $12, now(), now()) \
             ON CONFLICT (namespace, name, version) DO UPDATE SET \
             description = excluded.description, base_url = excluded.base_url, \
             health_path = excluded.health_path, tags = excluded.tags, \
             capabilities = excluded.capabilities, metadata = excluded.metadata, \
             tools = excluded.tools, protocol = excluded.protocol, \
             updated_at = excluded.updated_at \
             RETURNING id, (xmax = 0) AS created",
        )
        .bind(Id::new().as_uuid())
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
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        replace_labels(&mut tx, id, &new).await?;
        place_base_instance(&mut tx, id, new.base_url.as_deref()).await?;
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
            "DELETE FROM hub_services WHERE namespace = $1 AND name = $2 AND version = $3",
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
        let (filter, binds) = filters(
            query,
            |n| format!("${n}"),
            "s.namespace",
            "s.id = ANY(ARRAY({}))",
        );
        let sql = format!(
            "SELECT {}, {} AS instances FROM hub_services s WHERE {filter} \
             ORDER BY s.name, s.id",
            service_columns(),
            instances_json()
        );
        let mut services = sqlx::query_as::<_, ServiceRow>(AssertSqlSafe(sql));
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
        // The database's clock decides expiry, like every liveness read.
        let sql = format!(
            "INSERT INTO hub_instances AS i (id, service_id, url, ttl_secs, expires_at, health, \
             registered_at) VALUES ($1, $2, $3, $4::int4, now() + $4::int4 * interval '1 second', 'unknown', \
             now()) \
             ON CONFLICT (service_id, url) DO UPDATE SET \
             health = CASE WHEN i.expires_at IS NOT NULL AND i.expires_at <= now() \
                      THEN 'unknown' ELSE i.health END, \
             ttl_secs = CASE WHEN i.ttl_secs IS NULL THEN NULL ELSE excluded.ttl_secs END, \
             expires_at = CASE WHEN i.ttl_secs IS NULL THEN NULL ELSE excluded.expires_at END \
             RETURNING {}",
            instance_columns()
        );
        let row = sqlx::query_as::<_, InstanceRow>(AssertSqlSafe(sql))
            .bind(Id::new().as_uuid())
            .bind(service_id)
            .bind(&instance.url)
            .bind(instance.ttl_secs as i32)
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
        let deleted = sqlx::query("DELETE FROM hub_instances WHERE id = $1 AND service_id = $2")
            .bind(instance.as_uuid())
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
        sqlx::query("UPDATE hub_instances SET health = $1 WHERE id = $2")
            .bind(health.as_str())
            .bind(instance.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn live_instances(&self) -> Result<Vec<CheckTarget>> {
        let sql = format!(
            "SELECT s.namespace, s.name, s.version, s.health_path, s.protocol, {} \
             FROM hub_instances i JOIN hub_services s ON s.id = i.service_id WHERE {LIVE}",
            instance_columns()
        );
        sqlx::query_as::<_, TargetRow>(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(CheckTarget::try_from)
            .collect()
    }

    async fn service_health(&self) -> Result<Vec<HealthStatus>> {
        let sql = format!(
            "SELECT s.id::text, i.health FROM hub_services s \
             LEFT JOIN hub_instances i ON i.service_id = s.id AND {LIVE}"
        );
        let rows = sqlx::query_as::<_, (String, Option<String>)>(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        super::rows::service_health(rows)
    }

    async fn purge_expired(&self) -> Result<u64> {
        let done = sqlx::query("DELETE FROM hub_instances WHERE expires_at <= now()")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
