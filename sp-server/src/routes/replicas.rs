//! `/v1/replicas`: the replicas of this deployment as the last heartbeat saw them
//! (`[cluster]`, docs/scaling.md).

use axum::extract::State;
use serde::Serialize;
use sp_core::auth::Scope;
use sp_core::replicas::Replica;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The live replicas and which one answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ReplicaList {
    /// Whether this replica takes part (`cluster.advertise_url` is set).
    enabled: bool,
    /// This replica's id (`null` outside a cluster).
    this: Option<String>,
    /// Every replica whose heartbeat is live, this one included, by id.
    replicas: Vec<Replica>,
}

/// The replicas of this deployment — their URLs, the models each serves and has loaded, and
/// their queues — as this replica's last heartbeat read them.
#[utoipa::path(get, path = "/v1/replicas", operation_id = "list_replicas", tag = "operations",
    responses((status = 200, description = "The replicas", body = ReplicaList), GatewayErrors),
    security(("bearer" = ["admin"]), ("api_key" = ["admin"])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<ReplicaList>, ApiError> {
    caller.require(Scope::Admin)?;
    let cluster = state.cluster();
    Ok(axum::Json(ReplicaList {
        enabled: cluster.is_some(),
        this: cluster.map(|c| c.id().to_owned()),
        replicas: cluster.map(|c| c.replicas()).unwrap_or_default(),
    }))
}
