//! A run whose stored definition no longer reads: ended once, with the reason, instead of
//! being taken over again every lease.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use serde_json::json;
use sp_core::workflows::{NewRun, RunStatus, StepStatus};

use super::support::{Fixture, Scripted, by_id, tool_step, workflow};

const WAIT: Duration = Duration::from_secs(20);

pub async fn unreadable_definition_ends_the_run_once(f: &Fixture) {
    let stalled_actions = Scripted::new(true);
    let stalled = f.engine(&stalled_actions, 300);
    let ns = Default::default();
    stalled
        .define(&workflow(json!({
            "name": "damaged",
            "steps": [
                tool_step("one", "hold", json!({})),
                tool_step("two", "echo", json!({"after": "{{steps.one.output.step}}"}))
            ]
        })))
        .await
        .unwrap();
    let run = stalled
        .start(&ns, "damaged", NewRun::default())
        .await
        .unwrap();
    stalled_actions.until_held().await;
    f.damage_definition(run.id).await;

    let live_actions = Scripted::new(false);
    let live = f.engine(&live_actions, 300);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(live.recover_once().await.unwrap(), [run.id]);
    let done = live.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    let error = done.error.clone().unwrap();
    assert_eq!(error.code, "SP-WF-004");
    assert_eq!(error.step, "", "no step failed: the run could not start");
    assert!(
        error.message.contains("no longer reads"),
        "{}",
        error.message
    );
    assert!(live_actions.calls().is_empty(), "nothing ran");
    let steps = by_id(&done.steps);
    assert_eq!(steps["one"].status, StepStatus::Skipped);
    assert_eq!(steps["two"].status, StepStatus::Skipped);

    // Ended for good: no process takes it over again, and the stalled one's late answer
    // is not kept.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(live.recover_once().await.unwrap().is_empty());
    stalled_actions.release();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(live.run(&ns, run.id).await.unwrap(), done);
    let events = f.event_types(&run.correlation_id).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("workflow.run.failed"),
        "{events:?}"
    );
}
