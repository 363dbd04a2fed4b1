//! The agent runtime of a process: defines agents, starts, cancels, resumes, approves,
//! replays and forks runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, watch};

use super::definition::{Agent, NewAgent, NewAgentRun};
use super::journal::{AgentRun, AgentRunStatus, LiveEvent, RecordedEvent, RunEvent};
use super::state::RunState;
use super::store::AgentStore;
use super::toolbox::Toolbox;
use crate::chat::Usage;
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::model::{ChatModel, Tokenizer};
use crate::workflows::{Lease, ModelStepCharger, WorkflowsConfig};
use crate::{Id, Page, PageRequest, Timestamp};

/// The stream agent run events are mirrored to on the event log (in the run's namespace).
pub const AGENT_STREAM: &str = "agents";

const MAX_INPUT_BYTES: usize = 256 * 1024;
const MAX_CORRELATION_CHARS: usize = 128;

/// The most turns of its context a run is shown before its input.
pub const HISTORY_MESSAGES: u64 = 40;

/// Where the runtime gets chat models: the catalogue's, or one fixed model.
#[async_trait]
pub trait AgentModels: Send + Sync {
    /// The chat model `name` (the default chat model when `None`) and, when it has one, its
    /// tokenizer (token budgets are counted with it).
    async fn chat_model(
        &self,
        name: Option<&str>,
    ) -> Result<(Arc<dyn ChatModel>, Option<Arc<dyn Tokenizer>>)>;
}

/// One model for every agent, whatever it names.
pub struct OneModel {
    model: Arc<dyn ChatModel>,
    tokenizer: Option<Arc<dyn Tokenizer>>,
}

impl OneModel {
    /// `model` (with `tokenizer` for budgets) for every agent.
    pub fn new(model: Arc<dyn ChatModel>, tokenizer: Option<Arc<dyn Tokenizer>>) -> Self {
        OneModel { model, tokenizer }
    }
}

#[async_trait]
impl AgentModels for OneModel {
    async fn chat_model(
        &self,
        _name: Option<&str>,
    ) -> Result<(Arc<dyn ChatModel>, Option<Arc<dyn Tokenizer>>)> {
        Ok((self.model.clone(), self.tokenizer.clone()))
    }
}

/// No model at all: every run ends `failed` with `SP-GEN-002` (a platform opened without one).
pub struct NoModels;

#[async_trait]
impl AgentModels for NoModels {
    async fn chat_model(
        &self,
        _name: Option<&str>,
    ) -> Result<(Arc<dyn ChatModel>, Option<Arc<dyn Tokenizer>>)> {
        Err(Error::unavailable(
            "model",
            "this platform has no chat model for agents",
        ))
    }
}

/// What [`Agents::replay`] found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayReport {
    /// The run.
    pub run: Id,
    /// Events folded.
    pub events: u64,
    /// Model calls replayed.
    pub steps: u32,
    /// The status the events reach (the recorded one).
    pub status: AgentRunStatus,
    /// The final answer they reach.
    pub output: Option<String>,
    /// Tokens the recorded model calls used.
    pub usage: Usage,
    /// True: the fold reached the recorded state (a mismatch is an error, `SP-AGT-004`).
    pub matches: bool,
}

/// The agent runtime: runs agents as event-sourced loops of model calls and tool calls.
///
/// ```no_run
/// # async fn demo(agents: std::sync::Arc<sp_core::agents::Agents>) -> sp_core::Result<()> {
/// use sp_core::agents::{NewAgent, NewAgentRun};
/// agents.define(&NewAgent::new("helper", "Answer in one sentence.")).await?;
/// agents.clone().spawn_recovery(); // resume runs whose process stopped
/// let ns = Default::default();
/// let run = agents.start(&ns, "helper", NewAgentRun { input: "What is Rust?".into(),
///     ..Default::default() }).await?;
/// let done = agents.wait(&ns, run.id, std::time::Duration::from_secs(60)).await?;
/// println!("{:?}", done.output);
/// # Ok(()) }
/// ```
pub struct Agents {
    pub(super) store: Arc<dyn AgentStore>,
    pub(super) events: Option<Arc<crate::events::EventLog>>,
    pub(super) models: Arc<dyn AgentModels>,
    pub(super) toolbox: Toolbox,
    pub(super) charger: Option<Arc<dyn ModelStepCharger>>,
    pub(super) config: WorkflowsConfig,
    pub(super) owner: String,
    pub(super) driving: Mutex<HashMap<Id, watch::Sender<bool>>>,
    pub(super) handed_back: AtomicBool,
    pub(super) live: broadcast::Sender<(Id, LiveEvent)>,
}

impl Agents {
    /// A runtime over `store`, asking `models`, calling tools through `toolbox`; runs are
    /// leased as workflow runs are (`config.lease_ms`, `config.max_running`).
    pub fn new(
        store: Arc<dyn AgentStore>,
        models: Arc<dyn AgentModels>,
        toolbox: Toolbox,
        config: WorkflowsConfig,
    ) -> Self {
        Agents {
            store,
            events: None,
            models,
            toolbox,
            charger: None,
            config,
            owner: Id::new().to_string(),
            driving: Mutex::new(HashMap::new()),
            handed_back: AtomicBool::new(false),
            live: broadcast::channel(1024).0,
        }
    }

    /// Mirrors every recorded run event to `log` (stream `agents`).
    pub fn with_events(mut self, log: Arc<crate::events::EventLog>) -> Self {
        self.events = Some(log);
        self
    }

    /// Charges every model call of a run through `charger`, before (reserve) and after
    /// (settle) it runs.
    pub fn with_charger(mut self, charger: Arc<dyn ModelStepCharger>) -> Self {
        self.charger = Some(charger);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn AgentStore> {
        &self.store
    }

    /// Run events as this process records them, and the text of model replies as it is
    /// generated (every run; filter on the id).
    pub fn subscribe(&self) -> broadcast::Receiver<(Id, LiveEvent)> {
        self.live.subscribe()
    }

    pub(super) fn lease(&self) -> Lease {
        let micros = i64::try_from(self.config.lease_ms.saturating_mul(1000)).unwrap_or(i64::MAX);
        let now = Timestamp::now();
        Lease {
            owner: self.owner.clone(),
            until: Timestamp::from_unix_micros(now.unix_micros().saturating_add(micros))
                .unwrap_or(now),
        }
    }

    /// Checks `agent` (fields, and that every tool it selects exists with an object schema)
    /// and stores it as the next version of its name.
    pub async fn define(&self, agent: &NewAgent) -> Result<Agent> {
        agent.validate()?;
        let tools = self.toolbox.resolve(&agent.namespace, agent).await?;
        check_choice(agent, &tools)?;
        self.store.define(agent).await
    }

    /// The tools `agent` would be offered in `namespace` now (what a run of it may call).
    pub async fn tools(
        &self,
        namespace: &Namespace,
        agent: &NewAgent,
    ) -> Result<super::toolbox::ResolvedTools> {
        self.toolbox.resolve(namespace, agent).await
    }

    /// The current definition of `name`.
    pub async fn agent(&self, namespace: &Namespace, name: &str) -> Result<Agent> {
        self.store.agent(namespace, name).await
    }

    /// The namespace's agents by name.
    pub async fn agents(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Agent>> {
        self.store.agents(namespace, page).await
    }

    /// Forgets an agent; its runs (even running ones) go on with their definition.
    pub async fn remove(&self, namespace: &Namespace, name: &str) -> Result<()> {
        self.store.remove_agent(namespace, name).await
    }

    /// Starts a run of agent `name` and returns it at once (`running`); this process drives
    /// it. Refused before anything is stored: an unknown agent (`SP-RES-001`), an empty or
    /// oversized input (`SP-VAL-001`).
    pub async fn start(
        self: &Arc<Self>,
        namespace: &Namespace,
        name: &str,
        new: NewAgentRun,
    ) -> Result<AgentRun> {
        self.check_not_stopping()?;
        check_start(&new.input, new.correlation_id.as_deref())?;
        let agent = self.store.agent(namespace, name).await?;
        let mut system = self.system_prompt(namespace, &agent).await?;
        let (history, compaction, summarised_tokens) = match new.context_id {
            Some(context) => {
                let history = self
                    .history(namespace, context, &agent, &system, &new.input)
                    .await?;
                if let Some(summary) = history.summary {
                    system.push_str(&format!(
                        "\n\n<conversation_summary>\n{summary}\n</conversation_summary>"
                    ));
                }
                self.charge_compaction(namespace, new.charge_to.as_ref(), history.compaction)
                    .await?;
                (history.turns, history.compaction, history.summarised_tokens)
            }
            None => (Vec::new(), Usage::default(), 0),
        };
        let started = RunEvent::Started {
            agent: Box::new(agent.clone()),
            system,
            input: new.input.clone(),
            context: new.context_id,
            history,
            charge_to: new.charge_to.clone(),
            compaction,
            summarised_tokens,
        };
        let id = Id::new();
        self.create_and_drive(namespace, id, &agent, new.correlation_id, vec![started])
            .await
    }

    /// Stores a new run with `events` and drives it here.
    pub(super) async fn create_and_drive(
        self: &Arc<Self>,
        namespace: &Namespace,
        id: Id,
        agent: &Agent,
        correlation_id: Option<String>,
        events: Vec<RunEvent>,
    ) -> Result<AgentRun> {
        let mut state = RunState::default();
        for event in &events {
            state.apply(event)?;
        }
        let now = Timestamp::now();
        let input = events
            .iter()
            .find_map(|e| match e {
                RunEvent::Started { input, .. } => Some(input.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let run = AgentRun {
            id,
            namespace: namespace.clone(),
            agent: agent.definition.name.clone(),
            version: agent.version,
            status: state.status(),
            input,
            output: None,
            error: None,
            steps: state.steps(),
            usage: state.usage(),
            correlation_id: correlation_id.unwrap_or_else(|| id.to_string()),
            events: events.len() as u64,
            created_at: now,
            updated_at: now,
        };
        self.store.create_run(&run, &events, &self.lease()).await?;
        for (i, event) in events.into_iter().enumerate() {
            let recorded = RecordedEvent {
                seq: i as u64 + 1,
                at: now,
                event,
            };
            self.publish(&run, &recorded).await;
        }
        self.spawn_drive(id);
        Ok(run)
    }

    /// Charges what compacting a context for a run cost, to the tenant and `key`.
    async fn charge_compaction(
        &self,
        namespace: &Namespace,
        key: Option<&crate::workflows::ChargeKey>,
        usage: Usage,
    ) -> Result<()> {
        if usage.is_zero() {
            return Ok(());
        }
        if let Some(charger) = &self.charger {
            charger
                .reserve_as(namespace, key, 0)
                .await?
                .settle(Some(usage))
                .await;
        }
        Ok(())
    }

    /// The system prompt of a run starting now: the instructions, then each memory block.
    pub(super) async fn system_prompt(
        &self,
        namespace: &Namespace,
        agent: &Agent,
    ) -> Result<String> {
        let definition = &agent.definition;
        let mut system = definition.instructions.clone();
        if definition.memory_blocks.is_empty() {
            return Ok(system);
        }
        let Some(contexts) = self.toolbox.contexts() else {
            return Ok(system);
        };
        let scope = crate::context::MemoryScope::Agent(definition.name.clone());
        let blocks = contexts.memory(namespace, &scope).await?;
        for label in &definition.memory_blocks {
            let content = blocks
                .iter()
                .find(|b| b.name == *label)
                .map(|b| b.content.as_str())
                .unwrap_or("");
            system.push_str(&format!(
                "\n\n<memory block=\"{label}\">\n{content}\n</memory>"
            ));
        }
        Ok(system)
    }

    /// `SP-GEN-002` once this process handed its runs back (it is stopping).
    pub(super) fn check_not_stopping(&self) -> Result<()> {
        if self.handed_back.load(Ordering::SeqCst) {
            return Err(Error::unavailable(
                "agents",
                "this process is stopping and handed its runs back",
            ));
        }
        Ok(())
    }

    /// A run's summary.
    pub async fn run(&self, namespace: &Namespace, id: Id) -> Result<AgentRun> {
        self.store.run(namespace, id).await
    }

    /// The namespace's runs, newest first; of one agent when `agent` is given.
    pub async fn runs(
        &self,
        namespace: &Namespace,
        agent: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AgentRun>> {
        self.store.runs(namespace, agent, page).await
    }

    /// A run's events from `after + 1`, at most `limit`.
    pub async fn events(
        &self,
        namespace: &Namespace,
        id: Id,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>> {
        self.store.events(namespace, id, after, limit).await
    }

    /// The run once it ended or waits for approval, or as it is after `timeout`.
    pub async fn wait(&self, namespace: &Namespace, id: Id, timeout: Duration) -> Result<AgentRun> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            let run = self.store.run(namespace, id).await?;
            if run.status != AgentRunStatus::Running || tokio::time::Instant::now() >= deadline {
                return Ok(run);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// A run's input and correlation id, checked before anything is stored.
pub(super) fn check_start(input: &str, correlation_id: Option<&str>) -> Result<()> {
    if input.trim().is_empty() || input.len() > MAX_INPUT_BYTES {
        return Err(Error::invalid_input(
            "input",
            format!("1-{MAX_INPUT_BYTES} bytes of text"),
        ));
    }
    crate::nul::refuse_nul("input", input)?;
    if let Some(id) = correlation_id
        && !(1..=MAX_CORRELATION_CHARS).contains(&id.chars().count())
    {
        return Err(Error::invalid_input(
            "correlation_id",
            format!("1-{MAX_CORRELATION_CHARS} characters"),
        ));
    }
    Ok(())
}

/// A `tool_choice` naming a tool must name one of the agent's.
pub(super) fn check_choice(agent: &NewAgent, tools: &super::toolbox::ResolvedTools) -> Result<()> {
    if let crate::chat::ToolChoice::Function(name) = &agent.tool_choice
        && !tools.definitions.iter().any(|d| d.name == *name)
    {
        return Err(Error::invalid_input(
            "tool_choice",
            format!("names `{name}`, which is not among the agent's tools"),
        ));
    }
    Ok(())
}
