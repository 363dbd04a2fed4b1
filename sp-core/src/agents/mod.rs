//! Agents: model ↔ tool loops whose runs are event-sourced.
//!
//! An [`Agent`] is a versioned definition (model, instructions, tools selected from the hub
//! and the built-ins, memory blocks, `max_steps`, `tool_choice`, a final `response_format`,
//! approvals, a token budget). A run loops: the model is asked with the tools
//! (grammar-enforced calls), the calls it makes are made (concurrently, through the hub's
//! validation, timeouts, retries and breakers), their results go back as `tool` messages,
//! until the model answers, `max_steps`, the budget, a cancellation or an error ends it.
//!
//! Every step is recorded on the run's stream *before* it is acted on ([`RunEvent`]), and
//! the run's state is the fold of those events ([`RunState`]). So a run resumes in another
//! process after a crash without generating a recorded reply again or repeating a recorded
//! tool result, replays from its events alone, and forks from any step. Backend-free: the
//! stores are in `sp-data` ([`AgentStore`]; [`MemoryAgentStore`] in the process). See
//! `docs/agents.md`.

mod builtins;
mod control;
mod definition;
mod drive;
mod engine;
mod inline;
mod journal;
mod memory;
mod model_step;
mod prompt;
mod recovery;
mod state;
mod store;
mod toolbox;

pub use builtins::{BUILTIN_TOOLS, Builtins, builtin_definition};
pub use definition::{
    Agent, ApprovalPolicy, MAX_STEPS_LIMIT, NewAgent, NewAgentRun, ToolSelector, idempotency_key,
};
pub use engine::{AGENT_STREAM, AgentModels, Agents, NoModels, OneModel, ReplayReport};
pub use inline::InlineRun;
pub use journal::{
    AgentRun, AgentRunStatus, LiveEvent, RecordedEvent, RunError, RunEvent, RunProgress,
};
pub use memory::MemoryAgentStore;
pub use state::{Actions, Next, RunState};
pub use store::AgentStore;
pub use toolbox::{CallIdentity, ResolvedTools, Toolbox};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_calls;
#[cfg(test)]
mod tests_facts;
#[cfg(test)]
mod tests_inline;
#[cfg(test)]
mod tests_window;
