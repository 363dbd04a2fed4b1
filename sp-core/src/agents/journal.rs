//! What an agent run records: the events of its stream, each written before its effect is
//! acted on, and the run's summary row.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::definition::Agent;
use crate::chat::{FinishReason, ToolCall, Usage};
use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// One event of a run's stream. The run's state is a fold of them ([`RunState`](super::RunState)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run began: the definition it runs (as it was then) and the conversation so far.
    Started {
        /// The agent's definition, frozen for the run.
        agent: Box<Agent>,
        /// The system prompt: instructions and memory blocks as they were at the start (kept
        /// for the whole run, so every step's prompt extends the previous one).
        system: String,
        /// The user's message.
        input: String,
        /// The context the run continues, when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<Id>,
        /// The context's latest turns as they were at the start (before the input).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        history: Vec<crate::chat::ChatMessage>,
        /// The key its model calls are charged to besides the tenant, when one started it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        charge_to: Option<crate::workflows::ChargeKey>,
        /// What compacting the context's older turns into its summary cost before the run
        /// began (counted in the run's usage).
        #[serde(default, skip_serializing_if = "Usage::is_zero")]
        compaction: Usage,
        /// Tokens of the context's turns that compaction folded into the summary for this
        /// run (the model saw them summarised, not word for word).
        #[serde(default, skip_serializing_if = "is_zero")]
        summarised_tokens: u64,
    },
    /// A copy of another run's events up to a step, run on from there.
    Forked {
        /// The run it was forked from.
        from: Id,
        /// The step it re-runs from.
        step: u32,
    },
    /// The model's reply at a step: an answer, or tool calls.
    ModelOutput {
        /// 1 for the first model call of the run.
        step: u32,
        /// The text (empty when the reply is calls only).
        text: String,
        /// The calls it made.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
        /// Why generation ended.
        finish_reason: FinishReason,
        /// Its token accounting.
        usage: Usage,
        /// Tool results the prompt showed as elided notes to fit the model's window.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        elided: Vec<String>,
    },
    /// A tool call is about to be made (repeated with the same idempotency key when its
    /// process stopped before its result was recorded).
    ToolCallStarted {
        /// The call's id (from the model output).
        call_id: String,
        /// The tool.
        name: String,
        /// `run id:call id`, sent as `Idempotency-Key`.
        idempotency_key: String,
    },
    /// A tool call's result, as the model sees it.
    ToolResult {
        /// The call's id.
        call_id: String,
        /// The tool's JSON answer, when it succeeded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Value>,
        /// Its coded error, when it failed (the model is told).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<RunError>,
    },
    /// A call waits for a person's decision.
    ApprovalRequested {
        /// The call's id.
        call_id: String,
        /// The tool.
        name: String,
        /// Its arguments (JSON text).
        arguments: String,
    },
    /// A person's decision on a call.
    ApprovalDecided {
        /// The call's id.
        call_id: String,
        /// Approved or rejected.
        approved: bool,
        /// Why (a rejection's reason is what the model sees).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The run ended.
    Finished {
        /// How.
        status: AgentRunStatus,
        /// The final answer, when it succeeded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<RunError>,
    },
}

impl RunEvent {
    /// The event's type as the event log names it (`agent.run.model_output`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            RunEvent::Started { .. } => "agent.run.started",
            RunEvent::Forked { .. } => "agent.run.forked",
            RunEvent::ModelOutput { .. } => "agent.run.model_output",
            RunEvent::ToolCallStarted { .. } => "agent.run.tool_call",
            RunEvent::ToolResult { .. } => "agent.run.tool_result",
            RunEvent::ApprovalRequested { .. } => "agent.run.approval_requested",
            RunEvent::ApprovalDecided { .. } => "agent.run.approval_decided",
            RunEvent::Finished { .. } => "agent.run.finished",
        }
    }
}

/// An event as stored: its place in the run's stream and when it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordedEvent {
    /// 1 for the run's first event, one more for each after it.
    pub seq: u64,
    /// When it was written.
    pub at: Timestamp,
    /// The event.
    #[serde(flatten)]
    pub event: RunEvent,
}

/// A coded error as a run keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunError {
    /// The stable code (`SP-…`).
    pub code: String,
    /// What happened.
    pub message: String,
}

impl From<&crate::Error> for RunError {
    fn from(err: &crate::Error) -> Self {
        RunError {
            code: err.code().as_str().to_owned(),
            message: err.to_string(),
        }
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgentRunStatus {
    /// The loop goes on (in whichever process holds the run's lease).
    Running,
    /// A tool call waits for a person's approval.
    WaitingApproval,
    /// The model answered.
    Succeeded,
    /// It ended on an error (recorded with its code).
    Failed,
    /// Cancelled.
    Cancelled,
}

impl AgentRunStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AgentRunStatus::Running => "running",
            AgentRunStatus::WaitingApproval => "waiting_approval",
            AgentRunStatus::Succeeded => "succeeded",
            AgentRunStatus::Failed => "failed",
            AgentRunStatus::Cancelled => "cancelled",
        }
    }

    /// The status of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "running" => AgentRunStatus::Running,
            "waiting_approval" => AgentRunStatus::WaitingApproval,
            "succeeded" => AgentRunStatus::Succeeded,
            "failed" => AgentRunStatus::Failed,
            "cancelled" => AgentRunStatus::Cancelled,
            _ => return None,
        })
    }

    /// Whether the run is over.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            AgentRunStatus::Succeeded | AgentRunStatus::Failed | AgentRunStatus::Cancelled
        )
    }
}

/// A run's summary: what the stores keep beside its events, for listing and waiting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentRun {
    /// The run.
    pub id: Id,
    /// The tenant.
    pub namespace: Namespace,
    /// The agent's name.
    pub agent: String,
    /// The agent's version it runs.
    pub version: u32,
    /// Where it is.
    pub status: AgentRunStatus,
    /// The user's message.
    pub input: String,
    /// The final answer.
    pub output: Option<String>,
    /// Why it failed.
    pub error: Option<RunError>,
    /// Model calls made.
    pub steps: u32,
    /// Tokens used by its model calls.
    pub usage: Usage,
    /// Events of the run carry it.
    pub correlation_id: String,
    /// Events recorded so far (the next one is `events + 1`).
    pub events: u64,
    /// When it started.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// The summary fields an append changes along with its events.
#[derive(Debug, Clone, PartialEq)]
pub struct RunProgress {
    /// The status after the events.
    pub status: AgentRunStatus,
    /// Model calls made.
    pub steps: u32,
    /// Tokens used.
    pub usage: Usage,
    /// The final answer, once there is one.
    pub output: Option<String>,
    /// The error it ended on.
    pub error: Option<RunError>,
}

/// What a process's subscribers hear of a run ([`Agents::subscribe`](super::Agents::subscribe)):
/// each event as it is recorded, and — live only, never recorded — the text of a model reply
/// as it is generated (the reply itself is recorded whole, as its `model_output`).
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// An event, just recorded.
    Recorded(RecordedEvent),
    /// More text of the reply of model call `step`.
    Delta {
        /// The model call.
        step: u32,
        /// The text.
        text: String,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
