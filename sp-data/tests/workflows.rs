//! Workflow runs on every backend: persisted step by step, retried, cancelled, resumed by
//! another process when the driving one stops or hands them back, bad definitions refused,
//! and a run whose stored definition no longer reads ended once.

#[path = "workflows/bounds.rs"]
mod bounds;
#[path = "workflows/cases.rs"]
mod cases;
#[path = "workflows/damaged.rs"]
mod damaged;
#[path = "workflows/handover.rs"]
mod handover;
#[path = "workflows/support.rs"]
mod support;

use support::Fixture;

macro_rules! suite {
    ($backend:ident $(, $sql:ident)?) => {
        mod $backend {
            use super::*;

            async fn run(case: for<'a> fn(&'a Fixture) -> futures::future::BoxFuture<'a, ()>) {
                let fixture = Fixture::$backend().await;
                case(&fixture).await;
                fixture.cleanup().await;
            }

            #[tokio::test]
            async fn runs_in_order_and_wires_outputs() {
                run(|f| Box::pin(cases::runs_in_order_and_wires_outputs(f))).await;
            }
            #[tokio::test]
            async fn retries_then_fails_with_the_reason() {
                run(|f| Box::pin(cases::retries_then_fails_with_the_reason(f))).await;
            }
            #[tokio::test]
            async fn cancel_stops_a_run() {
                run(|f| Box::pin(cases::cancel_stops_a_run(f))).await;
            }
            #[tokio::test]
            async fn another_process_resumes_a_lapsed_run() {
                run(|f| Box::pin(cases::another_process_resumes_a_lapsed_run(f))).await;
            }
            #[tokio::test]
            async fn leases_cover_only_the_runs_being_driven() {
                run(|f| Box::pin(cases::leases_cover_only_the_runs_being_driven(f))).await;
            }
            #[tokio::test]
            async fn an_expansion_bomb_fails_its_step_at_once() {
                run(|f| Box::pin(bounds::an_expansion_bomb_fails_its_step_at_once(f))).await;
            }
            #[tokio::test]
            async fn a_step_cut_short_too_often_fails_instead_of_resuming() {
                run(|f| {
                    Box::pin(bounds::a_step_cut_short_too_often_fails_instead_of_resuming(f))
                })
                .await;
            }
            #[tokio::test]
            async fn starts_beyond_max_running_wait_for_a_place() {
                run(|f| Box::pin(bounds::starts_beyond_max_running_wait_for_a_place(f))).await;
            }
            #[tokio::test]
            async fn nul_characters_fail_closed() {
                run(|f| Box::pin(bounds::nul_characters_fail_closed(f))).await;
            }
            #[tokio::test]
            async fn handed_back_runs_are_taken_over_at_once() {
                run(|f| Box::pin(handover::handed_back_runs_are_taken_over_at_once(f))).await;
            }
            // A row damaged by hand needs a database to damage.
            $(
            #[tokio::test]
            async fn unreadable_definition_ends_the_run_once() {
                let _ = stringify!($sql);
                run(|f| Box::pin(damaged::unreadable_definition_ends_the_run_once(f))).await;
            }
            )?
            #[tokio::test]
            async fn bad_definitions_and_runs_store_nothing() {
                run(|f| Box::pin(cases::bad_definitions_and_runs_store_nothing(f))).await;
            }
        }
    };
}

suite!(sqlite, sql);
suite!(postgres, sql);
suite!(memory);
