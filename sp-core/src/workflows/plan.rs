//! Checking a definition and ordering its steps: names, references, cycles.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::types::{Action, NewWorkflow, Step};
use super::wire::{NUL_REASON, holds_nul};
use crate::error::{Error, Result};

const MAX_STEPS: usize = 100;
const MAX_RETRIES: u32 = 10;
/// References one step's inputs may hold: each fills in a value, so their number bounds
/// what a rendering walks (its size is bounded by `workflows.max_rendered_bytes`).
const MAX_REFERENCES: usize = 1_000;

fn id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Every `{{…}}` reference in `value`'s strings.
pub fn references(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut visit = |text: &str| {
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let Some(end) = rest[start..].find("}}") else {
                break;
            };
            found.push(rest[start + 2..start + end].trim().to_owned());
            rest = &rest[start + end + 2..];
        }
    };
    fn walk(value: &Value, visit: &mut dyn FnMut(&str)) {
        match value {
            Value::String(s) => visit(s),
            Value::Array(items) => items.iter().for_each(|v| walk(v, visit)),
            Value::Object(map) => map.values().for_each(|v| walk(v, visit)),
            _ => {}
        }
    }
    walk(value, &mut visit);
    found
}

/// The step a reference reads from (`steps.<id>.output…`), or `None` for `input…`; an error
/// for anything else.
fn referenced_step<'r>(step: &str, reference: &'r str) -> Result<Option<&'r str>> {
    let mut parts = reference.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("input"), _, _) => Ok(None),
        (Some("steps"), Some(id), Some("output")) => Ok(Some(id)),
        _ => Err(Error::WorkflowWiring {
            step: step.to_owned(),
            reason: format!("`{{{{{reference}}}}}` is neither `input.…` nor `steps.<id>.output…`"),
        }),
    }
}

fn inputs(step: &Step) -> Value {
    match &step.action {
        Action::Tool { arguments, .. } => arguments.clone(),
        Action::Model { prompt, system, .. } => {
            serde_json::json!([prompt, system.clone().unwrap_or_default()])
        }
        Action::Search { query, .. } => Value::String(query.clone()),
        Action::Agent { input, .. } => Value::String(input.clone()),
        Action::Condition { value, .. } => value.clone(),
    }
}

/// Every step `step` waits for: its `needs`, its `when`, and the steps its inputs read.
pub fn dependencies(step: &Step) -> Result<BTreeSet<String>> {
    let mut deps: BTreeSet<String> = step.needs.iter().cloned().collect();
    deps.extend(step.when.iter().cloned());
    for reference in references(&inputs(step)) {
        if let Some(id) = referenced_step(&step.id, &reference)? {
            deps.insert(id.to_owned());
        }
    }
    Ok(deps)
}

/// Checks a definition and returns its steps in an order that runs each after everything it
/// needs (ties in definition order). Refused: bad names, duplicate ids, references to steps
/// that do not exist (`SP-WF-002`), a `when` that names no condition step, and cycles
/// (`SP-WF-001`, naming the steps on it).
pub fn plan(workflow: &NewWorkflow) -> Result<Vec<String>> {
    if !(1..=64).contains(&workflow.name.len())
        || !workflow
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(Error::invalid_input(
            "name",
            "1-64 characters of a-z, A-Z, 0-9, `.`, `_`, `-`",
        ));
    }
    if workflow.description.contains('\0') {
        return Err(Error::invalid_input("description", NUL_REASON));
    }
    if !(1..=MAX_STEPS).contains(&workflow.steps.len()) {
        return Err(Error::invalid_input(
            "steps",
            format!("1-{MAX_STEPS} steps"),
        ));
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (at, step) in workflow.steps.iter().enumerate() {
        if !id_ok(&step.id) {
            return Err(Error::invalid_input(
                format!("steps[{at}].id"),
                "1-64 characters of a-z, A-Z, 0-9, `_`, `-`",
            ));
        }
        if index.insert(&step.id, at).is_some() {
            return Err(Error::invalid_input(
                format!("steps[{at}].id"),
                format!("`{}` is used twice", step.id),
            ));
        }
        if holds_nul(&inputs(step)) {
            return Err(Error::invalid_input(format!("steps[{at}]"), NUL_REASON));
        }
        if references(&inputs(step)).len() > MAX_REFERENCES {
            return Err(Error::invalid_input(
                format!("steps[{at}]"),
                format!("at most {MAX_REFERENCES} `{{{{…}}}}` references per step"),
            ));
        }
        if step.retries > MAX_RETRIES {
            return Err(Error::invalid_input(
                format!("steps[{at}].retries"),
                format!("at most {MAX_RETRIES}"),
            ));
        }
    }
    let mut waits: Vec<BTreeSet<usize>> = Vec::with_capacity(workflow.steps.len());
    for step in &workflow.steps {
        let mut mine = BTreeSet::new();
        for dep in dependencies(step)? {
            let Some(&at) = index.get(dep.as_str()) else {
                return Err(Error::WorkflowWiring {
                    step: step.id.clone(),
                    reason: format!("it reads or needs `{dep}`, which no step of this workflow is"),
                });
            };
            mine.insert(at);
        }
        if let Some(when) = &step.when
            && !matches!(
                workflow.steps[index[when.as_str()]].action,
                Action::Condition { .. }
            )
        {
            return Err(Error::WorkflowWiring {
                step: step.id.clone(),
                reason: format!("its `when` names `{when}`, which is not a condition step"),
            });
        }
        waits.push(mine);
    }
    // Kahn's algorithm, lowest definition index first so the order is stable.
    let mut order = Vec::with_capacity(waits.len());
    let mut done = vec![false; waits.len()];
    while order.len() < waits.len() {
        let next = (0..waits.len()).find(|&i| !done[i] && waits[i].iter().all(|&d| done[d]));
        match next {
            Some(i) => {
                done[i] = true;
                order.push(workflow.steps[i].id.clone());
            }
            None => {
                let stuck: Vec<String> = (0..waits.len())
                    .filter(|&i| !done[i])
                    .map(|i| workflow.steps[i].id.clone())
                    .collect();
                return Err(Error::WorkflowCycle { steps: stuck });
            }
        }
    }
    Ok(order)
}
