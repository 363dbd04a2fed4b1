//! A planned stop: the process hands its runs back and another takes them over at once,
//! without waiting for the lease to lapse.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use serde_json::json;
use sp_core::ErrorCode;
use sp_core::workflows::{NewRun, RunStatus};

use super::support::{Fixture, Scripted, by_id, tool_step, workflow};

const WAIT: Duration = Duration::from_secs(20);
/// Far longer than the test: only a hand-back lets another process in.
const LONG_LEASE_MS: u64 = 600_000;

pub async fn handed_back_runs_are_taken_over_at_once(f: &Fixture) {
    let leaving_actions = Scripted::new(true);
    let leaving = f.engine(&leaving_actions, LONG_LEASE_MS);
    let ns = Default::default();
    leaving
        .define(&workflow(json!({
            "name": "handed",
            "steps": [
                tool_step("one", "echo", json!({})),
                tool_step("two", "hold", json!({"after": "{{steps.one.output.step}}"}))
            ]
        })))
        .await
        .unwrap();
    let run = leaving
        .start(&ns, "handed", NewRun::default())
        .await
        .unwrap();
    leaving_actions.until_held().await;

    let staying_actions = Scripted::new(false);
    let staying = f.engine(&staying_actions, LONG_LEASE_MS);
    assert!(
        staying.recover_once().await.unwrap().is_empty(),
        "the lease holds"
    );
    assert_eq!(leaving.hand_back().await.unwrap(), [run.id]);
    assert_eq!(staying.recover_once().await.unwrap(), [run.id]);
    let done = staying.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert_eq!(staying_actions.calls(), ["two"], "`one` is not run again");
    assert_eq!(by_id(&done.steps)["two"].attempts, 2);

    // The process that left takes nothing over, starts nothing, and its late answer is not
    // kept.
    assert!(leaving.recover_once().await.unwrap().is_empty());
    let refused = leaving
        .start(&ns, "handed", NewRun::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::Unavailable, "{refused}");
    leaving_actions.release();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(staying.run(&ns, run.id).await.unwrap(), done);
}
