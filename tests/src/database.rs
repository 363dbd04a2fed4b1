//! [`TestDatabase`]: a fresh database on each backend the test script provides, written once
//! for every storage test (an embedded one in a temporary directory, or a PostgreSQL schema of
//! its own, migrated, dropped again by [`TestDatabase::cleanup`]).

use sp_data::Database;

use crate::service_url;

/// A fresh, migrated database for one test.
pub struct TestDatabase {
    /// The database; its stores come from its accessors (`context_store()`, …).
    pub database: Database,
    dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDatabase {
    /// The embedded database in a new temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = Database::Embedded(
            sp_data::SqliteStore::open(dir.path())
                .await
                .expect("open sqlite"),
        );
        TestDatabase {
            database,
            dir: Some(dir),
            schema: None,
        }
    }

    /// A new schema `<prefix>_<uuid>` on the test script's PostgreSQL (`DATABASE_URL`),
    /// migrated.
    pub async fn postgres(prefix: &str) -> Self {
        Self::postgres_with(prefix, |_| {}).await
    }

    /// [`TestDatabase::postgres`] with settings of the caller's (`tune` sees the URL and
    /// schema already set).
    pub async fn postgres_with(
        prefix: &str,
        tune: impl FnOnce(&mut sp_core::config::DatabaseConfig),
    ) -> Self {
        let mut config = sp_core::config::DatabaseConfig {
            url: Some(service_url("DATABASE_URL")),
            schema: format!("{prefix}_{}", sp_core::Id::new().as_uuid().simple()),
            ..Default::default()
        };
        tune(&mut config);
        let database =
            Database::Postgres(sp_data::PgStore::connect_lazy(&config).expect("postgres pool"));
        database.migrate().await.expect("migrate");
        TestDatabase {
            database,
            dir: None,
            schema: Some(config.schema),
        }
    }

    /// The embedded database's directory (`None` on PostgreSQL).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// Drops the PostgreSQL schema (the directory goes with the value).
    pub async fn cleanup(self) {
        if let (Some(schema), Database::Postgres(pg)) = (&self.schema, &self.database) {
            let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(pg.pool())
                .await;
        }
    }
}
