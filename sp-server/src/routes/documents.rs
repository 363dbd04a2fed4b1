//! `/v1/documents` and `/v1/search`: the knowledge store over HTTP.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;
use sp_core::Page;
use sp_core::auth::Scope;
use sp_core::knowledge::{Document, IngestOutcome, NewDocument, SearchHit, SearchQuery};

use super::params::{Listing, parse_id};
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/documents", post(ingest).get(list))
        .route("/v1/documents/{id}", get(fetch).delete(remove))
        .route("/v1/search", post(search))
}

#[derive(Serialize)]
struct Ingested {
    document: Document,
    outcome: IngestOutcome,
}

async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewDocument>,
) -> Result<(StatusCode, axum::Json<Ingested>), ApiError> {
    caller.require(Scope::DocumentsWrite)?;
    let done = state.services().await?.knowledge.ingest(new).await?;
    let status = match done.outcome {
        IngestOutcome::Created => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok((
        status,
        axum::Json(Ingested {
            document: done.document,
            outcome: done.outcome,
        }),
    ))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    listing: Listing,
) -> Result<axum::Json<Page<Document>>, ApiError> {
    caller.require(Scope::DocumentsRead)?;
    let page = state
        .services()
        .await?
        .knowledge
        .list(&listing.namespace, &listing.page)
        .await?;
    Ok(axum::Json(page))
}

async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    listing: Listing,
) -> Result<axum::Json<Document>, ApiError> {
    caller.require(Scope::DocumentsRead)?;
    let id = parse_id(&id)?;
    let document = state
        .services()
        .await?
        .knowledge
        .get(&listing.namespace, id)
        .await?;
    Ok(axum::Json(document))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    listing: Listing,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::DocumentsWrite)?;
    let id = parse_id(&id)?;
    state
        .services()
        .await?
        .knowledge
        .delete(&listing.namespace, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One search result, flattened for clients.
#[derive(Serialize)]
struct Hit {
    document_id: sp_core::Id,
    title: String,
    external_id: Option<String>,
    metadata: Value,
    ordinal: u32,
    heading_path: Vec<String>,
    text: String,
    score: f64,
}

impl From<SearchHit> for Hit {
    fn from(hit: SearchHit) -> Self {
        Hit {
            document_id: hit.document_id,
            title: hit.title,
            external_id: hit.external_id,
            metadata: hit.metadata,
            ordinal: hit.section.ordinal,
            heading_path: hit.section.heading_path,
            text: hit.section.text,
            score: hit.score,
        }
    }
}

#[derive(Serialize)]
struct Results {
    results: Vec<Hit>,
}

async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(query): ApiJson<SearchQuery>,
) -> Result<axum::Json<Results>, ApiError> {
    caller.require(Scope::DocumentsRead)?;
    let hits = state.services().await?.knowledge.search(&query).await?;
    Ok(axum::Json(Results {
        results: hits.into_iter().map(Hit::from).collect(),
    }))
}
