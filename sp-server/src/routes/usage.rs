//! `/v1/usage`: what tenants, keys and models used, per UTC day.

use axum::extract::State;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sp_core::usage::{UsageCounts, UsageGroup, UsageQuery, UsageRow};
use sp_core::{Error, Resource, TenantId};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::QueryOf;
use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage))
}

/// The query string of a usage report.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UsageParams {
    /// Only this tenant's (admins; others see their own tenant only).
    tenant: Option<String>,
    /// Only this key's (admins; other keys see their own usage only).
    key_id: Option<String>,
    /// Only this model's.
    model: Option<String>,
    /// From this UTC day on, `YYYY-MM-DD` (inclusive).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<NaiveDate>,
    /// Up to this UTC day, `YYYY-MM-DD` (inclusive).
    #[param(value_type = Option<String>, format = Date)]
    to: Option<NaiveDate>,
    /// What to sum by, comma-separated: `tenant`, `key`, `model`, `day` (default: all four,
    /// the rows as stored); the columns not named are `null`.
    group_by: Option<String>,
}

/// A usage report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct UsageReport {
    /// The sums, by day, tenant, key and model.
    items: Vec<UsageRow>,
    /// Every item added up.
    total: UsageCounts,
}

/// Usage per tenant, key, model and UTC day: model calls, prompt, completion, embedding and
/// cached tokens, and calls that ended without an answer. Admins see every tenant's (and
/// filter); any other key sees its own. Includes every call this process answered (its
/// pending rows are written first); other processes' within a second.
#[utoipa::path(get, path = "/v1/usage", operation_id = "get_usage", tag = "keys",
    params(UsageParams),
    responses((status = 200, description = "The sums asked for", body = UsageReport), GatewayErrors),
    security(("bearer" = []), ("api_key" = [])))]
async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    QueryOf(params): QueryOf<UsageParams>,
) -> Result<axum::Json<UsageReport>, ApiError> {
    let tenant = params.tenant.map(TenantId::new).transpose()?;
    let principal = &caller.0;
    let (tenant, key_id) = if principal.crosses_tenants() {
        (tenant, params.key_id)
    } else {
        // Another tenant or key is absent to this caller, as on every other route.
        if let Some(asked) = tenant.filter(|t| *t != principal.tenant) {
            return Err(not_found(Resource::Tenant, asked.as_str()));
        }
        if let Some(asked) = params.key_id.filter(|k| *k != principal.key_id) {
            return Err(not_found(Resource::Key, &asked));
        }
        (
            Some(principal.tenant.clone()),
            Some(principal.key_id.clone()),
        )
    };
    if let (Some(from), Some(to)) = (params.from, params.to)
        && from > to
    {
        return Err(Error::invalid_input("from", format!("{from} is after `to` ({to})")).into());
    }
    let query = UsageQuery {
        tenant,
        key_id,
        model: params.model,
        from: params.from,
        to: params.to,
        group_by: UsageGroup::parse_list(params.group_by.as_deref().unwrap_or(""))?,
    };
    let platform = state.platform().await?;
    platform.usage.flush().await?;
    let items = platform.usage.store().rows(&query).await?;
    let mut total = UsageCounts::default();
    for item in &items {
        total.add(&item.counts);
    }
    Ok(axum::Json(UsageReport { items, total }))
}

fn not_found(kind: Resource, id: &str) -> ApiError {
    Error::NotFound {
        kind,
        id: id.to_owned(),
    }
    .into()
}
