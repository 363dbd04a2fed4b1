//! Driving one run: fold its events, do what the state says next, record it before acting
//! on it, and again — until the run ends, waits for a person, or is no longer ours.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::definition::idempotency_key;
use super::engine::{AGENT_STREAM, Agents};
use super::journal::{AgentRun, AgentRunStatus, LiveEvent, RecordedEvent, RunError, RunEvent};
use super::state::{Actions, Next, RunState};
use super::toolbox::{CallIdentity, ResolvedTools};
use crate::chat::{ChatMessage, ChatOptions, ResponseFormat, Sampling, ToolChoice, Tools};
use crate::error::{Error, Result};
use crate::events::NewEvent;
use crate::model::{ChatModel, Tokenizer};
use crate::{Id, Timestamp};

/// Forgets the run from the process's table however the driver ends.
struct Driving<'e> {
    engine: &'e Agents,
    id: Id,
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        if let Ok(mut driving) = self.engine.driving.lock() {
            driving.remove(&self.id);
        }
    }
}

/// A run being driven: its summary, its folded state, and what it calls.
struct Drive {
    run: AgentRun,
    state: RunState,
    tools: ResolvedTools,
    model: Arc<dyn ChatModel>,
    tokenizer: Option<Arc<dyn Tokenizer>>,
}

impl Agents {
    /// Drives run `id` in the background unless this process already does.
    pub(super) fn spawn_drive(self: &Arc<Self>, id: Id) {
        if self.handed_back.load(Ordering::SeqCst) {
            return;
        }
        let (switch, cancelled) = watch::channel(false);
        match self.driving.lock() {
            Ok(mut driving) if !driving.contains_key(&id) => {
                driving.insert(id, switch);
            }
            _ => return,
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let _driving = Driving {
                engine: &engine,
                id,
            };
            if let Err(err) = engine.drive(id, cancelled).await {
                tracing::warn!(run = %id, %err, "agent run stopped on a storage error; \
                    a live process resumes it once its lease lapses");
            }
        });
    }

    async fn drive(self: &Arc<Self>, id: Id, mut cancelled: watch::Receiver<bool>) -> Result<()> {
        let (run, events) = self.store.stored_run(id).await?;
        if run.status.is_final() {
            return Ok(());
        }
        let state = match RunState::fold(&events) {
            Ok(state) => state,
            Err(err) => {
                tracing::warn!(run = %id, %err, "agent run's events do not fold; it cannot go on");
                return Ok(());
            }
        };
        let Some(agent) = state.agent().cloned() else {
            return Ok(());
        };
        let mut drive = Drive {
            run,
            state,
            tools: Default::default(),
            model: Arc::new(NoModel),
            tokenizer: None,
        };
        let setup = async {
            let (model, tokenizer) = self
                .models
                .chat_model(agent.definition.model.as_deref())
                .await?;
            let tools = self
                .toolbox
                .resolve(&drive.run.namespace, &agent.definition)
                .await?;
            Ok::<_, Error>((model, tokenizer, tools))
        };
        match setup.await {
            Ok((model, tokenizer, tools)) => {
                drive.model = model;
                drive.tokenizer = tokenizer;
                drive.tools = tools;
            }
            Err(err) => {
                self.finish(&mut drive, AgentRunStatus::Failed, None, Some(&err))
                    .await?;
                return Ok(());
            }
        }
        loop {
            if *cancelled.borrow_and_update() {
                return Ok(());
            }
            let next = drive.state.next();
            let going = match next {
                Next::Done | Next::WaitApproval => return Ok(()),
                Next::Answer(text) => {
                    let checked = agent
                        .definition
                        .response_format
                        .as_ref()
                        .map_or(Ok(()), |format| format.check_output(&text));
                    match checked {
                        Ok(()) => {
                            self.finish(&mut drive, AgentRunStatus::Succeeded, Some(text), None)
                                .await?
                        }
                        Err(err) => {
                            self.finish(&mut drive, AgentRunStatus::Failed, None, Some(&err))
                                .await?
                        }
                    }
                }
                Next::Fail(error) => {
                    let event = RunEvent::Finished {
                        status: AgentRunStatus::Failed,
                        output: None,
                        error: Some(error),
                    };
                    self.record(&mut drive, vec![event]).await?;
                    false
                }
                Next::OutOfSteps => {
                    let err = Error::AgentMaxSteps {
                        max_steps: agent.definition.max_steps,
                    };
                    self.finish(&mut drive, AgentRunStatus::Failed, None, Some(&err))
                        .await?
                }
                Next::CallModel { step } => {
                    let call = tokio::select! {
                        biased;
                        _ = cancelled.wait_for(|c| *c) => return Ok(()),
                        call = self.call_model(&drive, step) => call,
                    };
                    match call {
                        Ok(event) => self.record(&mut drive, vec![event]).await?,
                        Err(err) => {
                            self.finish(&mut drive, AgentRunStatus::Failed, None, Some(&err))
                                .await?
                        }
                    }
                }
                Next::Act(actions) => self.act(&mut drive, actions).await?,
            };
            if !going {
                return Ok(());
            }
        }
    }

    /// Asks the model for step `step`: within the run's token budget, charged before and
    /// settled after.
    async fn call_model(&self, drive: &Drive, step: u32) -> Result<RunEvent> {
        let Some(agent) = drive.state.agent() else {
            return Err(Error::internal("a run without its agent"));
        };
        let definition = &agent.definition;
        let messages = drive.state.messages();
        let choice = if step == 1 {
            definition.tool_choice.clone()
        } else {
            ToolChoice::Auto
        };
        // A tool that had its `max_calls` is no longer offered.
        let offered: Vec<_> = drive
            .tools
            .definitions
            .iter()
            .filter(|tool| {
                definition
                    .max_calls
                    .get(&tool.name)
                    .is_none_or(|limit| drive.state.calls_of(&tool.name) < *limit)
            })
            .cloned()
            .collect();
        let choice = match choice {
            ToolChoice::Function(name) if !offered.iter().any(|t| t.name == name) => {
                ToolChoice::Auto
            }
            _ if offered.is_empty() => ToolChoice::None,
            choice => choice,
        };
        // One call per reply while a limited tool is offered: the grammar then cannot let a
        // reply make more calls of it than it has left.
        let parallel = !offered
            .iter()
            .any(|tool| definition.max_calls.contains_key(&tool.name));
        let options = ChatOptions {
            response_format: definition
                .response_format
                .clone()
                .unwrap_or(ResponseFormat::Text),
            tools: Tools {
                definitions: offered,
                choice,
                parallel,
            },
        };
        // Greedy: a resumed or forked run asks exactly what an uninterrupted one would.
        let sampling = Sampling::greedy(definition.max_tokens);
        if let Some(budget) = definition.token_budget {
            let used = u64::from(drive.state.usage().prompt_tokens)
                + u64::from(drive.state.usage().completion_tokens);
            let prompt = prompt_tokens(drive.tokenizer.as_deref(), &messages, &options)?;
            let needed = prompt + u64::from(definition.max_tokens);
            let left = budget.saturating_sub(used);
            if needed > left {
                return Err(Error::AgentBudgetExceeded {
                    budget,
                    left,
                    needed,
                });
            }
        }
        let charge = match &self.charger {
            Some(charger) => Some(
                charger
                    .reserve(&drive.run.namespace, definition.max_tokens)
                    .await?,
            ),
            None => None,
        };
        let done = self
            .generate(drive, step, &messages, &sampling, &options)
            .await;
        if let Some(charge) = charge {
            charge.settle(done.as_ref().ok().map(|d| d.usage)).await;
        }
        let mut done = done?;
        // Ids of the run's own making (`call_<step>_<n>`): a resumed, forked or repeated run
        // shows the model the same conversation, and the ids say where a call came from.
        for (i, call) in done.tool_calls.iter_mut().enumerate() {
            call.id = format!("call_{step}_{}", i + 1);
        }
        Ok(RunEvent::ModelOutput {
            step,
            text: done.text,
            tool_calls: done.tool_calls,
            finish_reason: done.finish_reason,
            usage: done.usage,
        })
    }

    /// The model's reply to `messages`, its text told to this process's subscribers as it is
    /// generated (the model streams free text; a reply that may be calls comes whole).
    async fn generate(
        &self,
        drive: &Drive,
        step: u32,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<crate::chat::Completion> {
        use crate::chat::StreamEvent;
        let mut stream = drive
            .model
            .chat_stream_with(messages, sampling, options)
            .await?;
        let mut text = String::new();
        let mut calls = Vec::new();
        while let Some(event) = stream.next().await {
            match event? {
                StreamEvent::Delta { text: more } => {
                    let delta = LiveEvent::Delta {
                        step,
                        text: more.clone(),
                    };
                    let _ = self.live.send((drive.run.id, delta));
                    text.push_str(&more);
                }
                StreamEvent::ToolCalls { calls: made } => calls = made,
                StreamEvent::Logprobs { .. } => {}
                StreamEvent::Done {
                    finish_reason,
                    usage,
                } => {
                    let mut done = crate::chat::Completion::new(text, finish_reason, usage);
                    done.tool_calls = calls;
                    return Ok(done);
                }
            }
        }
        Err(Error::internal("the model's reply ended without its end"))
    }

    /// Acts on a reply's calls: rejections answered, approvals asked, the rest made — all
    /// recorded as started before any is made, then concurrently, each result recorded as it
    /// comes. Returns false when the run is no longer this process's.
    async fn act(&self, drive: &mut Drive, actions: Actions) -> Result<bool> {
        let mut first: Vec<RunEvent> = Vec::new();
        for (call, error) in &actions.refuse {
            first.push(RunEvent::ToolResult {
                call_id: call.id.clone(),
                output: None,
                error: Some(error.clone()),
            });
        }
        for (call, reason) in &actions.reject {
            let message = match reason {
                Some(reason) => format!("a person rejected this call: {reason}"),
                None => "a person rejected this call".to_owned(),
            };
            first.push(RunEvent::ToolResult {
                call_id: call.id.clone(),
                output: Some(json!({"rejected": true, "reason": message})),
                error: None,
            });
        }
        for call in &actions.ask {
            first.push(RunEvent::ApprovalRequested {
                call_id: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            });
        }
        for call in &actions.call {
            if !drive.state.was_started(&call.id) {
                first.push(RunEvent::ToolCallStarted {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    idempotency_key: idempotency_key(drive.run.id, &call.id),
                });
            }
        }
        if !first.is_empty() && !self.record(drive, first).await? {
            return Ok(false);
        }
        let run = &drive.run;
        let agent_name = run.agent.clone();
        let context = drive.state.context();
        let mut calls: FuturesUnordered<_> = actions
            .call
            .iter()
            .map(|call| {
                let key = idempotency_key(run.id, &call.id);
                let tools = &drive.tools;
                let namespace = &run.namespace;
                let correlation = &run.correlation_id;
                let agent_name = &agent_name;
                async move {
                    let who = CallIdentity {
                        namespace,
                        agent: agent_name,
                        context,
                        correlation_id: correlation,
                        idempotency_key: &key,
                    };
                    let outcome = self.toolbox.call(tools, &who, call).await;
                    (call.id.clone(), outcome)
                }
            })
            .collect();
        let mut results = Vec::new();
        while let Some((call_id, outcome)) = calls.next().await {
            let (output, error) = match outcome {
                Ok(output) => (Some(output), None),
                Err(err) => (None, Some(RunError::from(&err))),
            };
            results.push(RunEvent::ToolResult {
                call_id,
                output,
                error,
            });
        }
        drop(calls);
        // Recorded one by one in the order they came: a result is kept even when a later
        // one's write fails.
        for result in results {
            if !self.record(drive, vec![result]).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Ends the run.
    async fn finish(
        &self,
        drive: &mut Drive,
        status: AgentRunStatus,
        output: Option<String>,
        error: Option<&Error>,
    ) -> Result<bool> {
        let answer = output.clone();
        let event = RunEvent::Finished {
            status,
            output,
            error: error.map(RunError::from),
        };
        let written = self.record(drive, vec![event]).await?;
        if let (true, Some(answer), Some(context)) = (written, answer, drive.state.context()) {
            self.remember_turn(drive, context, answer).await;
        }
        Ok(false)
    }

    /// Appends the run's input and answer to its context, once its end is recorded (at most
    /// once: a crash between the two loses the turn from the context, never the run's record).
    async fn remember_turn(&self, drive: &Drive, context: Id, answer: String) {
        use crate::chat::Role;
        use crate::context::NewMessage;
        let Some(contexts) = self.toolbox.contexts() else {
            return;
        };
        let namespace = &drive.run.namespace;
        for message in [
            NewMessage::new(Role::User, drive.state.input()),
            NewMessage::new(Role::Assistant, answer),
        ] {
            if let Err(err) = contexts.append(namespace, context, message).await {
                tracing::warn!(run = %drive.run.id, %context, %err,
                    "the agent run's turn could not be added to its context");
                return;
            }
        }
    }

    /// Appends `events` through the run's lease and folds them in; false (nothing written)
    /// when the run is no longer this process's (cancelled, or taken over).
    async fn record(&self, drive: &mut Drive, events: Vec<RunEvent>) -> Result<bool> {
        let mut next = drive.state.clone();
        for event in &events {
            next.apply(event)?;
        }
        let after = drive.state.events();
        let written = self
            .store
            .append(drive.run.id, &self.owner, after, &events, &next.progress())
            .await?;
        if !written {
            return Ok(false);
        }
        drive.state = next;
        let at = Timestamp::now();
        for (i, event) in events.into_iter().enumerate() {
            let recorded = RecordedEvent {
                seq: after + i as u64 + 1,
                at,
                event,
            };
            self.publish(&drive.run, &recorded).await;
        }
        Ok(true)
    }

    /// Tells this process's subscribers and mirrors the event to the event log (best
    /// effort: the run's own stream is the truth).
    pub(super) async fn publish(&self, run: &AgentRun, recorded: &RecordedEvent) {
        let _ = self
            .live
            .send((run.id, LiveEvent::Recorded(recorded.clone())));
        let Some(log) = &self.events else {
            return;
        };
        let mut data = serde_json::to_value(recorded).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut data {
            map.insert("run".into(), json!(run.id));
            map.insert("agent".into(), json!(run.agent));
        }
        log.emit(NewEvent {
            namespace: run.namespace.clone(),
            subject: Some(format!("agent-runs/{}", run.id)),
            correlationid: Some(run.correlation_id.clone()),
            ..NewEvent::new(AGENT_STREAM, recorded.event.kind(), data)
        })
        .await;
    }

    /// Keeps this process's leases alive and takes over runs whose process stopped, every
    /// third of `lease_ms`, until the task is aborted.
    pub fn spawn_recovery(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        let every = Duration::from_millis((self.config.lease_ms / 3).max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = self.recover_once().await {
                    tracing::warn!(%err, "agent lease renewal or recovery failed");
                }
            }
        })
    }

    /// One round of [`spawn_recovery`](Self::spawn_recovery); returns the runs it resumed.
    pub async fn recover_once(self: &Arc<Self>) -> Result<Vec<Id>> {
        if self.handed_back.load(Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        let lease = self.lease();
        let driving: Vec<Id> = self
            .driving
            .lock()
            .map(|d| d.keys().copied().collect())
            .unwrap_or_default();
        self.store
            .renew_leases(&self.owner, &driving, lease.until)
            .await?;
        let room = self.config.max_running.saturating_sub(driving.len() as u32);
        if room == 0 {
            return Ok(Vec::new());
        }
        let claimed = self
            .store
            .claim_lapsed(&lease, Timestamp::now(), room)
            .await?;
        for id in &claimed {
            tracing::info!(run = %id, "resuming an agent run whose process stopped");
            self.spawn_drive(*id);
        }
        Ok(claimed)
    }

    /// A planned stop: stops driving and lets this process's leases lapse now, so another
    /// process takes the runs over at once. Afterwards nothing starts here (`SP-GEN-002`).
    pub async fn hand_back(&self) -> Result<Vec<Id>> {
        self.handed_back.store(true, Ordering::SeqCst);
        let runs: Vec<Id> = match self.driving.lock() {
            Ok(driving) => driving
                .iter()
                .map(|(id, switch)| {
                    switch.send_replace(true);
                    *id
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        self.store
            .renew_leases(&self.owner, &runs, Timestamp::now())
            .await?;
        Ok(runs)
    }
}

/// The prompt's tokens as the budget counts them: every message's text and calls with the
/// tokenizer's per-message overhead, plus the tool schemas; without a tokenizer, one token
/// per 3 bytes (more than any real tokenizer's average: the budget errs on the safe side).
fn prompt_tokens(
    tokenizer: Option<&dyn Tokenizer>,
    messages: &[ChatMessage],
    options: &ChatOptions,
) -> Result<u64> {
    let tools = serde_json::to_string(&options.tools.definitions).unwrap_or_default();
    let mut total = 0u64;
    for message in messages {
        let calls = serde_json::to_string(&message.tool_calls).unwrap_or_default();
        total += match tokenizer {
            Some(t) => {
                (t.count_tokens(&message.content)?
                    + t.count_tokens(&calls)?
                    + t.message_overhead(message.role)) as u64
            }
            None => (message.content.len() + calls.len()).div_ceil(3) as u64 + 4,
        };
    }
    total += match tokenizer {
        Some(t) => t.count_tokens(&tools)? as u64,
        None => tools.len().div_ceil(3) as u64,
    };
    Ok(total)
}

/// Stands in until the run's model is known.
struct NoModel;

#[async_trait::async_trait]
impl ChatModel for NoModel {
    async fn chat(&self, _: &[ChatMessage], _: &Sampling) -> Result<crate::chat::Completion> {
        Err(Error::unavailable("model", "none is loaded"))
    }

    async fn chat_stream(
        &self,
        _: &[ChatMessage],
        _: &Sampling,
    ) -> Result<futures::stream::BoxStream<'static, Result<crate::chat::StreamEvent>>> {
        Err(Error::unavailable("model", "none is loaded"))
    }
}
