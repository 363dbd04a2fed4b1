//! Real connections to every backend: embedded SQLite, the script's PostgreSQL and Redis.

use std::time::Duration;

use sp_core::health::{HealthCheck, run_checks};
use sp_core::{Config, ErrorCode};
use sp_data::{Backends, Database, PgStore, RedisStore, SqliteStore};

#[tokio::test]
async fn embedded_store_creates_its_file_and_reports_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("a/b");
    let store = SqliteStore::open(&nested).await.expect("open");
    store.check().await.expect("healthy");
    assert!(nested.join(sp_data::DATABASE_FILE).is_file());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn embedded_store_refuses_unusable_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let err = SqliteStore::open(&file)
        .await
        .expect_err("a file is not a directory");
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    assert!(err.to_string().contains("data_dir"), "{err}");
}

#[tokio::test]
async fn postgres_has_pgvector() {
    let mut config = Config::default();
    config.database.url = Some(sp_tests::service_url("DATABASE_URL"));
    let store = PgStore::connect_lazy(&config.database).expect("pool");
    store.check().await.expect("postgres answers");
    let version: String =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            .fetch_one(store.pool())
            .await
            .expect("pgvector is installed in the database");
    assert!(!version.is_empty());
    let distance: f64 = sqlx::query_scalar("SELECT '[1,0]'::vector <=> '[0,1]'::vector")
        .fetch_one(store.pool())
        .await
        .expect("vector operators work");
    assert!(
        (distance - 1.0).abs() < 1e-9,
        "cosine distance of orthogonal vectors: {distance}"
    );
}

#[tokio::test]
async fn postgres_connections_carry_the_hnsw_settings() {
    let mut config = Config::default();
    config.database.url = Some(sp_tests::service_url("DATABASE_URL"));
    config.database.hnsw_ef_search = 77;
    let store = PgStore::connect_lazy(&config.database).expect("pool");
    let settings: (String, String) = sqlx::query_as(
        "SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan')",
    )
    .fetch_one(store.pool())
    .await
    .expect("settings");
    assert_eq!(settings, ("77".to_owned(), "strict_order".to_owned()));
}

#[tokio::test]
async fn postgres_vector_index_is_built_with_the_configured_parameters() {
    let db = sp_tests::TestDatabase::postgres_with("hnsw_build", |config| {
        config.hnsw_m = 12;
        config.hnsw_ef_construction = 40;
    })
    .await;
    db.database.document_store(8).await.expect("store");
    let sp_data::Database::Postgres(pg) = &db.database else {
        panic!("a PostgreSQL test database");
    };
    let options: Vec<String> = sqlx::query_scalar(
        "SELECT unnest(c.reloptions) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relname = 'kb_sections_embedding' AND n.nspname = $1 ORDER BY 1",
    )
    .bind(pg.schema())
    .fetch_all(pg.pool())
    .await
    .expect("index options");
    db.cleanup().await;
    assert_eq!(options, ["ef_construction=40", "m=12"]);
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_not_a_panic() {
    let mut config = Config::default();
    config.database.url = Some("postgres://sp:sp@127.0.0.1:1/sp".into());
    config.database.acquire_timeout_secs = 1;
    let store = PgStore::connect_lazy(&config.database).expect("lazy pool");
    let err = store.check().await.expect_err("nothing listens on port 1");
    assert_eq!(err.code(), ErrorCode::Unavailable, "{err}");
}

#[tokio::test]
async fn redis_answers_and_round_trips() {
    use fred::prelude::KeysInterface;

    let store = RedisStore::connect(&sp_tests::service_url("REDIS_URL")).expect("client");
    let checks: Vec<std::sync::Arc<dyn HealthCheck>> = vec![std::sync::Arc::new(store.clone())];
    let mut healthy = false;
    for _ in 0..50 {
        if run_checks(&checks, Duration::from_secs(1))
            .await
            .is_healthy()
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "redis never became healthy");
    let key = format!("sp-test:{}", sp_core::Id::new());
    let () = store
        .client()
        .set(&key, "value", None, None, false)
        .await
        .expect("set");
    let got: Option<String> = store.client().get(&key).await.expect("get");
    assert_eq!(got.as_deref(), Some("value"));
    let _: i64 = store.client().del(&key).await.expect("del");
}

#[tokio::test]
async fn bad_urls_are_config_errors() {
    let err = RedisStore::connect("redis://[::1").expect_err("malformed");
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    let mut config = Config::default();
    config.database.url = Some("postgres://user@host:notaport/db".into());
    let err = PgStore::connect_lazy(&config.database).expect_err("malformed");
    assert_eq!(err.code(), ErrorCode::InvalidConfig);
    assert!(err.to_string().contains("database.url"), "{err}");
}

#[tokio::test]
async fn backends_follow_the_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.database.url = Some(sp_tests::service_url("DATABASE_URL"));
    config.redis.url = Some(sp_tests::service_url("REDIS_URL"));
    let backends = Backends::open(&config).await.expect("open");
    assert!(matches!(backends.database, Database::Postgres(_)));
    let names: Vec<String> = backends
        .health_checks()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    assert_eq!(names, ["postgres", "redis"]);
    assert!(
        !dir.path().join(sp_data::DATABASE_FILE).exists(),
        "no embedded file when PostgreSQL is configured"
    );
}

/// One call opens every store of a database, migrating once; the stores work, and reopening
/// with another vector width is refused instead of mixing widths.
async fn stores_open_with_one_call(database: sp_data::Database) {
    use sp_core::context::NewContext;
    let stores = database.open_stores(8).await.expect("stores");
    assert_eq!(stores.documents.dimensions(), 8);
    let ctx = stores
        .contexts
        .create(NewContext::default())
        .await
        .expect("context");
    let read = stores
        .contexts
        .get(&ctx.namespace, ctx.id)
        .await
        .expect("read back");
    assert_eq!(read.id, ctx.id);
    assert!(stores.keys.list().await.expect("keys").is_empty());
    let again = database
        .open_stores(8)
        .await
        .expect("reopen, already migrated");
    assert_eq!(again.documents.dimensions(), 8);
    let err = database.open_stores(16).await.expect_err("another width");
    assert_eq!(err.code(), sp_core::ErrorCode::DimensionMismatch, "{err}");
}

#[tokio::test]
async fn sqlite_stores_open_with_one_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sp_data::SqliteStore::open(dir.path())
        .await
        .expect("sqlite");
    stores_open_with_one_call(sp_data::Database::Embedded(db)).await;
}

#[tokio::test]
async fn postgres_stores_open_with_one_call() {
    let mut config = Config::default();
    config.database.url = Some(sp_tests::service_url("DATABASE_URL"));
    config.database.schema = format!("stores_test_{}", sp_core::Id::new().as_uuid().simple());
    let pg = PgStore::connect_lazy(&config.database).expect("pool");
    stores_open_with_one_call(sp_data::Database::Postgres(pg.clone())).await;
    let drop = format!("DROP SCHEMA \"{}\" CASCADE", config.database.schema);
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(pg.pool())
        .await
        .expect("drop schema");
}

/// A reservation's unused part goes back, on Redis (shared by every process) and in process
/// alike; a refund never fills a budget past its quota.
#[tokio::test]
async fn refunds_give_back_unused_reservations_on_every_limiter() {
    use sp_core::auth::{LocalRateLimiter, Quota, RateLimiter};

    let store = RedisStore::connect(&sp_tests::service_url("REDIS_URL")).expect("client");
    assert!(
        store.wait_connected(Duration::from_secs(5)).await,
        "redis is up"
    );
    let redis = sp_data::RedisRateLimiter::new(&store, Duration::from_secs(2));
    let limiters: [(&str, &dyn RateLimiter); 2] =
        [("redis", &redis), ("local", &LocalRateLimiter::default())];
    let quota: Quota = "100/h".parse().expect("quota");
    for (name, limiter) in limiters {
        let key = format!("refund-test:{}", sp_core::Id::new());
        assert!(
            limiter.spend(&key, &quota, 80, false).await.allowed,
            "{name}"
        );
        assert!(
            !limiter.spend(&key, &quota, 30, false).await.allowed,
            "{name}"
        );
        limiter.refund(&key, &quota, 50).await;
        assert_eq!(
            limiter.spend(&key, &quota, 0, false).await.remaining,
            70,
            "{name}"
        );
        limiter.refund(&key, &quota, 1_000).await;
        assert_eq!(
            limiter.spend(&key, &quota, 0, false).await.remaining,
            100,
            "{name}"
        );
    }
}

#[path = "backends/migrations.rs"]
mod migrations;
#[path = "backends/partitions.rs"]
mod partitions;
#[path = "backends/replicas.rs"]
mod replicas;
#[path = "backends/standby_reads.rs"]
mod standby_reads;
#[path = "backends/transfer.rs"]
mod transfer;
