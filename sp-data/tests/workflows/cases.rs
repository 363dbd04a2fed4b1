//! Workflow runs on one backend: order and wiring, conditions, retries, failure, cancel,
//! resumption by another process after a lease lapses, and refusals that store nothing.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::time::Duration;

use serde_json::{Value, json};
use sp_core::workflows::{NewRun, RunStatus, StepStatus};
use sp_core::{ErrorCode, PageRequest};

use super::support::{Fixture, Scripted, by_id, tool_step, workflow};

const WAIT: Duration = Duration::from_secs(20);

fn input(value: Value) -> NewRun {
    NewRun {
        input: value,
        correlation_id: None,
    }
}

pub async fn runs_in_order_and_wires_outputs(f: &Fixture) {
    let actions = Scripted::new(false);
    let engine = f.engine(&actions, 10_000);
    let ns = Default::default();
    engine
        .define(&workflow(json!({
            "name": "wired",
            "steps": [
                // Defined out of order: dependencies decide.
                tool_step("double", "echo", json!({"n": "{{steps.first.output.n}}", "times": 2})),
                tool_step("first", "echo", json!({"n": "{{input.n}}"})),
                {"id": "is_two", "kind": "condition", "value": "{{steps.first.output.n}}", "equals": 2},
                {"id": "is_three", "kind": "condition", "value": "{{steps.first.output.n}}", "equals": 3},
                {"id": "when_two", "kind": "tool", "tool": "echo", "when": "is_two",
                 "arguments": {"step": "when_two", "say": "n is {{input.n}}"}},
                {"id": "when_three", "kind": "tool", "tool": "echo", "when": "is_three",
                 "arguments": {"step": "when_three"}},
                {"id": "after_three", "kind": "tool", "tool": "echo", "needs": ["when_three"],
                 "arguments": {"step": "after_three"}}
            ]
        })))
        .await
        .unwrap();
    let run = engine
        .start(&ns, "wired", input(json!({"n": 2})))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Running);
    let done = engine.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");

    let steps = by_id(&done.steps);
    assert_eq!(
        steps["first"].output,
        Some(json!({"step": "first", "n": 2}))
    );
    assert_eq!(
        steps["double"].output,
        Some(json!({"step": "double", "n": 2, "times": 2}))
    );
    assert_eq!(steps["is_two"].output, Some(json!(true)));
    assert_eq!(steps["is_three"].output, Some(json!(false)));
    assert_eq!(
        steps["when_two"].output,
        Some(json!({"step": "when_two", "say": "n is 2"}))
    );
    assert_eq!(steps["when_three"].status, StepStatus::Skipped);
    assert_eq!(
        steps["after_three"].status,
        StepStatus::Skipped,
        "needs a skipped step"
    );
    for id in ["first", "double", "is_two", "when_two"] {
        assert_eq!(steps[id].status, StepStatus::Succeeded);
        assert_eq!(steps[id].attempts, 1);
        assert!(steps[id].finished_at.is_some());
    }
    // `first` runs before everything that reads it; skipped steps never call their tool.
    let calls = actions.calls();
    assert_eq!(calls[0], "first");
    assert_eq!(calls.len(), 3, "{calls:?}");
    // The run's output: its last steps' outputs (skipped ones have none).
    assert_eq!(
        done.output,
        Some(json!({
            "double": {"step": "double", "n": 2, "times": 2},
            "when_two": {"step": "when_two", "say": "n is 2"},
        }))
    );

    let events = f.event_types(&run.correlation_id).await;
    assert_eq!(
        events.first().map(String::as_str),
        Some("workflow.run.started")
    );
    assert_eq!(
        events.last().map(String::as_str),
        Some("workflow.run.succeeded")
    );
    for expected in [
        "workflow.step.started:first",
        "workflow.step.succeeded:first",
        "workflow.step.succeeded:when_two",
        "workflow.step.skipped:when_three",
        "workflow.step.skipped:after_three",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} in {events:?}"
        );
    }
    let started = events
        .iter()
        .position(|e| e == "workflow.step.succeeded:first");
    let second = events
        .iter()
        .position(|e| e == "workflow.step.started:double");
    assert!(started < second, "{events:?}");

    // Listing: newest first, filtered by workflow, paged.
    let again = engine
        .start(&ns, "wired", input(json!({"n": 3})))
        .await
        .unwrap();
    engine.wait(&ns, again.id, WAIT).await.unwrap();
    let first_page = engine
        .runs(
            &ns,
            Some("wired"),
            &PageRequest::new(Some(1), None).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(first_page.items[0].id, again.id);
    assert_eq!(first_page.items[0].steps.len(), 7);
    let cursor = first_page.next_cursor.unwrap().as_str().to_owned();
    let second_page = engine
        .runs(&ns, None, &PageRequest::new(Some(1), Some(cursor)).unwrap())
        .await
        .unwrap();
    assert_eq!(second_page.items[0].id, run.id);
    assert!(second_page.next_cursor.is_none());
    let other = sp_core::knowledge::Namespace::new("other").unwrap();
    assert!(
        engine
            .runs(&other, None, &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let hidden = engine.run(&other, run.id).await.unwrap_err();
    assert_eq!(
        hidden.code(),
        ErrorCode::NotFound,
        "namespaces isolate runs"
    );
}

pub async fn retries_then_fails_with_the_reason(f: &Fixture) {
    let actions = Scripted::new(false);
    let engine = f.engine(&actions, 10_000);
    let ns = Default::default();
    actions.fail_next(2);
    engine
        .define(&workflow(json!({
            "name": "tries",
            "steps": [
                {"id": "flaky", "kind": "tool", "tool": "flaky", "retries": 2,
                 "arguments": {"step": "flaky"}},
                {"id": "broken", "kind": "tool", "tool": "broken", "retries": 1, "needs": ["flaky"],
                 "arguments": {"step": "broken"}},
                {"id": "never", "kind": "tool", "tool": "echo", "needs": ["broken"],
                 "arguments": {"step": "never"}}
            ]
        })))
        .await
        .unwrap();
    let run = engine.start(&ns, "tries", NewRun::default()).await.unwrap();
    let done = engine.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Failed);
    let steps = by_id(&done.steps);
    assert_eq!(steps["flaky"].status, StepStatus::Succeeded);
    assert_eq!(steps["flaky"].attempts, 3, "two failures, then success");
    assert_eq!(steps["flaky"].error, None);
    assert_eq!(steps["broken"].status, StepStatus::Failed);
    assert_eq!(steps["broken"].attempts, 2, "retries: 1");
    assert_eq!(steps["never"].status, StepStatus::Skipped);
    let failure = done.error.unwrap();
    assert_eq!(failure.step, "broken");
    assert_eq!(failure.code, "SP-GEN-002");
    assert!(
        failure.message.contains("always down"),
        "{}",
        failure.message
    );
    assert_eq!(
        actions.calls(),
        ["flaky", "flaky", "flaky", "broken", "broken"]
    );

    let events = f.event_types(&run.correlation_id).await;
    let failed = events
        .iter()
        .filter(|e| *e == "workflow.step.failed:flaky")
        .count();
    assert_eq!(failed, 2, "{events:?}");
    assert_eq!(
        events.last().map(String::as_str),
        Some("workflow.run.failed:broken")
    );
}

pub async fn cancel_stops_a_run(f: &Fixture) {
    let actions = Scripted::new(true);
    let engine = f.engine(&actions, 10_000);
    let ns = Default::default();
    engine
        .define(&workflow(json!({
            "name": "long",
            "steps": [
                tool_step("wait", "hold", json!({})),
                {"id": "then", "kind": "tool", "tool": "echo", "needs": ["wait"],
                 "arguments": {"step": "then"}}
            ]
        })))
        .await
        .unwrap();
    let run = engine
        .start(
            &ns,
            "long",
            NewRun {
                correlation_id: Some("req-cancel".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    actions.until_held().await;
    let cancelled = engine.cancel(&ns, run.id).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    let steps = by_id(&cancelled.steps);
    assert_eq!(steps["wait"].status, StepStatus::Cancelled);
    assert_eq!(steps["then"].status, StepStatus::Cancelled);
    actions.release();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = engine.run(&ns, run.id).await.unwrap();
    assert_eq!(after, cancelled, "nothing written after the cancel");
    assert_eq!(actions.calls(), ["wait"]);
    let again = engine.cancel(&ns, run.id).await.unwrap_err();
    assert_eq!(again.code(), ErrorCode::Conflict);
    let events = f.event_types("req-cancel").await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("workflow.run.cancelled")
    );
    assert!(
        !events
            .iter()
            .any(|e| e.starts_with("workflow.step.succeeded")),
        "{events:?}"
    );
}

/// A process drives a run and stops renewing its lease mid-step (as a killed one does);
/// another process takes the run over and completes exactly the steps not yet done.
pub async fn another_process_resumes_a_lapsed_run(f: &Fixture) {
    let stalled_actions = Scripted::new(true);
    let stalled = f.engine(&stalled_actions, 300);
    let ns = Default::default();
    stalled
        .define(&workflow(json!({
            "name": "resumable",
            "steps": [
                tool_step("one", "echo", json!({})),
                tool_step("two", "hold", json!({"after": "{{steps.one.output.step}}"})),
                tool_step("three", "echo", json!({"after": "{{steps.two.output.step}}"}))
            ]
        })))
        .await
        .unwrap();
    let run = stalled
        .start(&ns, "resumable", NewRun::default())
        .await
        .unwrap();
    stalled_actions.until_held().await;

    let live_actions = Scripted::new(false);
    let live = f.engine(&live_actions, 10_000);
    assert!(
        live.recover_once().await.unwrap().is_empty(),
        "the lease still holds"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(live.recover_once().await.unwrap(), [run.id]);
    let done = live.wait(&ns, run.id, WAIT).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert_eq!(stalled_actions.calls(), ["one", "two"]);
    assert_eq!(
        live_actions.calls(),
        ["two", "three"],
        "`one` is not run again"
    );
    let steps = by_id(&done.steps);
    assert_eq!(steps["one"].attempts, 1);
    assert_eq!(
        steps["two"].attempts, 2,
        "the interrupted attempt and the resumed one"
    );
    assert_eq!(
        steps["three"].output,
        Some(json!({"step": "three", "after": "two"}))
    );

    // The stalled process's late answer is not kept.
    stalled_actions.release();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(live.run(&ns, run.id).await.unwrap(), done);
    let events = f.event_types(&run.correlation_id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "workflow.step.started:one")
            .count(),
        1,
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e == "workflow.run.resumed"),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(String::as_str),
        Some("workflow.run.succeeded")
    );
}

pub async fn bad_definitions_and_runs_store_nothing(f: &Fixture) {
    let actions = Scripted::new(false);
    let engine = f.engine(&actions, 10_000);
    let ns = Default::default();
    let refusals = [
        (
            json!({"name": "loop", "steps": [
                {"id": "a", "kind": "tool", "tool": "echo", "needs": ["b"]},
                {"id": "b", "kind": "tool", "tool": "echo", "needs": ["a"]}]}),
            ErrorCode::WorkflowCycle,
        ),
        (
            json!({"name": "unknown", "steps": [tool_step("a", "missing", json!({}))]}),
            ErrorCode::WorkflowToolUnknown,
        ),
        (
            json!({"name": "dangling", "steps": [
                tool_step("a", "echo", json!({"x": "{{steps.ghost.output}}"}))]}),
            ErrorCode::WorkflowWiring,
        ),
        (
            json!({"name": "bad name!", "steps": [tool_step("a", "echo", json!({}))]}),
            ErrorCode::InvalidInput,
        ),
    ];
    for (definition, code) in refusals {
        let err = engine
            .define(&workflow(definition.clone()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{definition}");
    }
    let listed = engine
        .workflows(&ns, &PageRequest::default())
        .await
        .unwrap();
    assert!(listed.items.is_empty(), "nothing stored: {listed:?}");

    let missing = engine
        .start(&ns, "nope", NewRun::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), ErrorCode::NotFound);
    engine
        .define(&workflow(
            json!({"name": "ok", "steps": [tool_step("a", "echo", json!({}))]}),
        ))
        .await
        .unwrap();
    let not_object = engine
        .start(&ns, "ok", input(json!([1])))
        .await
        .unwrap_err();
    assert_eq!(not_object.code(), ErrorCode::InvalidInput);
    assert!(
        engine
            .runs(&ns, None, &PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(actions.calls().is_empty());

    // Redefining makes a new version; runs keep theirs.
    let first = engine.workflow(&ns, "ok").await.unwrap();
    let second = engine
        .define(&workflow(json!({"name": "ok", "description": "v2",
            "steps": [tool_step("b", "echo", json!({}))]})))
        .await
        .unwrap();
    assert_eq!((first.version, second.version), (1, 2));
    assert_eq!(second.created_at, first.created_at);
    engine
        .define(&workflow(
            json!({"name": "another", "steps": [tool_step("a", "echo", json!({}))]}),
        ))
        .await
        .unwrap();
    let page = engine
        .workflows(&ns, &PageRequest::new(Some(1), None).unwrap())
        .await
        .unwrap();
    assert_eq!(page.items[0].name, "another");
    let cursor = page.next_cursor.unwrap().as_str().to_owned();
    let page = engine
        .workflows(&ns, &PageRequest::new(Some(1), Some(cursor)).unwrap())
        .await
        .unwrap();
    assert_eq!(page.items[0].name, "ok");
    engine.remove_workflow(&ns, "another").await.unwrap();
    let gone = engine.remove_workflow(&ns, "another").await.unwrap_err();
    assert_eq!(gone.code(), ErrorCode::NotFound);
}

/// A process renews only the runs it drives: one it holds but no longer drives (its driver
/// stopped on an error) lapses and is taken over, while one it drives keeps its lease.
pub async fn leases_cover_only_the_runs_being_driven(f: &Fixture) {
    use sp_core::workflows::{Lease, Run, StepRun};
    use sp_core::{Id, Timestamp};
    let steps: Vec<sp_core::workflows::Step> =
        serde_json::from_value(json!([tool_step("a", "echo", json!({}))])).unwrap();
    let soon = Timestamp::from_unix_micros(Timestamp::now().unix_micros() + 200_000).unwrap();
    let later = Timestamp::from_unix_micros(Timestamp::now().unix_micros() + 60_000_000).unwrap();
    let new_run = || {
        let now = Timestamp::now();
        Run {
            id: Id::new(),
            namespace: Default::default(),
            workflow: "w".into(),
            version: 1,
            status: RunStatus::Running,
            input: json!({}),
            output: None,
            error: None,
            correlation_id: "c".into(),
            steps: vec![StepRun::pending("a")],
            created_at: now,
            updated_at: now,
            finished_at: None,
        }
    };
    let (driven, orphaned) = (new_run(), new_run());
    let lease = Lease {
        owner: "stalled".into(),
        until: soon,
    };
    f.store.create_run(&driven, &steps, &lease).await.unwrap();
    f.store.create_run(&orphaned, &steps, &lease).await.unwrap();
    f.store
        .renew_leases("stalled", &[driven.id], later)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let taker = Lease {
        owner: "live".into(),
        until: later,
    };
    let claimed = f
        .store
        .claim_lapsed(&taker, Timestamp::now(), 10)
        .await
        .unwrap();
    assert_eq!(claimed, [orphaned.id], "only the run nobody drives lapses");
    // The old holder can no longer write to the run it lost.
    let mut step = StepRun::pending("a");
    step.status = StepStatus::Running;
    assert!(
        !f.store
            .save_step(orphaned.id, "stalled", &step)
            .await
            .unwrap()
    );
    assert!(f.store.save_step(orphaned.id, "live", &step).await.unwrap());
}
