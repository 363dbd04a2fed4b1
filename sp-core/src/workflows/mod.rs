//! Workflows: a DAG of steps (tool calls through the hub, model calls, knowledge searches,
//! conditions) whose inputs are wired from the run's input and earlier steps' outputs.
//!
//! This module holds the backend-free part: definitions ([`NewWorkflow`]), their checks and
//! step order ([`plan`]) and input wiring ([`render`]). Persisted, resumable runs build on it.

mod plan;
mod types;
mod wire;

pub use plan::{dependencies, plan, references};
pub use types::{Action, NewWorkflow, Step};
pub use wire::render;

#[cfg(test)]
mod tests;
