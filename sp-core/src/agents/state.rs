//! A run's state as the fold of its events, and what the loop does next from it. Pure: the
//! same events give the same state and the same next move, in any process — which is what
//! makes resume and replay exact.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::definition::{Agent, ApprovalPolicy};
use super::journal::{AgentRunStatus, RecordedEvent, RunError, RunEvent, RunProgress};
use crate::chat::{ChatMessage, ToolCall, Usage};
use crate::error::{Error, Result};

/// One model call and the results of the calls it made.
#[derive(Debug, Clone, PartialEq)]
struct Turn {
    text: String,
    calls: Vec<ToolCall>,
    /// The reply stopped at `max_tokens`.
    cut: bool,
    /// Result message content by call id.
    results: HashMap<String, String>,
    /// A result's error the model cannot work around (the service is down for now).
    fatal: Option<RunError>,
}

/// Tool errors that end the run once the model has been told: the service's breaker is
/// open, so calling again only fails again.
const FATAL_TOOL_ERRORS: [&str; 1] = ["SP-HUB-004"];

/// A run's state: the fold of its events.
///
/// ```
/// use sp_core::agents::{Agent, NewAgent, RunEvent, RunState, Next};
/// # let agent = Agent { definition: NewAgent::new("a", "Be brief."), version: 1,
/// #     created_at: sp_core::Timestamp::now(), updated_at: sp_core::Timestamp::now() };
/// let mut state = RunState::default();
/// state.apply(&RunEvent::Started { agent: Box::new(agent), system: "Be brief.".into(),
///     input: "Hi".into(), context: None, history: Vec::new(), charge_to: None,
///     compaction: Default::default(), summarised_tokens: 0 }).unwrap();
/// assert_eq!(state.next(), Next::CallModel { step: 1 });
/// assert_eq!(state.messages().len(), 2); // system + user
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunState {
    agent: Option<Agent>,
    system: String,
    input: String,
    context: Option<crate::Id>,
    history: Vec<ChatMessage>,
    charge_to: Option<crate::workflows::ChargeKey>,
    turns: Vec<Turn>,
    /// Calls whose `ToolCallStarted` is recorded.
    started: HashSet<String>,
    requested: HashSet<String>,
    decisions: HashMap<String, (bool, Option<String>)>,
    usage: Usage,
    status: Option<AgentRunStatus>,
    output: Option<String>,
    error: Option<RunError>,
    events: u64,
}

/// What the loop does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Ask the model (step `step`).
    CallModel {
        /// The model call's number, from 1.
        step: u32,
    },
    /// Act on the last reply's calls that have no result yet.
    Act(Actions),
    /// The model answered: the run succeeds with this text.
    Answer(String),
    /// `max_steps` model calls were made and the last asked for more tools.
    OutOfSteps,
    /// A call failed in a way the model cannot work around (its service's breaker is open):
    /// the run ends with that error, which the model's conversation records as the result.
    Fail(RunError),
    /// Calls wait for a person; nothing to do until a decision is recorded.
    WaitApproval,
    /// The run ended.
    Done,
}

/// The calls of [`Next::Act`], by what each needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actions {
    /// To make now (approved, or needing no approval; started before and not finished
    /// when a process stopped mid-call).
    pub call: Vec<ToolCall>,
    /// Rejected by a person: their results say so, with the reason.
    pub reject: Vec<(ToolCall, Option<String>)>,
    /// To ask a person about.
    pub ask: Vec<ToolCall>,
    /// Not to make, with the error the model is told: a call past its tool's `max_calls`.
    pub refuse: Vec<(ToolCall, RunError)>,
    /// Some asked calls still wait for a decision.
    pub waiting: bool,
}

impl RunState {
    /// The fold of a run's recorded events, checking that they follow each other (no gap in
    /// `seq`, nothing after the end, no result for a call never made).
    pub fn fold(events: &[RecordedEvent]) -> Result<RunState> {
        let mut state = RunState::default();
        for recorded in events {
            if recorded.seq != state.events + 1 {
                return Err(Error::internal(format!(
                    "event {} follows event {}: the run's stream has a gap",
                    recorded.seq, state.events
                )));
            }
            state.apply(&recorded.event)?;
        }
        Ok(state)
    }

    /// Applies one event.
    pub fn apply(&mut self, event: &RunEvent) -> Result<()> {
        if self.status.is_some_and(|s| s.is_final()) {
            return Err(Error::internal(format!(
                "{} after the run finished",
                event.kind()
            )));
        }
        if self.agent.is_none() && !matches!(event, RunEvent::Started { .. }) {
            return Err(Error::internal(format!(
                "{} before agent.run.started",
                event.kind()
            )));
        }
        match event {
            RunEvent::Started {
                agent,
                system,
                input,
                context,
                history,
                charge_to,
                compaction,
                ..
            } => {
                if self.agent.is_some() {
                    return Err(Error::internal("a second agent.run.started"));
                }
                self.agent = Some((**agent).clone());
                self.system = system.clone();
                self.input = input.clone();
                self.context = *context;
                self.history = history.clone();
                self.charge_to = charge_to.clone();
                self.usage += *compaction;
                self.status = Some(AgentRunStatus::Running);
            }
            RunEvent::Forked { .. } => {}
            RunEvent::ModelOutput {
                step,
                text,
                tool_calls,
                usage,
                finish_reason,
                ..
            } => {
                if *step as usize != self.turns.len() + 1 {
                    return Err(Error::internal(format!(
                        "model output of step {step} after {} steps",
                        self.turns.len()
                    )));
                }
                if self.unanswered().next().is_some() {
                    return Err(Error::internal(format!(
                        "model output of step {step} while calls still wait for results"
                    )));
                }
                self.usage += *usage;
                self.turns.push(Turn {
                    text: text.clone(),
                    calls: tool_calls.clone(),
                    cut: *finish_reason == crate::chat::FinishReason::Length,
                    results: HashMap::new(),
                    fatal: None,
                });
            }
            RunEvent::ToolCallStarted { call_id, .. } => {
                self.pending_call(call_id)?;
                self.started.insert(call_id.clone());
            }
            RunEvent::ToolResult {
                call_id,
                output,
                error,
            } => {
                self.pending_call(call_id)?;
                let content = result_content(output.as_ref(), error.as_ref());
                if let Some(turn) = self.turns.last_mut() {
                    turn.results.insert(call_id.clone(), content);
                    if let Some(error) = error
                        && FATAL_TOOL_ERRORS.contains(&error.code.as_str())
                        && turn.fatal.is_none()
                    {
                        turn.fatal = Some(error.clone());
                    }
                }
            }
            RunEvent::ApprovalRequested { call_id, .. } => {
                self.pending_call(call_id)?;
                self.requested.insert(call_id.clone());
                self.status = Some(AgentRunStatus::WaitingApproval);
            }
            RunEvent::ApprovalDecided {
                call_id,
                approved,
                reason,
            } => {
                if !self.requested.contains(call_id) {
                    return Err(Error::internal(format!(
                        "a decision on `{call_id}`, which was not asked about"
                    )));
                }
                self.decisions
                    .insert(call_id.clone(), (*approved, reason.clone()));
                // Other calls of the reply may still wait for their own decision.
                let still_waiting = self.unanswered().any(|c| self.awaits(&c.id));
                if !still_waiting {
                    self.status = Some(AgentRunStatus::Running);
                }
            }
            RunEvent::Finished {
                status,
                output,
                error,
            } => {
                self.status = Some(*status);
                self.output = output.clone();
                self.error = error.clone();
            }
        }
        self.events += 1;
        Ok(())
    }

    /// Fails unless `call_id` is a call of the last reply without a result.
    fn pending_call(&self, call_id: &str) -> Result<()> {
        if self.unanswered().any(|c| c.id == call_id) {
            Ok(())
        } else {
            Err(Error::internal(format!(
                "an event of call `{call_id}`, which is not waiting for a result"
            )))
        }
    }

    /// The last reply's calls without a result, in the order the model made them.
    fn unanswered(&self) -> impl Iterator<Item = &ToolCall> {
        self.turns.last().into_iter().flat_map(|turn| {
            turn.calls
                .iter()
                .filter(|c| !turn.results.contains_key(&c.id))
        })
    }

    /// What the loop does next.
    pub fn next(&self) -> Next {
        let Some(agent) = &self.agent else {
            return Next::Done;
        };
        if self.status.is_none_or(|s| s.is_final()) {
            return Next::Done;
        }
        let definition = &agent.definition;
        let Some(last) = self.turns.last() else {
            return Next::CallModel { step: 1 };
        };
        if last.calls.is_empty() {
            // A reply cut short is neither an answer nor a call: acting on it would pass a
            // fragment off as the result.
            if last.cut {
                let err = crate::Error::AgentReplyTruncated {
                    step: self.turns.len() as u32,
                    max_tokens: definition.max_tokens,
                };
                return Next::Fail(RunError::from(&err));
            }
            return Next::Answer(last.text.clone());
        }
        let mut actions = Actions::default();
        for call in self.unanswered() {
            if let Some(limit) = definition.max_calls.get(&call.name)
                && self.calls_before(&call.id, &call.name) >= *limit
            {
                let err = crate::Error::invalid_input(
                    "max_calls",
                    format!(
                        "`{}` had its {limit} call(s) in this run; this one was not made",
                        call.name
                    ),
                );
                actions.refuse.push((call.clone(), RunError::from(&err)));
                continue;
            }
            let policy = definition
                .approval
                .get(&call.name)
                .copied()
                .unwrap_or_default();
            match (policy, self.decisions.get(&call.id)) {
                (_, Some((true, _))) | (ApprovalPolicy::Auto, None) => {
                    actions.call.push(call.clone())
                }
                (_, Some((false, reason))) => actions.reject.push((call.clone(), reason.clone())),
                (ApprovalPolicy::Approve, None) if self.requested.contains(&call.id) => {
                    actions.waiting = true
                }
                (ApprovalPolicy::Approve, None) => actions.ask.push(call.clone()),
            }
        }
        if actions != Actions::default() {
            if actions.call.is_empty()
                && actions.reject.is_empty()
                && actions.ask.is_empty()
                && actions.refuse.is_empty()
            {
                return Next::WaitApproval;
            }
            return Next::Act(actions);
        }
        if let Some(error) = &last.fatal {
            return Next::Fail(error.clone());
        }
        if self.turns.len() as u32 >= definition.max_steps {
            return Next::OutOfSteps;
        }
        Next::CallModel {
            step: self.turns.len() as u32 + 1,
        }
    }

    /// The conversation the next model call sees: the system prompt, the context's turns
    /// (when the run continues one), the user's message,
    /// then each reply with its calls' results in the order the calls were made (so calls
    /// that finished in another order give the same prompt).
    pub fn messages(&self) -> Vec<ChatMessage> {
        let mut messages = vec![ChatMessage::system(self.system.clone())];
        messages.extend(self.history.iter().cloned());
        messages.push(ChatMessage::user(self.input.clone()));
        for turn in &self.turns {
            let mut reply = ChatMessage::assistant(turn.text.clone());
            reply.tool_calls = turn.calls.clone();
            messages.push(reply);
            for call in &turn.calls {
                if let Some(content) = turn.results.get(&call.id) {
                    messages.push(ChatMessage::tool_result(call.id.clone(), content.clone()));
                }
            }
        }
        messages
    }

    /// Calls of tool `name` the model made so far in the run.
    pub fn calls_of(&self, name: &str) -> u32 {
        self.turns
            .iter()
            .flat_map(|turn| &turn.calls)
            .filter(|call| call.name == name)
            .count() as u32
    }

    /// Calls of tool `name` the model made before call `call_id` (in reply order).
    fn calls_before(&self, call_id: &str, name: &str) -> u32 {
        self.turns
            .iter()
            .flat_map(|turn| &turn.calls)
            .take_while(|call| call.id != call_id)
            .filter(|call| call.name == name)
            .count() as u32
    }

    /// Whether call `call_id` was put to a person and is not decided yet.
    pub fn awaits(&self, call_id: &str) -> bool {
        self.requested.contains(call_id) && !self.decisions.contains_key(call_id)
    }

    /// The context the run continues, when it has one.
    pub fn context(&self) -> Option<crate::Id> {
        self.context
    }

    /// The key the run's model calls are charged to besides its tenant.
    pub fn charge_to(&self) -> Option<&crate::workflows::ChargeKey> {
        self.charge_to.as_ref()
    }

    /// The user's message.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The frozen definition (`None` before `started`).
    pub fn agent(&self) -> Option<&Agent> {
        self.agent.as_ref()
    }

    /// Whether the call was recorded as started (a resumed call repeats with its key).
    pub fn was_started(&self, call_id: &str) -> bool {
        self.started.contains(call_id)
    }

    /// Model calls made.
    pub fn steps(&self) -> u32 {
        self.turns.len() as u32
    }

    /// Tokens used.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Events folded.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The status (`running` before any event).
    pub fn status(&self) -> AgentRunStatus {
        self.status.unwrap_or(AgentRunStatus::Running)
    }

    /// The summary fields as of this state.
    pub fn progress(&self) -> RunProgress {
        RunProgress {
            status: self.status(),
            steps: self.steps(),
            usage: self.usage,
            output: self.output.clone(),
            error: self.error.clone(),
        }
    }
}

/// What the model reads as a call's result: the tool's JSON, or its coded error.
fn result_content(output: Option<&Value>, error: Option<&RunError>) -> String {
    match (output, error) {
        (_, Some(error)) => json!({"error": {"code": error.code, "message": error.message}}),
        (Some(output), None) => output.clone(),
        (None, None) => Value::Null,
    }
    .to_string()
}
