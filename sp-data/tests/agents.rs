//! The agent store's contract on every backend: versions per name, a run's events appended
//! only through its lease at the next sequence number (with the summary, atomically),
//! outside writes guarded by the event count, lapsed leases taken over, namespaces apart —
//! and a whole run through the runtime, replayed from what the store kept.

#[path = "agents/cases.rs"]
mod cases;
#[path = "agents/support.rs"]
mod support;

use support::Fixture;

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
            async fn definitions_are_versioned_listed_and_removed() {
                run(|f| Box::pin(cases::definitions_are_versioned_listed_and_removed(f))).await;
            }
            #[tokio::test]
            async fn appends_go_through_the_lease_at_the_next_seq() {
                run(|f| Box::pin(cases::appends_go_through_the_lease_at_the_next_seq(f))).await;
            }
            #[tokio::test]
            async fn outside_writes_are_guarded_by_the_event_count() {
                run(|f| Box::pin(cases::outside_writes_are_guarded_by_the_event_count(f))).await;
            }
            #[tokio::test]
            async fn lapsed_running_runs_are_claimed_once() {
                run(|f| Box::pin(cases::lapsed_running_runs_are_claimed_once(f))).await;
            }
            #[tokio::test]
            async fn a_run_is_recorded_and_replays_from_the_store() {
                run(|f| Box::pin(cases::a_run_is_recorded_and_replays_from_the_store(f))).await;
            }
        }
    };
}

suite!(sqlite);
suite!(postgres);
suite!(memory);
