//! Workflows: a DAG of steps (tool calls through the hub, model calls, knowledge searches,
//! conditions) whose inputs are wired from the run's input and earlier steps' outputs.
//!
//! Backend-free: definitions ([`NewWorkflow`]), their checks and step order ([`plan`]), input
//! wiring ([`render`]), and the engine ([`Workflows`]) that runs them over a
//! [`WorkflowStore`] (SQLite or PostgreSQL in `sp-data`), performing steps through
//! [`StepActions`] ([`PlatformActions`]: the hub, the knowledge base, the model).

mod actions;
mod charge;
mod config;
mod drive;
mod engine;
mod memory;
mod plan;
mod runs;
mod store;
mod types;
mod visibility;
mod wire;

pub use actions::{PlatformActions, StepActions};
pub use charge::{ChargeKey, ModelStepCharge, ModelStepCharger, TenantCharger, WORKFLOW_KEY_ID};
pub use config::WorkflowsConfig;
pub use engine::{WORKFLOW_STREAM, Workflows};
pub use memory::MemoryWorkflowStore;
pub use plan::{dependencies, plan, references};
pub use runs::{
    Lease, NewRun, Run, RunStatus, StepFailure, StepRun, StepStatus, StoredRun, Workflow,
};
pub use store::WorkflowStore;
pub use types::{Action, NewWorkflow, Step};
pub use visibility::withhold_outputs;
pub use wire::render;

#[cfg(test)]
mod tests;
