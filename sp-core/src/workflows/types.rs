//! Workflow definitions: a DAG of steps whose inputs are wired from earlier outputs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::knowledge::Namespace;

/// A workflow to define.
///
/// ```
/// use serde_json::json;
/// let workflow: sp_core::workflows::NewWorkflow = serde_json::from_value(json!({
///     "name": "answer",
///     "steps": [
///         {"id": "find", "kind": "search", "query": "{{input.question}}", "k": 3},
///         {"id": "reply", "kind": "model",
///          "prompt": "Answer {{input.question}} from {{steps.find.output}}"}
///     ]
/// })).unwrap();
/// assert_eq!(sp_core::workflows::plan(&workflow).unwrap(), ["find", "reply"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewWorkflow {
    /// The tenant.
    #[serde(default)]
    pub namespace: Namespace,
    /// 1-64 characters of `a-z A-Z 0-9 . _ -`.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// The steps (1-100), in any order: dependencies decide when each runs.
    pub steps: Vec<Step>,
}

/// One step: what it does, what it waits for, how hard it tries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Step {
    /// Unique in the workflow: 1-64 characters of `a-z A-Z 0-9 _ -`.
    pub id: String,
    /// What it does.
    #[serde(flatten)]
    pub action: Action,
    /// Steps it waits for besides those its inputs name.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Runs only when this condition step (an earlier one) came out `true`; skipped
    /// otherwise, and so are the steps that need it.
    #[serde(default)]
    pub when: Option<String>,
    /// Further attempts after a failure (0-10, default 0).
    #[serde(default)]
    pub retries: u32,
}

/// What a step does. Strings in its inputs may hold `{{input.path}}` (the run's input) and
/// `{{steps.<id>.output.path}}` (an earlier step's output); a string that is exactly one
/// reference takes the referenced JSON value as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Calls a tool through the service hub.
    Tool {
        /// The tool's name.
        tool: String,
        /// Only this service's tool.
        #[serde(default)]
        service: Option<String>,
        /// The arguments (wired; default `{}`).
        #[serde(default = "no_arguments")]
        arguments: Value,
    },
    /// Asks the loaded model.
    Model {
        /// The user message (wired).
        prompt: String,
        /// A system message.
        #[serde(default)]
        system: Option<String>,
        /// The most tokens to generate.
        #[serde(default)]
        max_tokens: Option<u32>,
    },
    /// Searches the knowledge store (hybrid).
    Search {
        /// The query (wired).
        query: String,
        /// Passages to return (default 5).
        #[serde(default)]
        k: Option<usize>,
    },
    /// Runs an agent (docs/agents.md) on a wired message and waits for its end: outputs
    /// `{"run_id", "status", "output", "steps", "usage"}`; a run that fails or is cancelled
    /// fails the step (`SP-WF-007`). A run waiting for approval keeps the step waiting.
    Agent {
        /// The agent's name.
        agent: String,
        /// The user's message (wired).
        input: String,
    },
    /// Compares a wired value: outputs `true` or `false`, for later steps' `when`.
    Condition {
        /// The value to look at (wired).
        value: Value,
        /// What it must equal for `true`.
        equals: Value,
    },
}

fn no_arguments() -> Value {
    Value::Object(serde_json::Map::new())
}
