//! Agent runs: start (answered at once, or streamed as server-sent events), list, read,
//! read the event stream, cancel, approve or reject a waiting call, replay, fork.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::StreamExt as _;
use serde::Deserialize;
use sp_core::agents::{AgentRun, LiveEvent, NewAgentRun, RecordedEvent, ReplayReport, RunEvent};
use sp_core::auth::Scope;
use sp_core::{Page, PageRequest};
use utoipa::{IntoParams, ToSchema};

use super::{engine, require_for};
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::routes::params::{InNamespace, NamespaceQuery, QueryOf, RequestIdOf, parse_id};
use crate::state::AppState;

/// A run to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StartRun {
    /// The user's message: the task.
    input: String,
    /// Events of the run carry it (default: the request id).
    #[serde(default)]
    correlation_id: Option<String>,
    /// A context (conversation) the run continues: its latest turns come before the input,
    /// and the input and answer are appended to it when the run succeeds.
    #[serde(default)]
    context_id: Option<String>,
    /// Answer with server-sent events: each recorded event of the run as it is recorded
    /// (`data:` its JSON), and `{"type": "delta", "step", "text"}` as the model's free text
    /// is generated, until the run finishes or waits for approval, then `[DONE]`.
    #[serde(default)]
    stream: bool,
}

/// Start a run of an agent: answered at once (`running`), or streamed with `stream: true`.
#[utoipa::path(post, path = "/v1/agents/{name}/runs", operation_id = "start_agent_run", tag = "agents",
    params(("name" = String, Path), NamespaceQuery),
    request_body = StartRun,
    responses(
        (status = 202, description = "Started (with `stream: true`: 200, `text/event-stream`)", body = AgentRun),
        (status = 400, description = "SP-VAL-001: empty or oversized input; SP-AGT-001: a tool is no longer offered", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn start(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(body): ApiJson<StartRun>,
) -> Result<axum::response::Response, ApiError> {
    let agents = engine(&state).await?;
    let agent = agents.agent(&namespace, &name).await?;
    require_for(&agents, &caller, &namespace, &agent.definition).await?;
    if body.context_id.is_some() {
        caller.require(Scope::Contexts)?;
    }
    let new = NewAgentRun {
        input: body.input,
        correlation_id: body.correlation_id.or(request.0),
        context_id: body
            .context_id
            .as_deref()
            .map(|raw| sp_core::Id::parse_field("context_id", raw))
            .transpose()?,
        // The starting key pays too: its token budget, and usage under its id.
        charge_to: Some(charge_key(&state, &caller)),
    };
    // Subscribed before the start, so no event of the run is missed.
    let live = agents.subscribe();
    let run = agents.start(&namespace, &name, new).await?;
    if !body.stream {
        return Ok((StatusCode::ACCEPTED, axum::Json(run)).into_response());
    }
    Ok(stream_run(agents, run, live))
}

/// The run's events as they are recorded: every wake-up (an event of this process, or a
/// second without one, for runs another process took over) reads what the store has after
/// the last event sent, so nothing is skipped when the live channel lags.
fn stream_run(
    agents: std::sync::Arc<sp_core::agents::Agents>,
    run: AgentRun,
    live: tokio::sync::broadcast::Receiver<(sp_core::Id, LiveEvent)>,
) -> axum::response::Response {
    let follow = Follow {
        agents,
        run,
        live,
        sent: 0,
        ready: std::collections::VecDeque::new(),
        over: false,
    };
    let events = futures::stream::unfold(follow, |mut follow| async move {
        let value = follow.next().await?;
        Some((value, follow))
    });
    let sse = events
        .map(|value| Event::default().data(value.to_string()))
        .chain(futures::stream::once(async {
            Event::default().data("[DONE]")
        }))
        .map(Ok::<_, std::convert::Infallible>);
    Sse::new(sse)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Where a streamed run is: events read but not sent yet, and whether the end was read.
struct Follow {
    agents: std::sync::Arc<sp_core::agents::Agents>,
    run: AgentRun,
    live: tokio::sync::broadcast::Receiver<(sp_core::Id, LiveEvent)>,
    sent: u64,
    ready: std::collections::VecDeque<RecordedEvent>,
    over: bool,
}

impl Follow {
    /// The next event's JSON, or `None` once the run finished or waits for approval.
    async fn next(&mut self) -> Option<serde_json::Value> {
        loop {
            if let Some(recorded) = self.ready.pop_front() {
                self.sent = recorded.seq;
                self.over |= matches!(
                    recorded.event,
                    RunEvent::Finished { .. } | RunEvent::ApprovalRequested { .. }
                );
                return Some(serde_json::to_value(&recorded).unwrap_or_default());
            }
            if self.over {
                return None;
            }
            match self
                .agents
                .events(&self.run.namespace, self.run.id, self.sent, 1000)
                .await
            {
                Ok(batch) if !batch.is_empty() => self.ready.extend(batch),
                Ok(_) => {
                    if let Some(delta) = self.wait().await {
                        return Some(delta);
                    }
                }
                Err(err) => {
                    self.over = true;
                    return Some(
                        serde_json::json!({"type": "error", "error": ApiError::from(err).stream_body()}),
                    );
                }
            }
        }
    }

    /// Until this process records an event of the run (`None`: read the store), generates
    /// text of its reply (that delta's JSON), or a second passes (the run may be driven by
    /// another process).
    async fn wait(&mut self) -> Option<serde_json::Value> {
        use tokio::sync::broadcast::error::RecvError;
        let id = self.run.id;
        let live = &mut self.live;
        let heard = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                match live.recv().await {
                    Ok((run, LiveEvent::Delta { step, text })) if run == id => {
                        return Some(
                            serde_json::json!({"type": "delta", "step": step, "text": text}),
                        );
                    }
                    Ok((run, LiveEvent::Recorded(_))) if run == id => return None,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return None,
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        })
        .await;
        heard.ok().flatten()
    }
}

/// `?namespace=&agent=&limit=&cursor=` of a run listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct RunsQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent).
    namespace: Option<String>,
    /// Only runs of this agent.
    agent: Option<String>,
    /// Items per page, 1-1000 (default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The namespace's agent runs, newest first.
#[utoipa::path(get, path = "/v1/agent-runs", operation_id = "list_agent_runs", tag = "agents",
    params(RunsQuery),
    responses((status = 200, description = "A page of runs", body = Page<AgentRun>), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryOf(query): QueryOf<RunsQuery>,
) -> Result<axum::Json<Page<AgentRun>>, ApiError> {
    caller.require(Scope::Events)?;
    let namespace = caller.namespace_named(query.namespace)?;
    let page = PageRequest::new(query.limit, query.cursor)?;
    let agents = engine(&state).await?;
    Ok(axum::Json(
        agents
            .runs(&namespace, query.agent.as_deref(), &page)
            .await?,
    ))
}

/// A run's summary: status, answer or coded error, steps, tokens.
#[utoipa::path(get, path = "/v1/agent-runs/{id}", operation_id = "get_agent_run", tag = "agents",
    params(("id" = String, Path), NamespaceQuery),
    responses((status = 200, description = "The run", body = AgentRun), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<AgentRun>, ApiError> {
    caller.require(Scope::Events)?;
    let id = parse_id(&id)?;
    Ok(axum::Json(engine(&state).await?.run(&namespace, id).await?))
}

/// `?namespace=&after=&limit=` of a run's events.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct EventsQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent).
    namespace: Option<String>,
    /// Events after this sequence number (default 0: from the first).
    after: Option<u64>,
    /// Events to return, 1-1000 (default 100).
    limit: Option<u32>,
}

/// A run's events in order: what its state is the fold of.
#[utoipa::path(get, path = "/v1/agent-runs/{id}/events", operation_id = "agent_run_events", tag = "agents",
    params(("id" = String, Path), EventsQuery),
    responses((status = 200, description = "The events", body = [RecordedEvent]), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    QueryOf(query): QueryOf<EventsQuery>,
) -> Result<axum::Json<Vec<RecordedEvent>>, ApiError> {
    caller.require(Scope::Events)?;
    let namespace = caller.namespace_named(query.namespace)?;
    let id = parse_id(&id)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(sp_core::Error::invalid_input("limit", "must be 1-1000").into());
    }
    let agents = engine(&state).await?;
    Ok(axum::Json(
        agents
            .events(&namespace, id, query.after.unwrap_or(0), limit)
            .await?,
    ))
}

/// Cancel a run that has not ended.
#[utoipa::path(post, path = "/v1/agent-runs/{id}/cancel", operation_id = "cancel_agent_run", tag = "agents",
    params(("id" = String, Path), NamespaceQuery),
    responses(
        (status = 200, description = "Cancelled", body = AgentRun),
        (status = 409, description = "SP-RES-002: the run already ended", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<AgentRun>, ApiError> {
    caller.require(Scope::Events)?;
    let id = parse_id(&id)?;
    Ok(axum::Json(
        engine(&state).await?.cancel(&namespace, id).await?,
    ))
}

/// A decision on a call waiting for approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Decision {
    /// The call (`call_id` of its `approval_requested` event).
    call_id: String,
    /// Why (a rejection's reason is what the model is told).
    #[serde(default)]
    reason: Option<String>,
}

/// Approve a waiting call: it is made, and the run goes on (in this process).
#[utoipa::path(post, path = "/v1/agent-runs/{id}/approve", operation_id = "approve_agent_call", tag = "agents",
    params(("id" = String, Path), NamespaceQuery),
    request_body = Decision,
    responses(
        (status = 200, description = "Approved; the run goes on", body = AgentRun),
        (status = 409, description = "SP-RES-002: the run does not wait for a decision on that call", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(decision): ApiJson<Decision>,
) -> Result<axum::Json<AgentRun>, ApiError> {
    caller.require(Scope::Events)?;
    let id = parse_id(&id)?;
    if decision.reason.is_some() {
        return Err(
            sp_core::Error::invalid_input("reason", "only a rejection has a reason").into(),
        );
    }
    let agents = engine(&state).await?;
    Ok(axum::Json(
        agents.approve(&namespace, id, &decision.call_id).await?,
    ))
}

/// Reject a waiting call: the model is told (with the reason) and the run goes on.
#[utoipa::path(post, path = "/v1/agent-runs/{id}/reject", operation_id = "reject_agent_call", tag = "agents",
    params(("id" = String, Path), NamespaceQuery),
    request_body = Decision,
    responses(
        (status = 200, description = "Rejected; the run goes on", body = AgentRun),
        (status = 409, description = "SP-RES-002: the run does not wait for a decision on that call", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(decision): ApiJson<Decision>,
) -> Result<axum::Json<AgentRun>, ApiError> {
    caller.require(Scope::Events)?;
    let id = parse_id(&id)?;
    let agents = engine(&state).await?;
    Ok(axum::Json(
        agents
            .reject(&namespace, id, &decision.call_id, decision.reason)
            .await?,
    ))
}

/// Rebuild a run from its events alone (no model, no tool) and check it reaches the recorded
/// state.
#[utoipa::path(post, path = "/v1/agent-runs/{id}/replay", operation_id = "replay_agent_run", tag = "agents",
    params(("id" = String, Path), NamespaceQuery),
    responses(
        (status = 200, description = "The replay matches the record", body = ReplayReport),
        (status = 500, description = "SP-AGT-004: the events do not reach the recorded state", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<ReplayReport>, ApiError> {
    caller.require(Scope::Events)?;
    let id = parse_id(&id)?;
    Ok(axum::Json(
        engine(&state).await?.replay(&namespace, id).await?,
    ))
}

/// The caller's key as a run's model calls charge it: its token budget, usage under its id.
pub(crate) fn charge_key(state: &AppState, caller: &Caller) -> sp_core::workflows::ChargeKey {
    sp_core::workflows::ChargeKey {
        key_id: caller.0.key_id.clone(),
        token_limit: caller
            .0
            .token_limit
            .or(state.config().auth.default_token_limit),
    }
}

/// Where a fork starts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ForkAt {
    /// The model call to run again from (1 re-runs the whole run).
    step: u32,
}

/// A new run with this run's events before model call `step`, run live from there.
#[utoipa::path(post, path = "/v1/agent-runs/{id}/fork", operation_id = "fork_agent_run", tag = "agents",
    params(("id" = String, Path), NamespaceQuery),
    request_body = ForkAt,
    responses(
        (status = 202, description = "The new run, started", body = AgentRun),
        (status = 400, description = "SP-VAL-001: the run has no such step", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
pub(super) async fn fork(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJson(at): ApiJson<ForkAt>,
) -> Result<(StatusCode, axum::Json<AgentRun>), ApiError> {
    let id = parse_id(&id)?;
    let agents = engine(&state).await?;
    let source = agents.run(&namespace, id).await?;
    let agent = agents.agent(&namespace, &source.agent).await;
    // A fork runs live: its starter needs what a start needs (the current definition's
    // scopes when the agent still exists; events and inference otherwise).
    match agent {
        Ok(agent) => require_for(&agents, &caller, &namespace, &agent.definition).await?,
        Err(_) => {
            caller.require(Scope::Events)?;
            caller.require(Scope::Inference)?;
        }
    }
    // The key that forks pays for the fork's model calls, not the original run's.
    let run = agents
        .fork_as(&namespace, id, at.step, Some(charge_key(&state, &caller)))
        .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(run)))
}
