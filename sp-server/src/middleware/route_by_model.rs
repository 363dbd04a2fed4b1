//! Model-aware routing between replicas (`[cluster]`): a model request this replica cannot
//! serve goes to one that can, and a context's turns go to the replica its id hashes to
//! (where its KV prefix is warm). It runs before authentication: the replica that serves the
//! request authenticates and charges it, once.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sp_core::config::MissingModel;
use sp_core::replicas::Replica;
use sp_core::{Embedder as _, ErrorCode};

use crate::cluster::{Cluster, FORWARDED_BY, SERVED_BY};
use crate::error::ApiError;
use crate::state::AppState;

/// The routes whose body names a `model`.
const MODEL_ROUTES: &[&str] = &[
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/rerank",
    "/v1/responses",
    "/v1/messages",
];

/// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the client library sets itself.
const NOT_RELAYED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

#[derive(serde::Deserialize)]
struct Named {
    #[serde(default)]
    model: Option<String>,
}

/// What a request is, as far as routing cares.
enum Routed<'a> {
    /// A model route: the model it names.
    Model,
    /// A context's chat turn: the context's id.
    Context(&'a str),
}

fn classify(request: &Request) -> Option<Routed<'_>> {
    if request.method() != Method::POST || request.headers().contains_key(FORWARDED_BY) {
        return None;
    }
    let path = request.uri().path();
    if MODEL_ROUTES.contains(&path) {
        return Some(Routed::Model);
    }
    let context = path.strip_prefix("/v1/contexts/")?.strip_suffix("/chat")?;
    (!context.is_empty() && !context.contains('/')).then_some(Routed::Context(context))
}

/// The routing layer: passes everything through unless `[cluster]` is on and the request is a
/// model request for a model held elsewhere or a context turn whose home is elsewhere.
pub(crate) async fn route_by_model(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(cluster) = state.cluster().cloned() else {
        return next.run(request).await;
    };
    let context = match classify(&request) {
        None => return next.run(request).await,
        Some(Routed::Model) => None,
        Some(Routed::Context(id)) => Some(id.to_owned()),
    };
    let (parts, body) = request.into_parts();
    let limit = state.config().server.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    // A body that does not parse is the handler's to refuse, with its own message.
    let named = serde_json::from_slice::<Named>(&bytes)
        .ok()
        .and_then(|n| n.model)
        .filter(|m| !m.is_empty());
    let target = match (&context, &named) {
        (Some(context), model) => {
            let model = model.clone().or_else(|| default_chat_model(&state));
            model.and_then(|m| cluster.home_of_context(&m, context))
        }
        (None, Some(model)) if !serves_locally(&state, model) => {
            match cluster.elsewhere(model, None) {
                Some(replica) if cluster.missing_model == MissingModel::Refuse => {
                    return elsewhere_refused(&cluster, model, &replica);
                }
                found => found,
            }
        }
        (None, _) => None,
    };
    match target {
        Some(replica) => forward(&cluster, &replica, &parts, bytes).await,
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}

/// Whether this replica's catalogue (or its single model) has `model`.
pub(crate) fn serves_locally(state: &AppState, model: &str) -> bool {
    if let Some(runtime) = state.models() {
        return runtime.catalogue().resolve(model).is_ok();
    }
    state.engine().is_some_and(|e| e.info().id == model)
        || state.embedder().is_some_and(|e| e.model_id() == model)
}

fn default_chat_model(state: &AppState) -> Option<String> {
    if let Some(runtime) = state.models() {
        return runtime
            .catalogue()
            .default_for(sp_core::catalogue::ModelKind::Chat)
            .map(|entry| entry.name.clone());
    }
    state.engine().map(|e| e.info().id.clone())
}

fn elsewhere_refused(cluster: &Cluster, model: &str, replica: &Replica) -> Response {
    let holders: Vec<String> = cluster
        .replicas()
        .into_iter()
        .filter(|r| r.serves(model))
        .map(|r| r.url)
        .collect();
    let message = format!(
        "model `{model}` is not served by this replica; it is on {} (cluster.missing_model = \
         refuse)",
        holders.join(", ")
    );
    let mut response = ApiError::new(ErrorCode::Unavailable, message).into_response();
    if let Ok(url) = HeaderValue::from_str(&replica.url) {
        response.headers_mut().insert(header::LOCATION, url);
    }
    response
}

/// Sends the request to `replica` and relays its answer as it comes (streams included).
async fn forward(
    cluster: &Cluster,
    replica: &Replica,
    parts: &axum::http::request::Parts,
    body: Bytes,
) -> Response {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{}{path}", replica.url.trim_end_matches('/'));
    let mut outgoing = cluster.client.post(&url).body(body);
    for (name, value) in relayed(&parts.headers) {
        outgoing = outgoing.header(name, value);
    }
    let sent = outgoing.header(FORWARDED_BY, cluster.id()).send().await;
    let reply = match sent {
        Ok(reply) => reply,
        Err(err) => {
            tracing::warn!(replica = %replica.url, %err, "forwarding to a replica failed");
            let message = format!("the replica at {} did not answer: {err}", replica.url);
            return ApiError::new(ErrorCode::Unavailable, message).into_response();
        }
    };
    let mut response = Response::builder().status(reply.status().as_u16());
    for (name, value) in relayed(reply.headers()) {
        response = response.header(name, value);
    }
    response = response.header(SERVED_BY, replica.id.as_str());
    let chunks = futures::stream::unfold(Some(reply), |reply| async move {
        let mut reply = reply?;
        match reply.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(reply))),
            Ok(None) => None,
            // The error ends the body; nothing is read after it.
            Err(err) => Some((Err(err), None)),
        }
    });
    response
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|err| {
            ApiError::new(ErrorCode::Internal, format!("relaying an answer: {err}")).into_response()
        })
}

fn relayed(headers: &HeaderMap) -> impl Iterator<Item = (&header::HeaderName, &HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| !NOT_RELAYED.contains(&name.as_str()))
}
