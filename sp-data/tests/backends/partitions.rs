//! PostgreSQL's time partitions (migration 0019): made ahead, rows the default partition
//! caught moved to theirs, replicas taking turns, retention dropping whole partitions, and
//! what was stored before the migration kept by it.

use std::borrow::Cow;

use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use sp_core::auth::{AuditEntry, AuditFilter};
use sp_core::events::{EventQuery, NewEvent};
use sp_core::usage::{UsageCounts, UsageGroup, UsageKey, UsageQuery};
use sp_core::{Id, PageRequest, TenantId, Timestamp};
use sp_data::{Database, PgStore};
use sp_tests::TestDatabase;

fn pg(db: &TestDatabase) -> &PgStore {
    match &db.database {
        Database::Postgres(pg) => pg,
        _ => unreachable!("a PostgreSQL test database"),
    }
}

/// The partitions of `table`, by name, sorted.
async fn partitions(pg: &PgStore, table: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = $1::regclass ORDER BY 1",
    )
    .bind(table)
    .fetch_all(pg.pool())
    .await
    .expect("partitions")
}

async fn rows_in(pg: &PgStore, partition: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {partition}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(pg.pool())
        .await
        .expect("count")
}

fn ago(days: u64) -> Timestamp {
    let at = Utc::now() - Days::new(days);
    Timestamp::from_datetime(at)
}

fn audit_entry(at: Timestamp, request_id: &str) -> AuditEntry {
    AuditEntry {
        id: Id::new(),
        at,
        key_id: "k".into(),
        tenant: TenantId::default(),
        method: "GET".into(),
        route: "/v1/events".into(),
        path: "/v1/events".into(),
        status: 200,
        request_id: request_id.into(),
        duration_ms: 1,
    }
}

fn usage_on(day: NaiveDate) -> (UsageKey, UsageCounts) {
    let mut key = UsageKey::today(TenantId::default(), "k", "smollm2");
    key.day = day;
    (key, UsageCounts::call(10, 2, 0))
}

fn day_name(table: &str, day: NaiveDate) -> String {
    format!("{table}_p{}", day.format("%Y%m%d"))
}

#[tokio::test]
async fn postgres_partitions_are_made_ahead_catch_up_and_drop_whole() {
    let db = TestDatabase::postgres("partitions").await;
    let pg = pg(&db);
    let today = Utc::now().date_naive();

    let first = pg.upkeep_partitions(today).await.expect("upkeep");
    let events = first.iter().find(|t| t.table == "events").expect("events");
    let ahead: Vec<String> = (0..4)
        .map(|n| day_name("events", today + Days::new(n)))
        .collect();
    assert_eq!(events.created, ahead);
    let usage = first
        .iter()
        .find(|t| t.table == "usage_daily")
        .expect("usage");
    assert_eq!(usage.created.len(), 4, "this month and three ahead");
    let again = pg.upkeep_partitions(today).await.expect("upkeep");
    assert!(again.iter().all(|t| t.created.is_empty()), "{again:?}");

    // Rows of days no partition covers land in the default partition; upkeep moves them.
    let audit = db.database.audit_store();
    for (age, id) in [(100, "old"), (1, "yesterday"), (0, "now")] {
        audit
            .record(&audit_entry(ago(age), id))
            .await
            .expect("record");
    }
    let usage = db.database.usage_store();
    let long_ago = today - Days::new(400);
    usage
        .add(&[usage_on(long_ago), usage_on(today)])
        .await
        .expect("usage");
    assert_eq!(rows_in(pg, "audit_log_default").await, 2);
    let caught = pg.upkeep_partitions(today).await.expect("upkeep");
    let audit_round = caught
        .iter()
        .find(|t| t.table == "audit_log")
        .expect("audit");
    assert_eq!(audit_round.moved_rows, 2);
    assert_eq!(
        audit_round.created,
        [
            day_name("audit_log", today - Days::new(100)),
            day_name("audit_log", today - Days::new(1))
        ]
    );
    assert_eq!(rows_in(pg, "audit_log_default").await, 0);
    assert_eq!(rows_in(pg, "usage_daily_default").await, 0);

    // Two replicas' rounds at once: each partition is made once, neither fails.
    let other = PgStore::connect_lazy(&sp_core::config::DatabaseConfig {
        url: Some(sp_tests::service_url("DATABASE_URL")),
        schema: pg.schema().to_owned(),
        ..Default::default()
    })
    .expect("pool");
    let later = today + Days::new(30);
    let (a, b) = tokio::join!(pg.upkeep_partitions(later), other.upkeep_partitions(later));
    let made: usize = a
        .expect("one replica")
        .iter()
        .chain(b.expect("the other").iter())
        .filter(|t| t.table == "events")
        .map(|t| t.created.len())
        .sum();
    assert_eq!(made, 4, "the four days from `later`, once");

    // Retention drops whole partitions: the 100-day-old day goes, yesterday's stays.
    let pruned = audit.prune(ago(50)).await.expect("prune");
    assert_eq!(pruned, 1);
    let left = partitions(pg, "audit_log").await;
    assert!(
        !left.contains(&day_name("audit_log", today - Days::new(100))),
        "{left:?}"
    );
    assert!(
        left.contains(&day_name("audit_log", today - Days::new(1))),
        "{left:?}"
    );
    let listed = audit
        .list(&AuditFilter::default(), &PageRequest::default())
        .await
        .expect("list");
    let ids: Vec<&str> = listed.items.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["now", "yesterday"]);

    let month_before = today.with_day0(0).expect("day") - Months::new(1);
    assert_eq!(usage.prune(month_before).await.expect("prune"), 1);
    let by_day = UsageQuery {
        group_by: vec![UsageGroup::Day],
        ..UsageQuery::default()
    };
    let days: Vec<_> = usage
        .rows(&by_day)
        .await
        .expect("rows")
        .iter()
        .filter_map(|r| r.day)
        .collect();
    assert_eq!(days, [today]);
    db.cleanup().await;
}

#[tokio::test]
async fn postgres_migration_to_partitions_keeps_what_was_stored() {
    let db = TestDatabase::postgres("partitions_upgrade").await;
    let pg = pg(&db);
    // Back to the schema before 0019: a fresh schema migrated only that far.
    let schema = format!("{}_old", pg.schema());
    let old = PgStore::connect_lazy(&sp_core::config::DatabaseConfig {
        url: Some(sp_tests::service_url("DATABASE_URL")),
        schema: schema.clone(),
        ..Default::default()
    })
    .expect("pool");
    let create = format!("CREATE SCHEMA \"{schema}\"");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(old.pool())
        .await
        .expect("schema");
    let mut before_partitions = sqlx::migrate!("./migrations/postgres");
    let up_to_18: Vec<_> = before_partitions
        .migrations
        .iter()
        .filter(|m| m.version < 19)
        .cloned()
        .collect();
    before_partitions.migrations = Cow::Owned(up_to_18);
    before_partitions
        .run(old.pool())
        .await
        .expect("migrate to 0018");

    let database = Database::Postgres(old.clone());
    let log = database.event_store();
    let stored = log
        .append(vec![
            NewEvent::new("orders", "order.placed", serde_json::json!({"n": 1})),
            NewEvent::new("orders", "order.placed", serde_json::json!({"n": 2})),
        ])
        .await
        .expect("append");
    let audit = database.audit_store();
    audit
        .record(&audit_entry(ago(3), "before"))
        .await
        .expect("record");
    let usage = database.usage_store();
    let today = Utc::now().date_naive();
    usage.add(&[usage_on(today)]).await.expect("usage");

    old.migrate().await.expect("migrate to partitions");
    assert_eq!(partitions(&old, "events").await, ["events_default"]);
    let kept = log
        .query(&EventQuery::default(), &PageRequest::default())
        .await
        .expect("query")
        .items;
    assert_eq!(kept, stored, "every event, as it was");
    let next = log
        .append(vec![NewEvent::new(
            "orders",
            "order.placed",
            serde_json::json!({"n": 3}),
        )])
        .await
        .expect("append after");
    assert_eq!(next[0].offset, 3, "the stream goes on");
    let audited = audit
        .list(&AuditFilter::default(), &PageRequest::default())
        .await
        .expect("list");
    assert_eq!(audited.items.len(), 1);
    assert_eq!(
        usage
            .rows(&UsageQuery::default())
            .await
            .expect("rows")
            .len(),
        1
    );

    let caught = old.upkeep_partitions(today).await.expect("upkeep");
    let moved: u64 = caught.iter().map(|t| t.moved_rows).sum();
    assert_eq!(
        moved,
        3 + 1 + 1,
        "events, the audit entry and the usage row"
    );
    let all = log
        .query(&EventQuery::default(), &PageRequest::default())
        .await
        .expect("query");
    assert_eq!(all.items.len(), 3);
    // The sequence went on from the old table's: append order is kept across the move.
    assert!(all.items.windows(2).all(|w| w[0].offset < w[1].offset));

    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(old.pool())
        .await;
    db.cleanup().await;
}
