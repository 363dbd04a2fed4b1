//! Driving one run: fold its events, do what the state says next, record it before acting
//! on it, and again — until the run ends, waits for a person, or is no longer ours.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::definition::idempotency_key;
use super::engine::{AGENT_STREAM, Agents};
use super::journal::{AgentRun, AgentRunStatus, LiveEvent, RecordedEvent, RunError, RunEvent};
use super::state::{Actions, Next, RunState};
use super::toolbox::{CallIdentity, ResolvedTools};
use crate::chat::{ChatMessage, Sampling};
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
pub(super) struct Drive {
    pub(super) run: AgentRun,
    pub(super) state: RunState,
    pub(super) tools: ResolvedTools,
    pub(super) model: Arc<dyn ChatModel>,
    pub(super) tokenizer: Option<Arc<dyn Tokenizer>>,
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
        let mut answered = None;
        for message in [
            NewMessage::new(Role::User, drive.state.input()),
            NewMessage::new(Role::Assistant, answer),
        ] {
            match contexts.append(namespace, context, message).await {
                Ok(stored) => answered = Some(stored),
                Err(err) => {
                    tracing::warn!(run = %drive.run.id, %context, %err,
                        "the agent run's turn could not be added to its context");
                    return;
                }
            }
        }
        let learns = drive
            .state
            .agent()
            .is_some_and(|a| a.definition.extract_facts);
        if let (true, Some(answer)) = (learns, answered) {
            contexts.learn_from(namespace, &answer).await;
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
