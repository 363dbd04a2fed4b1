//! Who may read what a run produced: a step's output is what its action read — document text
//! (a search step), a service's answer (a tool step), the model's reply (a model step) — so a
//! reader sees it only with the scope that action needs, as if it had asked for it directly
//! (review finding M5: `events` alone used to read every step's output).

use serde_json::Value;

use super::runs::Run;
use super::types::{Action, Step};
use crate::auth::Scope;

impl Action {
    /// The scope performing this action needs, besides `events` (none for a condition).
    pub fn scope(&self) -> Option<Scope> {
        match self {
            Action::Tool { .. } => Some(Scope::Registry),
            Action::Model { .. } => Some(Scope::Inference),
            Action::Search { .. } => Some(Scope::DocumentsRead),
            Action::Agent { .. } => Some(Scope::Inference),
            Action::Condition { .. } => None,
        }
    }
}

/// Withholds from `run` the outputs of the steps whose action needs a scope the reader lacks
/// (`allows` says which it holds): their `output` becomes `null` and so does their entry in
/// the run's `output`. Without the run's definition (`None`: it no longer reads) every output
/// is withheld unless the reader holds all the scopes steps may need. Returns how many were.
///
/// ```
/// use serde_json::json;
/// use sp_core::auth::Scope;
/// use sp_core::workflows::{Run, Step, withhold_outputs};
///
/// let steps: Vec<Step> = serde_json::from_value(json!([
///     {"id": "find", "kind": "search", "query": "q"}
/// ])).unwrap();
/// # let mut run: Run = serde_json::from_value(json!({"id": sp_core::Id::new(), "namespace": "default",
/// #   "workflow": "w", "version": 1, "status": "succeeded", "input": {}, "output": {"find": 1},
/// #   "error": null, "correlation_id": "c", "created_at": "2026-01-01T00:00:00Z",
/// #   "updated_at": "2026-01-01T00:00:00Z", "finished_at": null,
/// #   "steps": [{"id": "find", "status": "succeeded", "attempts": 1, "interruptions": 0,
/// #              "output": {"hits": []}, "error": null, "started_at": null, "finished_at": null}]})).unwrap();
/// let withheld = withhold_outputs(&mut run, Some(&steps), |scope| scope == Scope::Events);
/// assert_eq!((withheld, run.steps[0].output.is_none()), (1, true));
/// ```
pub fn withhold_outputs(
    run: &mut Run,
    definition: Option<&[Step]>,
    allows: impl Fn(Scope) -> bool,
) -> usize {
    let every = [Scope::Registry, Scope::Inference, Scope::DocumentsRead];
    let readable = |id: &str| match definition {
        Some(steps) => steps
            .iter()
            .find(|step| step.id == id)
            .is_some_and(|step| step.action.scope().is_none_or(&allows)),
        None => every.into_iter().all(&allows),
    };
    let mut withheld = 0;
    for step in &mut run.steps {
        if step.output.is_some() && !readable(&step.id) {
            step.output = None;
            withheld += 1;
            if let Some(Value::Object(outputs)) = &mut run.output
                && let Some(entry) = outputs.get_mut(&step.id)
            {
                *entry = Value::Null;
            }
        }
    }
    withheld
}
