//! The service hub on every backend (SQLite, PostgreSQL, the in-process registry): the registry (versions, discovery, heartbeats, bad input)
//! tool invocation against real HTTP services on loopback, and MCP both ways.

#[path = "hub/bounds.rs"]
mod bounds;
#[path = "hub/egress.rs"]
mod egress;
#[path = "hub/invoke.rs"]
mod invoke;
#[path = "hub/mcp.rs"]
mod mcp;
#[path = "hub/mcp_bounds.rs"]
mod mcp_bounds;
#[path = "hub/registry.rs"]
mod registry;
#[path = "hub/support.rs"]
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
            async fn versions_side_by_side_and_discovery() {
                run(|f| Box::pin(registry::versions_side_by_side_and_discovery(f))).await;
            }
            #[tokio::test]
            async fn instances_are_capped_per_tenant_and_rounds_probe_a_budget() {
                run(|f| {
                    Box::pin(registry::instances_are_capped_per_tenant_and_rounds_probe_a_budget(f))
                })
                .await;
            }
            #[tokio::test]
            async fn heartbeats_expire_by_themselves() {
                run(|f| Box::pin(registry::heartbeats_expire_by_themselves(f))).await;
            }
            #[tokio::test]
            async fn bad_registrations_store_nothing() {
                run(|f| Box::pin(registry::bad_registrations_store_nothing(f))).await;
            }
            #[tokio::test]
            async fn calls_validate_retry_and_time_out() {
                run(|f| Box::pin(invoke::calls_validate_retry_and_time_out(f))).await;
            }
            #[tokio::test]
            async fn the_breaker_opens_and_recovers() {
                run(|f| Box::pin(invoke::the_breaker_opens_and_recovers(f))).await;
            }
            #[tokio::test]
            async fn health_checks_steer_calls() {
                run(|f| Box::pin(invoke::health_checks_steer_calls(f))).await;
            }
            #[tokio::test]
            async fn ambiguous_and_unreachable_tools() {
                run(|f| Box::pin(invoke::ambiguous_and_unreachable_tools(f))).await;
            }
            #[tokio::test]
            async fn mcp_export_and_import_round_trip() {
                run(|f| Box::pin(mcp::export_and_import_round_trip(f))).await;
            }
            #[tokio::test]
            async fn mcp_import_any_server() {
                run(|f| Box::pin(mcp::import_any_mcp_server(f))).await;
            }
        }
    };
}

suite!(sqlite);
suite!(postgres);
suite!(memory);

/// The transport's bound does not depend on the registry's backend: run once.
#[tokio::test]
async fn oversized_answers_fail_the_call() {
    let fixture = Fixture::memory().await;
    bounds::oversized_answers_fail_the_call(&fixture).await;
}

/// The same bound on MCP answers, and on an MCP server's tool list: run once.
#[tokio::test]
async fn oversized_mcp_answers_and_endless_lists_are_refused() {
    let fixture = Fixture::memory().await;
    mcp_bounds::oversized_mcp_answers_and_endless_lists_are_refused(&fixture).await;
}
