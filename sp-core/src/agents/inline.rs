//! Runs of a definition that is not stored: a caller that keeps its own conversation (the
//! Responses API's server-side tools) runs a one-off agent over it. The definition travels in
//! the run's `started` event, as a stored agent's does, so such a run resumes, replays and
//! forks like any other; it is listed under its definition's name with version 0.

use std::sync::Arc;

use super::definition::{Agent, NewAgent};
use super::engine::{Agents, check_choice, check_start};
use super::journal::{AgentRun, RunEvent};
use crate::chat::{ChatMessage, Usage};
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::workflows::ChargeKey;
use crate::{Id, Timestamp};

/// A run of a one-off definition on a conversation its caller keeps.
///
/// ```no_run
/// # async fn demo(agents: std::sync::Arc<sp_core::agents::Agents>) -> sp_core::Result<()> {
/// use sp_core::agents::{InlineRun, NewAgent, ToolSelector};
/// use sp_core::chat::ChatMessage;
/// let mut agent = NewAgent::new("responses", "Answer from the knowledge store.");
/// agent.tools = vec![ToolSelector::Builtin("knowledge_search".into())];
/// let run = InlineRun {
///     history: vec![ChatMessage::user("Hi"), ChatMessage::assistant("Hello!")],
///     ..InlineRun::new(agent, "What does the handbook say about leave?")
/// };
/// let ns = Default::default();
/// let started = agents.start_inline(&ns, run).await?;
/// let done = agents.wait(&ns, started.id, std::time::Duration::from_secs(60)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InlineRun {
    /// The definition (its namespace is the run's; it is checked as `define` checks one).
    pub agent: NewAgent,
    /// The conversation before the input (not counting the system prompt).
    pub history: Vec<ChatMessage>,
    /// The user's message.
    pub input: String,
    /// Events of the run carry it (default: the run's id).
    pub correlation_id: Option<String>,
    /// The key its model calls are charged to besides the tenant.
    pub charge_to: Option<ChargeKey>,
}

impl InlineRun {
    /// A run of `agent` on `input` alone.
    pub fn new(agent: NewAgent, input: impl Into<String>) -> Self {
        InlineRun {
            agent,
            history: Vec::new(),
            input: input.into(),
            correlation_id: None,
            charge_to: None,
        }
    }
}

impl Agents {
    /// Starts a run of a definition that is not stored, after `run.history`, and returns it
    /// at once (`running`); this process drives it. Nothing is appended to any context: the
    /// caller keeps the conversation. Refused before anything is stored, with the codes
    /// [`Agents::define`] and [`Agents::start`] use.
    pub async fn start_inline(
        self: &Arc<Self>,
        namespace: &Namespace,
        run: InlineRun,
    ) -> Result<AgentRun> {
        self.check_not_stopping()?;
        check_start(&run.input, run.correlation_id.as_deref())?;
        let definition = NewAgent {
            namespace: namespace.clone(),
            ..run.agent
        };
        definition.validate()?;
        let tools = self.toolbox.resolve(namespace, &definition).await?;
        check_choice(&definition, &tools)?;
        let now = Timestamp::now();
        let agent = Agent {
            definition,
            version: 0,
            created_at: now,
            updated_at: now,
        };
        let system = self.system_prompt(namespace, &agent).await?;
        let started = RunEvent::Started {
            agent: Box::new(agent.clone()),
            system,
            input: run.input,
            context: None,
            history: run.history,
            charge_to: run.charge_to,
            compaction: Usage::default(),
            summarised_tokens: 0,
        };
        self.create_and_drive(
            namespace,
            Id::new(),
            &agent,
            run.correlation_id,
            vec![started],
        )
        .await
    }
}
