//! `/v1/workflows` and `/v1/workflow-runs`: define workflows, start, watch and cancel runs
//! (the `events` scope, plus what the steps do: `registry` for tool steps, `inference` for
//! model steps, `documents:read` for search steps — a run does only what its starter may).
//! Reading a run shows a step's output only to a caller with that step's scope.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sp_core::auth::Scope;
use sp_core::workflows::{
    Action, NewRun, NewWorkflow, Run, Step, Workflow, Workflows, withhold_outputs,
};
use sp_core::{Page, PageRequest};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::json::{ApiJson, ApiJsonOrEmpty};
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::routes::params::{
    InNamespace, Listing, ListingQuery, NamespaceQuery, QueryOf, RequestIdOf, parse_id,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(define, list))
        .routes(routes!(fetch, remove))
        .routes(routes!(start))
        .routes(routes!(runs))
        .routes(routes!(run))
        .routes(routes!(cancel))
}

async fn engine(state: &AppState) -> Result<Arc<Workflows>, ApiError> {
    Ok(state.platform().await?.workflows.clone())
}

/// The scopes a caller needs besides `events` to define or run these steps.
fn require_for(state: &AppState, caller: &Caller, steps: &[Step]) -> Result<(), ApiError> {
    caller.require(Scope::Events)?;
    for step in steps {
        match step.action {
            Action::Tool { ref tool, .. } => {
                caller.require(Scope::Registry)?;
                caller.0.may_call_tool(tool)?;
            }
            Action::Model { .. } => {
                caller.require(Scope::Inference)?;
                if let Some(engine) = state.engine() {
                    crate::routes::openai::check_model(engine, caller, None)?;
                }
            }
            Action::Search { .. } => caller.require(Scope::DocumentsRead)?,
            // An agent may use any of its tools: its starter needs every scope they may need.
            Action::Agent { .. } => {
                for scope in [
                    Scope::Inference,
                    Scope::Registry,
                    Scope::DocumentsRead,
                    Scope::Contexts,
                ] {
                    caller.require(scope)?;
                }
            }
            Action::Condition { .. } => {}
        }
    }
    Ok(())
}

/// Define a workflow, or its next version: checked (names, wiring, cycles, every tool
/// registered) before anything is stored.
#[utoipa::path(post, path = "/v1/workflows", operation_id = "define_workflow", tag = "workflows",
    request_body = NewWorkflow,
    responses(
        (status = 201, description = "Defined (version 1)", body = Workflow),
        (status = 200, description = "Redefined (the next version)", body = Workflow),
        (status = 400, description = "SP-WF-001 cycle, SP-WF-002 wiring, SP-WF-003 unknown tool, SP-VAL-001 bad field", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn define(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut new): ApiJson<NewWorkflow>,
) -> Result<(StatusCode, axum::Json<Workflow>), ApiError> {
    require_for(&state, &caller, &new.steps)?;
    caller.scope(&mut new.namespace)?;
    let workflow = engine(&state).await?.define(&new).await?;
    let status = if workflow.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(workflow)))
}

/// The namespace's workflows by name.
#[utoipa::path(get, path = "/v1/workflows", operation_id = "list_workflows", tag = "workflows",
    params(ListingQuery),
    responses((status = 200, description = "A page of workflows", body = Page<Workflow>), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    listing: Listing,
) -> Result<axum::Json<Page<Workflow>>, ApiError> {
    caller.require(Scope::Events)?;
    Ok(axum::Json(
        engine(&state)
            .await?
            .workflows(&listing.namespace, &listing.page)
            .await?,
    ))
}

/// A workflow's current definition.
#[utoipa::path(get, path = "/v1/workflows/{name}", operation_id = "get_workflow", tag = "workflows",
    params(("name" = String, Path), NamespaceQuery),
    responses((status = 200, description = "The workflow", body = Workflow), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Workflow>, ApiError> {
    caller.require(Scope::Events)?;
    Ok(axum::Json(
        engine(&state).await?.workflow(&namespace, &name).await?,
    ))
}

/// Forget a workflow; its runs (running ones too) go on with the definition they started with.
#[utoipa::path(delete, path = "/v1/workflows/{name}", operation_id = "delete_workflow", tag = "workflows",
    params(("name" = String, Path), NamespaceQuery),
    responses((status = 204, description = "Forgotten"), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::Events)?;
    engine(&state)
        .await?
        .remove_workflow(&namespace, &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a run (the body may be left out: no input); answered at once (`running`); follow it with `GET /v1/workflow-runs/{id}` or
/// the events carrying its `correlation_id` (the request id unless the body names one).
#[utoipa::path(post, path = "/v1/workflows/{name}/runs", operation_id = "start_run", tag = "workflows",
    params(("name" = String, Path), NamespaceQuery),
    request_body = NewRun,
    responses(
        (status = 202, description = "Started", body = Run),
        (status = 400, description = "SP-VAL-001: the input is not an object; SP-WF-003: a tool is no longer registered", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn start(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    Path(name): Path<String>,
    InNamespace(namespace): InNamespace,
    ApiJsonOrEmpty(mut new): ApiJsonOrEmpty<NewRun>,
) -> Result<(StatusCode, axum::Json<Run>), ApiError> {
    let engine = engine(&state).await?;
    let workflow = engine.workflow(&namespace, &name).await?;
    require_for(&state, &caller, &workflow.steps)?;
    if new.correlation_id.is_none() {
        new.correlation_id = request.0;
    }
    let run = engine.start(&namespace, &name, new).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(run)))
}

/// `?namespace=&workflow=&limit=&cursor=` of a run listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RunsQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent).
    namespace: Option<String>,
    /// Only runs of this workflow.
    workflow: Option<String>,
    /// Items per page, 1-1000 (default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The namespace's runs, newest first (step outputs withheld as in `get_run`).
#[utoipa::path(get, path = "/v1/workflow-runs", operation_id = "list_runs", tag = "workflows",
    params(RunsQuery),
    responses((status = 200, description = "A page of runs with their steps", body = Page<Run>), GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    QueryOf(query): QueryOf<RunsQuery>,
) -> Result<axum::Json<Page<Run>>, ApiError> {
    caller.require(Scope::Events)?;
    let namespace = caller.namespace_named(query.namespace)?;
    let page = PageRequest::new(query.limit, query.cursor)?;
    let engine = engine(&state).await?;
    let mut runs = engine
        .runs(&namespace, query.workflow.as_deref(), &page)
        .await?;
    withhold(&engine, &caller, &mut runs.items).await?;
    Ok(axum::Json(runs))
}

/// Withholds the step outputs `caller` may not read (see [`withhold_outputs`]): each run's
/// own definition decides, read once per workflow version.
async fn withhold(engine: &Workflows, caller: &Caller, runs: &mut [Run]) -> Result<(), ApiError> {
    let all = [Scope::Registry, Scope::Inference, Scope::DocumentsRead];
    if all.into_iter().all(|scope| caller.0.allows(scope)) {
        return Ok(());
    }
    let mut definitions: HashMap<(String, u32), Option<Vec<Step>>> = HashMap::new();
    for run in runs {
        let version = (run.workflow.clone(), run.version);
        if !definitions.contains_key(&version) {
            let stored = engine.store().stored_run(run.id).await?;
            definitions.insert(version.clone(), stored.definition.ok());
        }
        let definition = definitions.get(&version).and_then(Option::as_deref);
        withhold_outputs(run, definition, |scope| caller.0.allows(scope));
    }
    Ok(())
}

/// A run with every step's status, attempts, output and error. A step's output is `null`
/// to a caller without the scope its action needs (`registry`, `inference`, `documents:read`).
#[utoipa::path(get, path = "/v1/workflow-runs/{id}", operation_id = "get_run", tag = "workflows",
    params(("id" = String, Path), NamespaceQuery),
    responses((status = 200, description = "The run", body = Run), NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Run>, ApiError> {
    caller.require(Scope::Events)?;
    let id = parse_id(&id)?;
    let engine = engine(&state).await?;
    let mut run = engine.run(&namespace, id).await?;
    withhold(&engine, &caller, std::slice::from_mut(&mut run)).await?;
    Ok(axum::Json(run))
}

/// Cancel a running run: its unfinished steps become `cancelled` and nothing more of it runs.
#[utoipa::path(post, path = "/v1/workflow-runs/{id}/cancel", operation_id = "cancel_run", tag = "workflows",
    params(("id" = String, Path), NamespaceQuery),
    responses(
        (status = 200, description = "Cancelled", body = Run),
        (status = 409, description = "SP-RES-002: the run already ended", body = ErrorEnvelope),
        NotFound, GatewayErrors),
    security(("bearer" = ["events"]), ("api_key" = ["events"])))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Run>, ApiError> {
    caller.require(Scope::Events)?;
    let id = parse_id(&id)?;
    let engine = engine(&state).await?;
    let mut run = engine.cancel(&namespace, id).await?;
    withhold(&engine, &caller, std::slice::from_mut(&mut run)).await?;
    Ok(axum::Json(run))
}
