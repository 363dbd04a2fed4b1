//! The review's C1, M2 and M3 on every backend: a step whose filled-in inputs would be huge
//! fails at once, a step that keeps stopping its process is not resumed forever, runs past
//! `max_running` wait for a place, and a NUL character (which PostgreSQL cannot keep) fails
//! closed instead of making a run unsavable.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use serde_json::json;
use sp_core::workflows::{NewRun, RunStatus, WorkflowsConfig};

use super::support::{Fixture, Scripted, by_id, tool_step, workflow};

const WAIT: Duration = Duration::from_secs(20);

/// 500 references to a 10 kB input (5 MB filled in) against a 100 kB limit: the step
/// fails with `SP-WF-005` on its first attempt, without retries, and nothing is performed.
pub async fn an_expansion_bomb_fails_its_step_at_once(f: &Fixture) {
    let actions = Scripted::new(false);
    let engine = f.engine_with(
        &actions,
        WorkflowsConfig {
            max_rendered_bytes: 100_000,
            ..Fixture::config(10_000)
        },
    );
    let ns = Default::default();
    let bomb = "{{input.x}}".repeat(500);
    engine
        .define(&workflow(json!({"name": "bomb", "steps": [
            {"id": "c", "kind": "condition", "value": bomb, "equals": true, "retries": 3},
            tool_step("after", "echo", json!({"needs": "{{steps.c.output}}"}))
        ]})))
        .await
        .unwrap();
    let input = NewRun {
        input: json!({"x": "A".repeat(10_000)}),
        correlation_id: None,
    };
    let run = engine.start(&ns, "bomb", input).await.unwrap();
    let done = engine.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    let steps = by_id(&done.steps);
    assert_eq!(
        steps["c"].attempts, 1,
        "a size that does not fit is not retried"
    );
    let error = steps["c"].error.as_ref().unwrap();
    assert_eq!(error.code, "SP-WF-005", "{error:?}");
    assert!(actions.calls().is_empty(), "nothing after it ran");

    // The same definition within the limit runs.
    let small = NewRun {
        input: json!({"x": "A"}),
        correlation_id: None,
    };
    let run = engine.start(&ns, "bomb", small).await.unwrap();
    let done = engine.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(by_id(&done.steps)["c"].error, None, "{done:?}");
}

/// A step whose attempt is cut short again and again — as one that kills its process
/// would be — is made again `max_step_resumes` times, then fails with `SP-WF-006`.
pub async fn a_step_cut_short_too_often_fails_instead_of_resuming(f: &Fixture) {
    let resuming_once = |lease_ms| WorkflowsConfig {
        max_step_resumes: 1,
        ..Fixture::config(lease_ms)
    };
    let ns = Default::default();
    let first = Scripted::new(true);
    let stalled = f.engine_with(&first, resuming_once(300));
    stalled
        .define(&workflow(json!({"name": "pill", "steps": [
            tool_step("two", "hold", json!({}))
        ]})))
        .await
        .unwrap();
    let run = stalled.start(&ns, "pill", NewRun::default()).await.unwrap();
    first.until_held().await;

    // Resumed once, and cut short again.
    let second = Scripted::new(true);
    let resumed = f.engine_with(&second, resuming_once(300));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(resumed.recover_once().await.unwrap(), [run.id]);
    second.until_held().await;

    // Not made a third time.
    let third = Scripted::new(false);
    let last = f.engine_with(&third, resuming_once(10_000));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(last.recover_once().await.unwrap(), [run.id]);
    let done = last.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    let step = by_id(&done.steps)["two"];
    assert_eq!((step.attempts, step.interruptions), (2, 2), "{step:?}");
    assert_eq!(step.error.as_ref().unwrap().code, "SP-WF-006");
    assert!(third.calls().is_empty(), "{:?}", third.calls());
    first.release();
    second.release();
}

/// A definition or input holding U+0000 is refused before anything is stored; a step whose
/// output holds one fails at once (`SP-VAL-001`, not retried) — before the fix, PostgreSQL
/// refused to save it and the run was resumed and the tool called again every lease, forever.
pub async fn nul_characters_fail_closed(f: &Fixture) {
    let actions = Scripted::new(false);
    let engine = f.engine(&actions, 10_000);
    let ns = Default::default();
    for bad in [
        json!({"name": "n", "description": "a\u{0}b", "steps": [tool_step("t", "echo", json!({}))]}),
        json!({"name": "n", "steps": [tool_step("t", "echo", json!({"a": "\u{0}"}))]}),
    ] {
        let err = engine.define(&workflow(bad)).await.unwrap_err();
        assert_eq!(err.code(), sp_core::ErrorCode::InvalidInput, "{err}");
    }
    engine
        .define(&workflow(json!({"name": "nul", "steps": [
            {"id": "t", "kind": "tool", "tool": "nul", "arguments": {"step": "t"}, "retries": 2}
        ]})))
        .await
        .unwrap();
    let input = NewRun {
        input: json!({"x": "\u{0}"}),
        correlation_id: None,
    };
    let err = engine.start(&ns, "nul", input).await.unwrap_err();
    assert_eq!(err.code(), sp_core::ErrorCode::InvalidInput, "{err}");

    let run = engine.start(&ns, "nul", NewRun::default()).await.unwrap();
    let done = engine.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Failed, "{done:?}");
    let step = by_id(&done.steps)["t"];
    assert_eq!(
        step.attempts, 1,
        "an output no store keeps is not asked for again"
    );
    assert_eq!(step.error.as_ref().unwrap().code, "SP-VAL-001");
    assert_eq!(actions.calls(), ["t"]);
}

/// M2: past `max_running`, a started run is stored but waits (its lease lapsed from the
/// start) instead of being driven; a process with a free place takes it.
pub async fn starts_beyond_max_running_wait_for_a_place(f: &Fixture) {
    let actions = Scripted::new(true);
    let engine = f.engine_with(
        &actions,
        WorkflowsConfig {
            max_running: 1,
            ..Fixture::config(10_000)
        },
    );
    let ns = Default::default();
    for (name, step) in [
        ("long", tool_step("wait", "hold", json!({}))),
        ("quick", tool_step("quick", "echo", json!({}))),
    ] {
        engine
            .define(&workflow(json!({"name": name, "steps": [step]})))
            .await
            .unwrap();
    }
    let first = engine.start(&ns, "long", NewRun::default()).await.unwrap();
    actions.until_held().await;
    let second = engine.start(&ns, "quick", NewRun::default()).await.unwrap();
    assert_eq!(second.status, RunStatus::Running, "accepted");
    assert!(
        engine.recover_once().await.unwrap().is_empty(),
        "no place while the first runs"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(actions.calls(), ["wait"], "the second waits for a place");
    actions.release();
    let done = engine.wait(&ns, first.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    let mut resumed = Vec::new();
    for _ in 0..100 {
        resumed = engine.recover_once().await.unwrap();
        if !resumed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(resumed, [second.id], "the queued run gets the free place");
    let done = engine.wait(&ns, second.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert_eq!(actions.calls(), ["wait", "quick"]);
}
