#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use serde_json::{Value, json};

use super::*;
use crate::ErrorCode;

fn workflow(steps: Value) -> NewWorkflow {
    serde_json::from_value(json!({"name": "w", "steps": steps})).unwrap()
}

#[test]
fn steps_run_after_what_they_read_need_and_wait_for() {
    let w = workflow(json!([
        {"id": "reply", "kind": "model", "prompt": "{{steps.find.output}} {{steps.check.output}}"},
        {"id": "find", "kind": "search", "query": "{{input.q}}"},
        {"id": "check", "kind": "condition", "value": "{{steps.find.output.count}}", "equals": 0},
        {"id": "notify", "kind": "tool", "tool": "mail", "needs": ["reply"], "when": "check"}
    ]));
    assert_eq!(plan(&w).unwrap(), ["find", "check", "reply", "notify"]);
}

#[test]
fn cycles_are_refused_naming_their_steps() {
    let w = workflow(json!([
        {"id": "a", "kind": "search", "query": "{{steps.b.output}}"},
        {"id": "b", "kind": "search", "query": "{{steps.a.output}}"},
        {"id": "c", "kind": "search", "query": "{{input.q}}"}
    ]));
    let err = plan(&w).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WorkflowCycle);
    assert!(err.to_string().contains("a, b"), "{err}");
    let own = workflow(json!([{"id": "a", "kind": "search", "query": "x", "needs": ["a"]}]));
    assert_eq!(plan(&own).unwrap_err().code(), ErrorCode::WorkflowCycle);
}

#[test]
fn wiring_to_nothing_is_refused() {
    for steps in [
        json!([{"id": "a", "kind": "search", "query": "{{steps.ghost.output}}"}]),
        json!([{"id": "a", "kind": "search", "query": "x", "needs": ["ghost"]}]),
        json!([{"id": "a", "kind": "search", "query": "{{nonsense}}"}]),
        json!([{"id": "a", "kind": "search", "query": "x"},
               {"id": "b", "kind": "search", "query": "y", "when": "a"}]),
    ] {
        let err = plan(&workflow(steps.clone())).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WorkflowWiring, "{steps}: {err}");
    }
}

#[test]
fn bad_definitions_are_refused() {
    for steps in [
        json!([]),
        json!([{"id": "a b", "kind": "search", "query": "x"}]),
        json!([{"id": "a", "kind": "search", "query": "x"}, {"id": "a", "kind": "search", "query": "y"}]),
        json!([{"id": "a", "kind": "search", "query": "x", "retries": 11}]),
        json!([{"id": "a", "kind": "search", "query": "{{input.q}}".repeat(1_001)}]),
    ] {
        let err = plan(&workflow(steps.clone())).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidInput, "{steps}: {err}");
    }
    let many = json!([{"id": "a", "kind": "search", "query": "{{input.q}}".repeat(1_000)}]);
    assert!(
        plan(&workflow(many)).is_ok(),
        "1,000 references are allowed"
    );
    let unknown_kind: Result<NewWorkflow, _> =
        serde_json::from_value(json!({"name": "w", "steps": [{"id": "a", "kind": "teleport"}]}));
    assert!(unknown_kind.is_err());
}

#[test]
fn rendering_fills_values_and_text_and_names_what_is_missing() {
    let outputs = HashMap::from([("a".to_owned(), json!({"list": [1, 2], "name": "x"}))]);
    let input = json!({"n": 2});
    let wired = render(
        "b",
        &json!({"whole": "{{steps.a.output}}", "item": "{{ steps.a.output.list.1 }}",
                "text": "{{steps.a.output.name}}-{{input.n}}", "plain": 7}),
        &input,
        &outputs,
        1024,
    )
    .unwrap();
    assert_eq!(
        wired,
        json!({"whole": {"list": [1, 2], "name": "x"}, "item": 2, "text": "x-2", "plain": 7})
    );
    let err = render(
        "b",
        &json!("{{steps.a.output.nope}}"),
        &input,
        &outputs,
        1024,
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::WorkflowWiring);
    assert!(err.to_string().contains("nope"), "{err}");
}

/// The review's C1: many references to one large value, in text or as whole values, are
/// refused once what they fill in passes the limit — and a rendering within it is whole.
#[test]
fn rendering_is_bounded_however_often_a_value_is_referenced() {
    let input = json!({"x": "A".repeat(100_000), "n": 12345});
    let outputs = HashMap::new();
    let limit = 1_000_000;
    let in_text = json!("{{input.x}}".repeat(2_000));
    let whole = Value::Array(vec![json!("{{input.x}}"); 2_000]);
    let keyed = json!({"a": {"b": whole.clone()}});
    for bomb in [&in_text, &whole, &keyed] {
        let err = render("c", bomb, &input, &outputs, limit).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WorkflowInputsTooLarge);
        assert!(err.to_string().contains("`c`"), "{err}");
    }
    // Nine references of 100,000 bytes (plus quotes) fit in a million; eleven do not.
    let nine = Value::Array(vec![json!("{{input.x}}"); 9]);
    let rendered = render("c", &nine, &input, &outputs, limit).unwrap();
    assert_eq!(rendered[8].as_str().map(str::len), Some(100_000));
    let eleven = json!("{{input.x}}".repeat(11));
    assert!(render("c", &eleven, &input, &outputs, limit).is_err());
    // Literal text counts too.
    let long = json!("x".repeat(2_000));
    assert!(render("c", &long, &input, &outputs, 1_000).is_err());
    assert_eq!(render("c", &long, &input, &outputs, 2_000).unwrap(), long);
}

/// A run of `steps` as stored, and `definition` as the driver reads it back.
fn read_back(run_steps: &[&str], definition: Value) -> crate::Result<super::drive::Plan> {
    let now = crate::Timestamp::now();
    let run = Run {
        id: crate::Id::new(),
        namespace: crate::knowledge::Namespace::default(),
        workflow: "w".into(),
        version: 1,
        status: RunStatus::Running,
        input: json!({}),
        output: None,
        error: None,
        correlation_id: "c".into(),
        steps: run_steps
            .iter()
            .map(|s| StepRun::pending((*s).to_owned()))
            .collect(),
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    let stored = serde_json::from_value::<Vec<Step>>(definition).map_err(|e| e.to_string());
    super::drive::read_definition(&run, stored)
}

#[test]
fn a_stored_definition_that_does_not_fit_its_run_is_unreadable() {
    let (steps, needs) = read_back(
        &["a", "b"],
        json!([{"id": "a", "kind": "search", "query": "x"},
               {"id": "b", "kind": "search", "query": "{{steps.a.output}}"}]),
    )
    .unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(needs["b"].iter().collect::<Vec<_>>(), ["a"]);

    for (run_steps, definition) in [
        // Not a list of steps at all.
        (vec!["a"], json!({"format": 2})),
        // The run has a step the definition lacks.
        (
            vec!["a", "b"],
            json!([{"id": "a", "kind": "search", "query": "x"}]),
        ),
        // A step needs one the definition lacks.
        (
            vec!["a"],
            json!([{"id": "a", "kind": "search", "query": "x", "needs": ["ghost"]}]),
        ),
        // A step's input does not parse.
        (
            vec!["a"],
            json!([{"id": "a", "kind": "search", "query": "{{nonsense}}"}]),
        ),
    ] {
        let err = read_back(&run_steps, definition.clone()).unwrap_err();
        assert_eq!(
            err.code(),
            ErrorCode::WorkflowUnreadable,
            "{definition}: {err}"
        );
    }
}
