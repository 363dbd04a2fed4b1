//! Responses with tools the server runs (our extension, see `tools`): the response is an
//! agent run of a one-off definition ([`InlineRun`]) over the chain's conversation, so every
//! model call and tool call is recorded on the run's event stream (`/v1/agent-runs/{id}`),
//! charged like an agent's, and resumed by another process if this one stops. The response
//! lists each call as an `mcp_call` output item (its `server_label` the hub service, or
//! `builtin`), then the answer, and names the run (`agent_run_id`). The chain keeps the input
//! and the answer, as it does for any response.
//!
//! What an agent run cannot honour is refused, never ignored: `stream` (poll a `background`
//! response, or follow the run's events), `temperature` / `top_p` (runs sample greedily, so a
//! resumed run asks exactly what an uninterrupted one would), `parallel_tool_calls: false`,
//! and input that does not end with a user message.

use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sp_core::agents::{
    AgentRun, AgentRunStatus, Agents, InlineRun, NewAgent, RecordedEvent, ResolvedTools, RunEvent,
};
use sp_core::chat::{Completion, FinishReason, ResponseFormat, Role};
use sp_core::knowledge::Namespace;
use sp_core::responses::{self as output, PendingResponse};
use sp_core::{Error, ErrorCode, Id};

use super::background;
use super::input::ResponseRequest;
use super::tools::{ServerTools, server_choice};
use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::routes::agents::{charge_key, engine, require_for};
use crate::state::AppState;

/// The name the one-off definitions of Responses runs carry (runs list under it, version 0;
/// memory built-ins keep their blocks under it).
pub const RESPONSES_AGENT: &str = "responses";

/// The most events of a run read to list its calls (a run of 100 steps of several calls
/// each stays well under it).
const MAX_EVENTS: u32 = 10_000;

/// Answers `request`, whose `tools` the server runs, with an agent run.
pub async fn respond(
    state: &AppState,
    caller: &Caller,
    request_id: Option<String>,
    namespace: Namespace,
    request: ResponseRequest,
    server: ServerTools,
) -> Result<Response, ApiError> {
    refuse_what_runs_cannot_honour(&request)?;
    let choice = server_choice(request.tool_choice.as_ref())?;
    let options = request.options()?;
    let model = crate::served::chat(state, caller, request.model.as_deref(), None)
        .await?
        .name()
        .to_owned();
    let agent = NewAgent {
        model: Some(model.clone()),
        tools: server.selectors,
        max_calls: server.max_calls,
        tool_choice: choice,
        response_format: match options.response_format {
            ResponseFormat::Text => None,
            format => Some(format),
        },
        max_tokens: request
            .max_output_tokens
            .unwrap_or(NewAgent::new("", "").max_tokens),
        ..NewAgent::new(
            RESPONSES_AGENT,
            request.instructions.clone().unwrap_or_default(),
        )
    };
    let agents = engine(state).await?;
    require_for(&agents, caller, &namespace, &agent).await?;
    let tools = agents.tools(&namespace, &agent).await?;
    let store = request.store.unwrap_or(true);
    let platform = state.platform().await?;
    let pending = platform
        .responses
        .begin(
            &namespace,
            request.previous_response_id.as_deref(),
            store,
            request.messages()?,
        )
        .await?;
    let mut history = pending.prompt(None);
    let input = match history.pop() {
        Some(last) if last.role == Role::User && last.tool_calls.is_empty() => last.content,
        _ => {
            pending.abandon().await;
            return Err(Error::invalid_input(
                "input",
                "with hub or builtin tools, the last input item must be a user message",
            )
            .into());
        }
    };
    let run = InlineRun {
        history,
        correlation_id: request_id,
        charge_to: Some(charge_key(state, caller)),
        ..InlineRun::new(agent, input)
    };
    let run = match agents.start_inline(&namespace, run).await {
        Ok(run) => run,
        Err(err) => {
            pending.abandon().await;
            return Err(err.into());
        }
    };
    let finish = Finish {
        agents,
        namespace,
        run: run.id,
        settings: request.settings(&model, store),
        tools,
    };
    if request.background {
        let mut shell = super::background_shell(&request, &model, &pending);
        shell["agent_run_id"] = run.id.to_string().into();
        let stop = background::register(pending.id(), &finish.namespace, &shell);
        tokio::spawn(async move {
            let id = pending.id().to_owned();
            background::update(&id, |shell| shell["status"] = "in_progress".into());
            tokio::select! {
                done = finish.outcome() => match done {
                    Ok((done, body)) => match pending.finish(&done, body).await {
                        Ok(_) => background::stored(&id),
                        Err(err) => background::failed(&id, &err.into()),
                    },
                    Err(err) => {
                        background::failed(&id, &err);
                        pending.abandon().await;
                    }
                },
                () = stop.notified() => {
                    finish.cancel().await;
                    pending.abandon().await;
                }
            }
        });
        return Ok(axum::Json(shell).into_response());
    }
    // A caller that hangs up stops the run: nobody is left to read its answer.
    let mut guard = CancelOnDrop(Some((
        finish.agents.clone(),
        finish.namespace.clone(),
        run.id,
    )));
    let done = finish.outcome().await;
    guard.0 = None;
    finished(done, pending).await
}

/// Stores a finished run's response, or drops the pending one for a failed run.
async fn finished(
    done: Result<(Completion, Value), ApiError>,
    pending: PendingResponse,
) -> Result<Response, ApiError> {
    match done {
        Ok((done, body)) => Ok(axum::Json(pending.finish(&done, body).await?).into_response()),
        Err(err) => {
            pending.abandon().await;
            Err(err)
        }
    }
}

fn refuse_what_runs_cannot_honour(request: &ResponseRequest) -> Result<(), ApiError> {
    let refused = if request.stream {
        Some((
            "stream",
            "is not served with hub or builtin tools: use background and poll, or follow the \
             run's events at /v1/agent-runs/{id}/events",
        ))
    } else if request.temperature.is_some() {
        Some((
            "temperature",
            "cannot be set with hub or builtin tools: their runs sample greedily",
        ))
    } else if request.top_p.is_some() {
        Some((
            "top_p",
            "cannot be set with hub or builtin tools: their runs sample greedily",
        ))
    } else if request.parallel_tool_calls == Some(false) {
        Some((
            "parallel_tool_calls",
            "false is not served with hub or builtin tools (limit a tool with max_calls)",
        ))
    } else {
        None
    };
    match refused {
        Some((field, reason)) => Err(Error::invalid_input(field, reason).into()),
        None => Ok(()),
    }
}

/// What turning a run into a response needs.
struct Finish {
    agents: Arc<Agents>,
    namespace: Namespace,
    run: Id,
    settings: output::Settings,
    tools: ResolvedTools,
}

impl Finish {
    /// Waits for the run's end: its answer and response object, or its coded error.
    async fn outcome(&self) -> Result<(Completion, Value), ApiError> {
        let run = loop {
            let run = self
                .agents
                .wait(&self.namespace, self.run, Duration::from_secs(60))
                .await?;
            if run.status != AgentRunStatus::Running {
                break run;
            }
        };
        let answer = match (run.status, &run.output) {
            (AgentRunStatus::Succeeded, Some(answer)) => answer.clone(),
            _ => return Err(run_error(&run)),
        };
        let events = self
            .agents
            .events(&self.namespace, self.run, 0, MAX_EVENTS)
            .await?;
        let done = Completion::new(answer, FinishReason::Stop, run.usage);
        let mut body = output::object(&self.settings, &done, &output::message_id());
        let mut items = call_items(&self.tools, self.run, &events);
        if let Some(Value::Array(answer)) = body.get_mut("output") {
            items.append(answer);
        }
        body["output"] = Value::Array(items);
        body["agent_run_id"] = self.run.to_string().into();
        Ok((done, body))
    }

    async fn cancel(&self) {
        if let Err(err) = self.agents.cancel(&self.namespace, self.run).await {
            tracing::debug!(run = %self.run, %err, "a response's run was not cancelled");
        }
    }
}

/// Cancels the run when the request's future is dropped before the run ended.
struct CancelOnDrop(Option<(Arc<Agents>, Namespace, Id)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some((agents, namespace, run)) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = agents.cancel(&namespace, run).await;
            });
        }
    }
}

/// A run that did not answer, as the caller's error: its recorded code when it failed.
fn run_error(run: &AgentRun) -> ApiError {
    let status = run.status.as_str();
    match &run.error {
        Some(error) => {
            let code = error.code.parse().unwrap_or(ErrorCode::Internal);
            ApiError::new(
                code,
                format!("agent run {} {status}: {}", run.id, error.message),
            )
        }
        None => Error::Conflict(format!("agent run {} ended {status}", run.id)).into(),
    }
}

/// Each call the run made, with its result, as an `mcp_call` output item.
fn call_items(tools: &ResolvedTools, run: Id, events: &[RecordedEvent]) -> Vec<Value> {
    let mut items = Vec::new();
    for recorded in events {
        let RunEvent::ModelOutput { tool_calls, .. } = &recorded.event else {
            continue;
        };
        for call in tool_calls {
            let result = events.iter().find_map(|e| match &e.event {
                RunEvent::ToolResult {
                    call_id,
                    output,
                    error,
                } if *call_id == call.id => Some((output, error)),
                _ => None,
            });
            let (output, error) = match result {
                Some((output, error)) => (
                    output.as_ref().map(Value::to_string),
                    error.as_ref().map(|e| format!("{}: {}", e.code, e.message)),
                ),
                None => (None, Some("no result was recorded".to_owned())),
            };
            let status = if error.is_some() {
                "failed"
            } else {
                "completed"
            };
            items.push(json!({
                "type": "mcp_call",
                "id": format!("mcp_{}_{}", run.as_uuid().simple(), call.id),
                "server_label": tools.source(&call.name).unwrap_or("unknown"),
                "name": call.name,
                "arguments": call.arguments,
                "output": output,
                "error": error,
                "status": status,
            }));
        }
    }
    items
}
