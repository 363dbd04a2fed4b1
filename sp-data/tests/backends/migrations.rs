//! Migration status on both backends: a new database has every migration pending and
//! nothing is created by asking; an opened one is current; a migration changed after it was
//! applied, or one this build does not know, is listed and refused at open with `SP-CFG-002`.

use sp_core::{Config, ErrorCode};
use sp_data::{Backends, MigrationStatus, PgStore, SqliteStore};

/// Changes applied migration 3's checksum and adds an applied migration 9999.
const TAMPER: [&str; 2] = [
    "UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = 3",
    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
     VALUES (9999, 'from a newer build', TRUE, '\\x01', 0)",
];

fn assert_tampered(status: &MigrationStatus) {
    let versions = |infos: &[sp_data::MigrationInfo]| -> Vec<i64> {
        infos.iter().map(|m| m.version).collect()
    };
    assert_eq!(versions(&status.drifted), [3], "{status:?}");
    assert_eq!(versions(&status.unknown), [9999], "{status:?}");
    let err = status.check().expect_err("drift");
    assert_eq!(err.code(), ErrorCode::MigrationDrift);
    assert!(
        err.to_string().contains("changed since applied: 3 ("),
        "{err}"
    );
}

#[tokio::test]
async fn sqlite_status_drift_and_refusal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fresh = SqliteStore::migration_status(dir.path())
        .await
        .expect("status");
    assert!(
        fresh.applied.is_empty() && fresh.pending.len() >= 16,
        "{fresh:?}"
    );
    assert!(
        !dir.path().join(sp_data::DATABASE_FILE).exists(),
        "asking creates nothing"
    );
    let store = SqliteStore::open(dir.path()).await.expect("open");
    let current = SqliteStore::migration_status(dir.path())
        .await
        .expect("status");
    assert!(current.is_current(), "{current:?}");
    assert_eq!(current.applied.len(), fresh.pending.len());

    for statement in TAMPER {
        // SQLite spells a blob X'00'.
        let statement = statement
            .replace("'\\x00'", "X'00'")
            .replace("'\\x01'", "X'01'");
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(store.pool())
            .await
            .expect("tamper");
    }
    drop(store);
    assert_tampered(
        &SqliteStore::migration_status(dir.path())
            .await
            .expect("status"),
    );
    let refused = SqliteStore::open(dir.path()).await.expect_err("refused");
    assert_eq!(refused.code(), ErrorCode::MigrationDrift, "{refused}");
}

#[tokio::test]
async fn postgres_status_drift_and_refusal() {
    let mut config = Config::default();
    config.database.url = Some(sp_tests::service_url("DATABASE_URL"));
    config.database.schema = format!("migrations_{}", sp_core::Id::new().as_uuid().simple());
    let fresh = Backends::migration_status(&config).await.expect("status");
    assert_eq!(fresh.backend, "postgres");
    assert!(
        fresh.applied.is_empty() && fresh.pending.len() >= 10,
        "{fresh:?}"
    );
    let store = PgStore::connect_lazy(&config.database).expect("pool");
    store.migrate().await.expect("migrate");
    let current = store.migration_status().await.expect("status");
    assert!(current.is_current(), "{current:?}");

    for statement in TAMPER {
        sqlx::query(statement)
            .execute(store.pool())
            .await
            .expect("tamper");
    }
    assert_tampered(&Backends::migration_status(&config).await.expect("status"));
    let refused = store.migrate().await.expect_err("refused");
    assert_eq!(refused.code(), ErrorCode::MigrationDrift, "{refused}");
    let drop_schema = format!("DROP SCHEMA \"{}\" CASCADE", config.database.schema);
    sqlx::query(sqlx::AssertSqlSafe(drop_schema))
        .execute(store.pool())
        .await
        .expect("drop schema");
}
