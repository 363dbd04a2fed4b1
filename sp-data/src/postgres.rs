//! PostgreSQL (with pgvector) for production deployments.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sp_core::config::DatabaseConfig;
use sp_core::health::HealthCheck;
use sp_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::sqlx_error;
use crate::migrations::{MigrationStatus, applied_rows};

/// This build's migrations of the PostgreSQL schema.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A PostgreSQL connection pool.
///
/// The pool connects lazily: the server starts while the database is still down and its ready
/// check reports it; once the database answers, new connections succeed without a restart.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The standby's, when `database.read_url` is set: knowledge searches go there.
    read_pool: Option<PgPool>,
    schema: String,
    /// `WITH (m = …, ef_construction = …)` for the HNSW index, from validated integers.
    hnsw_build: String,
}

/// A pool on `url` (named `key` in errors) that connects on first use, each connection set up
/// for sp's schema and pgvector's search settings.
fn lazy_pool(url: &str, key: &str, config: &DatabaseConfig) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(url).map_err(|err| Error::Config {
        key: key.into(),
        reason: format!("not a valid PostgreSQL URL: {err}"),
    })?;
    // Our tables live in their own schema; `public` stays visible for the extension. Set
    // per connection, not as a startup option: PgBouncer refuses `options` at startup. A
    // validated name (a-z, 0-9, `_`), so quoting it into the statement is safe.
    let search_path = format!("SET search_path TO \"{}\", public", config.schema);
    let ef_search = config.hnsw_ef_search.clamp(1, 1000);
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
        .after_connect(move |conn, _| {
            let search_path = search_path.clone();
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(search_path))
                    .execute(&mut *conn)
                    .await?;
                // Filtered vector searches keep scanning the HNSW graph until enough rows
                // pass the filter, instead of returning fewer than k.
                sqlx::query("SET hnsw.iterative_scan = strict_order")
                    .execute(&mut *conn)
                    .await?;
                // A validated integer: formatting it into the statement is safe (SET
                // takes no bind parameters).
                let ef_search = format!("SET hnsw.ef_search = {ef_search}");
                sqlx::query(sqlx::AssertSqlSafe(ef_search))
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect_lazy_with(options))
}

impl PgStore {
    /// Builds the pool from `config.url`; fails only when the URL itself is malformed.
    ///
    /// ```
    /// let mut config = sp_core::config::DatabaseConfig::default();
    /// config.url = Some("postgres://sp@127.0.0.1:1/sp".into());
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// assert!(sp_data::PgStore::connect_lazy(&config).is_ok(), "nothing is contacted yet");
    /// # });
    /// ```
    pub fn connect_lazy(config: &DatabaseConfig) -> Result<Self> {
        let url = config.url.as_deref().ok_or_else(|| Error::Config {
            key: "database.url".into(),
            reason: "is not set".into(),
        })?;
        let pool = lazy_pool(url, "database.url", config)?;
        let read_pool = config
            .read_url
            .as_deref()
            .map(|url| lazy_pool(url, "database.read_url", config))
            .transpose()?;
        Ok(PgStore {
            pool,
            read_pool,
            schema: config.schema.clone(),
            hnsw_build: format!(
                "WITH (m = {}, ef_construction = {})",
                config.hnsw_m.clamp(2, 100),
                config.hnsw_ef_construction.clamp(4, 1000)
            ),
        })
    }

    /// The pool of the standby searches go to (`database.read_url`), if one is configured.
    pub fn read_pool(&self) -> Option<&PgPool> {
        self.read_pool.as_ref()
    }

    /// Creates the schema and the pgvector extension when missing and applies the pending
    /// migrations (concurrent callers wait on PostgreSQL's advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        let create_schema = format!("CREATE SCHEMA IF NOT EXISTS \"{}\"", self.schema);
        sqlx::query(sqlx::AssertSqlSafe(create_schema))
            .execute(&self.pool)
            .await
            .map_err(|err| sqlx_error("postgres", err))?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
            .execute(&self.pool)
            .await
            .map_err(|err| sqlx_error("postgres", err))?;
        // A schema changed under this build, or written by a newer one, is refused before
        // anything is migrated.
        self.migration_status().await?.check()?;
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|err| Error::internal(format!("postgres migrations: {err}")))
    }

    /// One upkeep round of the time-partitioned tables (events and audit entries by day,
    /// usage by month) as of `today`: the current period's partition and the next three made
    /// when missing, and rows the default partition caught moved to theirs. The server runs
    /// it hourly; replicas take turns on an advisory lock.
    ///
    /// ```no_run
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let config = sp_core::config::DatabaseConfig {
    /// #     url: Some("postgres://localhost/sp".into()),
    /// #     ..Default::default()
    /// # };
    /// let pg = sp_data::PgStore::connect_lazy(&config)?;
    /// pg.migrate().await?;
    /// for table in pg.upkeep_partitions(chrono::Utc::now().date_naive()).await? {
    ///     println!("{}: made {:?}", table.table, table.created);
    /// }
    /// # Ok::<(), sp_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn upkeep_partitions(
        &self,
        today: chrono::NaiveDate,
    ) -> Result<Vec<crate::PartitionUpkeep>> {
        let mut done = Vec::new();
        for table in &crate::partitions::ALL {
            done.push(crate::partitions::upkeep(&self.pool, table, today).await?);
        }
        Ok(done)
    }

    /// The schema's migrations against this build's, read without migrating (a missing
    /// schema has every migration pending).
    pub async fn migration_status(&self) -> Result<MigrationStatus> {
        // Our schema's table only: another application's in `public` is not ours.
        let applied = applied_rows!(
            &self.pool,
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_name = '_sqlx_migrations')"
            )
            .bind(&self.schema)
        );
        Ok(MigrationStatus::compare(
            "postgres",
            format!("schema `{}`", self.schema),
            &MIGRATOR,
            applied,
        ))
    }

    /// The schema holding our tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The statement that creates the knowledge store's HNSW index over `dimensions`-wide
    /// vectors, with the configured build parameters (`database.hnsw_m`,
    /// `database.hnsw_ef_construction`).
    pub(crate) fn create_vector_index(&self, dimensions: usize, if_not_exists: bool) -> String {
        let guard = if if_not_exists { "IF NOT EXISTS " } else { "" };
        format!(
            "CREATE INDEX {guard}kb_sections_embedding ON kb_sections \
             USING hnsw ((embedding::vector({dimensions})) vector_cosine_ops) {}",
            self.hnsw_build
        )
    }

    /// The connection pool, for the stores built on this database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl HealthCheck for PgStore {
    fn name(&self) -> &str {
        "postgres"
    }

    async fn check(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|err| sqlx_error("postgres", err))
    }
}
