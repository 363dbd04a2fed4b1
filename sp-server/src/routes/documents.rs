//! `/v1/documents` and `/v1/search`: the knowledge store over HTTP.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sp_core::Page;
use sp_core::auth::Scope;
use sp_core::knowledge::{
    Document, IngestOutcome, NewDocument, SearchHit, SearchQuery, rerank_hits, retrieval_of,
    top_n_of,
};

use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{
    InNamespace, Listing, ListingQuery, NamespaceQuery, QueryOf, RequestIdOf, origin, parse_id,
};
use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::{GatewayErrors, NotFound};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ingest, list))
        .routes(routes!(fetch, remove))
        .routes(routes!(search))
}

/// A document as stored, and what ingesting it did.
#[derive(Serialize, utoipa::ToSchema)]
struct Ingested {
    /// The stored document.
    document: Document,
    /// `created`, `replaced` or `unchanged`.
    outcome: IngestOutcome,
}

/// Ingest a document.
///
/// Splits it into sections, embeds them and stores them atomically. The same namespace,
/// `external_id` and content again changes nothing (`unchanged`); changed content replaces the
/// sections (`replaced`).
#[utoipa::path(post, path = "/v1/documents", operation_id = "ingest_document", tag = "documents",
    request_body = NewDocument,
    responses(
        (status = 201, description = "Stored for the first time", body = Ingested),
        (status = 200, description = "Unchanged or replaced", body = Ingested),
        (status = "4XX", description = "SP-KB-001: over the size limit (413); empty content (400)", body = ErrorEnvelope),
        GatewayErrors),
    security(("bearer" = ["documents:write"]), ("api_key" = ["documents:write"])))]
async fn ingest(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    ApiJson(mut new): ApiJson<NewDocument>,
) -> Result<(StatusCode, axum::Json<Ingested>), ApiError> {
    caller.require(Scope::DocumentsWrite)?;
    caller.scope(&mut new.namespace)?;
    let services = state.platform().await?;
    let done = services
        .knowledge
        .ingest_as(new, &origin(&caller, &request))
        .await?;
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

/// List documents, newest first.
#[utoipa::path(get, path = "/v1/documents", operation_id = "list_documents", tag = "documents",
    params(ListingQuery),
    responses((status = 200, description = "One page", body = Page<Document>), GatewayErrors),
    security(("bearer" = ["documents:read"]), ("api_key" = ["documents:read"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    listing: Listing,
) -> Result<axum::Json<Page<Document>>, ApiError> {
    caller.require(Scope::DocumentsRead)?;
    let page = state
        .platform()
        .await?
        .knowledge
        .list(&listing.namespace, &listing.page)
        .await?;
    Ok(axum::Json(page))
}

/// Get a document.
#[utoipa::path(get, path = "/v1/documents/{id}", operation_id = "get_document", tag = "documents",
    params(("id" = sp_core::Id, Path, description = "Document id"), NamespaceQuery),
    responses((status = 200, description = "The document", body = Document), NotFound, GatewayErrors),
    security(("bearer" = ["documents:read"]), ("api_key" = ["documents:read"])))]
async fn fetch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    InNamespace(namespace): InNamespace,
) -> Result<axum::Json<Document>, ApiError> {
    caller.require(Scope::DocumentsRead)?;
    let id = parse_id(&id)?;
    let document = state
        .platform()
        .await?
        .knowledge
        .get(&namespace, id)
        .await?;
    Ok(axum::Json(document))
}

/// The query string of `DELETE /v1/documents/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RemoveQuery {
    /// The namespace: a bare name is the caller's tenant's (`default` when absent); another
    /// tenant's, named in full (`acme.docs`), only for admins.
    #[param(value_type = Option<sp_core::Namespace>)]
    namespace: Option<String>,
    /// `true`: remove the document (deleted or not) and its sections for good, freeing
    /// what it took of the tenant's storage quota. Otherwise a soft delete, which keeps
    /// counting.
    #[serde(default)]
    purge: bool,
}

/// Delete a document: search and get stop seeing it at once. A soft delete keeps it (and
/// its share of the tenant's storage quota); `?purge=true` removes it for good.
#[utoipa::path(delete, path = "/v1/documents/{id}", operation_id = "delete_document", tag = "documents",
    params(("id" = sp_core::Id, Path, description = "Document id"), RemoveQuery),
    responses((status = 204, description = "Deleted"), NotFound, GatewayErrors),
    security(("bearer" = ["documents:write"]), ("api_key" = ["documents:write"])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestIdOf,
    Path(id): Path<String>,
    QueryOf(query): QueryOf<RemoveQuery>,
) -> Result<StatusCode, ApiError> {
    caller.require(Scope::DocumentsWrite)?;
    let id = parse_id(&id)?;
    let namespace = caller
        .0
        .namespace(query.namespace.map(sp_core::Namespace::new).transpose()?)?;
    let knowledge = &state.platform().await?.knowledge;
    if query.purge {
        knowledge.purge(&namespace, id).await?;
    } else {
        knowledge
            .delete_as(&namespace, id, &origin(&caller, &request))
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// One search result, flattened for clients.
#[derive(Serialize, utoipa::ToSchema)]
struct Hit {
    /// The document the section belongs to.
    document_id: sp_core::Id,
    /// The document's title.
    title: String,
    /// The document's external id.
    external_id: Option<String>,
    /// The document's metadata.
    metadata: Value,
    /// The section's position in the document, from 0.
    ordinal: u32,
    /// The Markdown headings above the section, outermost first.
    heading_path: Vec<String>,
    /// The section's text.
    text: String,
    /// Higher is better: cosine similarity (vector), BM25-like rank (keyword) or fused
    /// reciprocal rank (hybrid).
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

/// Search results, best first.
#[derive(Serialize, utoipa::ToSchema)]
struct Results {
    /// The hits.
    results: Vec<Hit>,
}

/// Search sections by meaning (`vector`), words (`keyword`) or both (`hybrid`, the default);
/// with `rerank: {model, top_n}`, the `k` hits are rescored by that model (scope `inference`
/// too) and the best `top_n` kept.
#[utoipa::path(post, path = "/v1/search", operation_id = "search", tag = "documents",
    request_body = SearchQuery,
    responses((status = 200, description = "Results, best first", body = Results), GatewayErrors),
    security(("bearer" = ["documents:read"]), ("api_key" = ["documents:read"])))]
async fn search(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut query): ApiJson<SearchQuery>,
) -> Result<axum::Json<Results>, ApiError> {
    caller.require(Scope::DocumentsRead)?;
    caller.scope(&mut query.namespace)?;
    let knowledge = &state.platform().await?.knowledge;
    let hits = match &query.rerank {
        None => knowledge.search(&query).await?,
        Some(stage) => {
            // Rescoring runs a model: it needs the inference scope and is charged as such.
            caller.require(Scope::Inference)?;
            let hits = knowledge.search(&retrieval_of(&query)?).await?;
            let texts: Vec<String> = hits.iter().map(|hit| hit.section.text.clone()).collect();
            let scored = super::openai::rerank::score(
                &state,
                &caller,
                stage.model.as_deref(),
                None,
                &query.query,
                &texts,
            )
            .await?;
            rerank_hits(hits, &scored.scores, top_n_of(&query))?
        }
    };
    Ok(axum::Json(Results {
        results: hits.into_iter().map(Hit::from).collect(),
    }))
}
