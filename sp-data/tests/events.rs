//! The event log on every backend: ordering and gapless offsets under concurrent appends,
//! queries and replays, pagination, live fan-out, retention, and bad input that stores nothing.

#[path = "events/cases.rs"]
mod cases;
#[path = "events/groups.rs"]
mod groups;
#[path = "events/retention.rs"]
mod retention;

use std::sync::Arc;

use sp_core::Id;
use sp_core::events::{EventLog, EventsConfig, MemoryEventStore};
use sp_tests::TestDatabase;

/// An event log on one backend, removed afterwards.
pub struct Fixture {
    /// The log under test.
    pub log: Arc<EventLog>,
    /// The database the log is on (none for the in-process store).
    db: Option<TestDatabase>,
}

/// Small data limit, so the size check is cheap to trip.
fn config() -> EventsConfig {
    EventsConfig {
        max_data_bytes: 4096,
        live_buffer: 1024,
        max_attempts: 3,
        ..Default::default()
    }
}

impl Fixture {
    async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite().await)
    }

    async fn postgres() -> Self {
        Self::on(TestDatabase::postgres("events_test").await)
    }

    async fn memory() -> Self {
        Fixture {
            log: Arc::new(EventLog::new(
                Arc::new(MemoryEventStore::default()),
                config(),
            )),
            db: None,
        }
    }

    fn on(db: TestDatabase) -> Self {
        Fixture {
            log: Arc::new(EventLog::new(db.database.event_store(), config())),
            db: Some(db),
        }
    }

    async fn cleanup(self) {
        if let Some(db) = self.db {
            db.cleanup().await;
        }
    }
}

macro_rules! suite {
    ($backend:ident) => {
        mod $backend {
            use super::*;

            async fn run(case: for<'a> fn(&'a Fixture) -> futures::future::BoxFuture<'a, ()>) {
                let fixture = Fixture::$backend().await;
                case(&fixture).await;
                fixture.cleanup().await;
            }

            #[tokio::test]
            async fn queries_and_replays() {
                run(|f| Box::pin(cases::queries_and_replays(f))).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_appends_get_gapless_offsets() {
                run(|f| Box::pin(cases::concurrent_appends_get_gapless_offsets(f))).await;
            }
            #[tokio::test]
            async fn bad_input_stores_nothing() {
                run(|f| Box::pin(cases::bad_input_stores_nothing(f))).await;
            }
            #[tokio::test]
            async fn groups_deliver_at_least_once_and_dead_letter() {
                run(|f| Box::pin(groups::deliver_at_least_once_and_dead_letter(f))).await;
            }
            #[tokio::test]
            async fn group_attempts_survive_a_restart() {
                run(|f| Box::pin(groups::attempts_survive_a_restart(f))).await;
            }
            #[tokio::test]
            async fn pages_stop_at_their_data_budget() {
                run(|f| Box::pin(cases::pages_stop_at_their_data_budget(f))).await;
            }
            #[tokio::test]
            async fn retention_keeps_heads_and_moves_groups_on() {
                run(|f| Box::pin(retention::prune_keeps_heads_and_moves_groups_on(f))).await;
            }
            #[tokio::test]
            async fn live_subscribers_get_appends() {
                run(|f| Box::pin(cases::live_subscribers_get_appends(f))).await;
            }
        }
    };
}

suite!(sqlite);
suite!(postgres);
suite!(memory);

/// Two logs on one PostgreSQL schema, as two `sp` processes have: each one's live subscribers
/// get the other's appends (through `LISTEN/NOTIFY`) and their own exactly once.
#[tokio::test]
async fn postgres_fans_out_across_processes() {
    let config_db = sp_core::config::DatabaseConfig {
        url: Some(sp_tests::service_url("DATABASE_URL")),
        schema: format!("events_test_{}", Id::new().as_uuid().simple()),
        ..Default::default()
    };
    let open = || async {
        let pg = sp_data::PgStore::connect_lazy(&config_db).expect("pool");
        pg.migrate().await.expect("migrate");
        let store = Arc::new(sp_data::PgEventStore::new(&pg));
        let log = Arc::new(EventLog::new(store.clone(), config()));
        let follower = store.follow(log.clone()).await.expect("follow");
        (pg, log, follower)
    };
    let (pg, first, first_follower) = open().await;
    let (_, second, second_follower) = open().await;
    let mut first_live = first.subscribe();
    let mut second_live = second.subscribe();

    let appended = first
        .append(sp_core::events::NewEvent::new(
            "orders",
            "order.placed",
            serde_json::json!({"n": 1}),
        ))
        .await
        .expect("append");
    let wait = std::time::Duration::from_secs(5);
    let got = tokio::time::timeout(wait, second_live.next())
        .await
        .expect("the other process hears of it")
        .expect("live")
        .expect("event");
    assert_eq!(got.event().unwrap(), appended);
    let own = first_live.next().await.expect("live").expect("event");
    assert_eq!(own.event().unwrap(), appended);
    let again =
        tokio::time::timeout(std::time::Duration::from_millis(500), first_live.next()).await;
    assert!(again.is_err(), "its own append reached it once, not twice");

    first_follower.abort();
    second_follower.abort();
    let drop = format!("DROP SCHEMA \"{}\" CASCADE", config_db.schema);
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(pg.pool())
        .await;
}
