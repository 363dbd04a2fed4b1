//! `/v1/auth/token` (a credential → a short access token and a refresh token) and
//! `/v1/auth/refresh` (a refresh token → new ones; a reused refresh token revokes its
//! session).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use sp_core::auth::{
    ADMIN_KEY_ID, AuditEntry, Rotation, Scope, admin_session_subject, is_admin_session,
    is_current_admin_session, issue_refresh, rotate_refresh,
};
use sp_core::{Error, ErrorCode};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorEnvelope};
use crate::json::ApiJson;
use crate::middleware::auth::Caller;
use crate::openapi::GatewayErrors;
use crate::state::AppState;

/// Needs a credential.
pub fn protected() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(token))
}

/// Authenticated by the refresh token itself.
pub fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(refresh))
        .routes(routes!(sign_out))
}

/// Sign out: end the session a refresh token belongs to. Every refresh token of its family
/// is revoked (the access tokens already issued run out within `auth.jwt.access_ttl_secs`).
/// Authenticated by the refresh token itself; an unknown one is `401`.
#[utoipa::path(post, path = "/v1/auth/logout", operation_id = "sign_out", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "The session is ended"),
        (status = 401, description = "SP-AUTH-001: unknown refresh token", body = ErrorEnvelope),
        (status = 400, description = "Malformed body", body = ErrorEnvelope)))]
async fn sign_out(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<axum::http::StatusCode, ApiError> {
    state.jwt().ok_or_else(jwt_off)?;
    let services = state.platform().await?;
    if !sp_core::auth::revoke_session(services.refresh.as_ref(), &body.refresh_token).await? {
        return Err(crate::middleware::auth::unauthorized());
    }
    tracing::info!("session signed out; its refresh tokens are revoked");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The scopes the access token should carry.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    /// A subset of the caller's scopes; all of them when absent.
    #[serde(default)]
    scopes: Option<Vec<Scope>>,
}

/// A short-lived access token and the single-use refresh token that renews it.
#[derive(Serialize, utoipa::ToSchema)]
struct Tokens {
    /// A JWT to send as `Authorization: Bearer`.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires (`auth.jwt.access_ttl_secs`).
    expires_in: u64,
    /// Single use: `/v1/auth/refresh` swaps it for new tokens; using it twice revokes the
    /// whole session.
    refresh_token: String,
    /// The scopes the access token carries.
    scopes: Vec<Scope>,
}

fn jwt_off() -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        "access tokens are off on this server: configure auth.jwt.hs256_secret or the RS256 keys",
    )
}

/// Swap the caller's credential for a short-lived JWT access token and a refresh token.
///
/// The token carries the caller's scopes, or the subset asked for; it dies with the key behind
/// it. Refused (`SP-REQ-006`) when the server has no JWT keys configured.
#[utoipa::path(post, path = "/v1/auth/token", operation_id = "issue_token", tag = "auth",
    request_body(content = Option<TokenRequest>, description = "Optional: no body asks for every scope of the caller"),
    responses((status = 200, description = "The tokens", body = Tokens), GatewayErrors),
    security(("bearer" = []), ("api_key" = [])))]
async fn token(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<axum::Json<Tokens>, ApiError> {
    let jwt = state.jwt().ok_or_else(jwt_off)?;
    // The body is optional: no body asks for every scope of the caller.
    let request: TokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TokenRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| ApiError::new(ErrorCode::MalformedJson, err.to_string()))?
    };
    let asked = request.scopes;
    let scopes = match asked {
        None => caller.0.scopes.clone(),
        Some(asked) => {
            if let Some(extra) = asked.iter().find(|s| !caller.0.allows(**s)) {
                return Err(Error::Forbidden {
                    scope: extra.to_string(),
                }
                .into());
            }
            asked
        }
    };
    let services = state.platform().await?;
    // An admin session names the admin key's fingerprint: it ends when the key changes.
    let subject = if caller.0.key_id == ADMIN_KEY_ID {
        let key = state.config().auth.admin_key.as_deref();
        key.map(admin_session_subject)
            .ok_or_else(crate::middleware::auth::unauthorized)?
    } else {
        caller.0.key_id.clone()
    };
    let (_, refresh_token) = issue_refresh(
        services.refresh.as_ref(),
        &subject,
        None,
        &scopes,
        jwt.refresh_ttl,
    )
    .await?;
    Ok(axum::Json(Tokens {
        access_token: jwt.mint(&subject, &scopes)?,
        token_type: "Bearer",
        expires_in: jwt.access_ttl_secs(),
        refresh_token,
        scopes,
    }))
}

/// A refresh token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    /// From `/v1/auth/token` or the previous refresh.
    refresh_token: String,
}

/// Swap a refresh token for new tokens (rotation). A refresh token used twice is reuse: every
/// token of its session is revoked and the answer is `401`.
#[utoipa::path(post, path = "/v1/auth/refresh", operation_id = "refresh_token", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens; the old refresh token is spent", body = Tokens),
        (status = 401, description = "SP-AUTH-001: unknown, expired or reused refresh token, or its key is revoked", body = ErrorEnvelope),
        (status = 400, description = "Malformed body", body = ErrorEnvelope)))]
async fn refresh(
    State(state): State<AppState>,
    request_id: Option<axum::Extension<tower_http::request_id::RequestId>>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<axum::Json<Tokens>, ApiError> {
    let started = std::time::Instant::now();
    let jwt = state.jwt().ok_or_else(jwt_off)?;
    let services = state.platform().await?;
    let (record, refresh_token) = match rotate_refresh(
        services.refresh.as_ref(),
        &body.refresh_token,
        jwt.refresh_ttl,
    )
    .await?
    {
        Rotation::Rotated { record, token } => (record, token),
        Rotation::ReuseDetected => {
            metrics::counter!("sp_refresh_reuse_total").increment(1);
            tracing::warn!("refresh token reused; its session is revoked");
            return Err(Error::Unauthorized(
                    "refresh token reuse detected: every token of this session is revoked; sign in again".into(),
                )
                .into());
        }
        Rotation::Invalid => return Err(crate::middleware::auth::unauthorized()),
    };
    // The key behind the session must still be valid: for an admin session, the admin key
    // it was opened with must still be the configured one.
    let tenant;
    if is_admin_session(&record.key_id) {
        if !is_current_admin_session(&record.key_id, state.config().auth.admin_key.as_deref()) {
            return Err(crate::middleware::auth::unauthorized());
        }
        tenant = sp_core::TenantId::default();
    } else {
        let key = services
            .keys
            .find(&record.key_id)
            .await?
            .map(|(key, _)| key)
            .filter(|k| {
                k.revoked_at.is_none() && k.expires_at.is_none_or(|t| t > sp_core::Timestamp::now())
            });
        match key {
            Some(key) => tenant = key.tenant,
            None => return Err(crate::middleware::auth::unauthorized()),
        }
    }
    // A public route, so the gateway's audit layer does not see it: a session's renewal is
    // written here (refused ones are not: they carry no principal, finding H1).
    let key_id = if is_admin_session(&record.key_id) {
        ADMIN_KEY_ID.to_owned()
    } else {
        record.key_id.clone()
    };
    let entry = AuditEntry {
        id: sp_core::Id::new(),
        at: sp_core::Timestamp::now(),
        key_id,
        tenant,
        method: "POST".into(),
        route: "/v1/auth/refresh".into(),
        path: "/v1/auth/refresh".into(),
        status: 200,
        request_id: request_id
            .and_then(|id| id.0.header_value().to_str().ok().map(str::to_owned))
            .unwrap_or_default(),
        duration_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
    };
    crate::middleware::auth::write_audit(&state, &entry).await;
    Ok(axum::Json(Tokens {
        access_token: jwt.mint(&record.key_id, &record.scopes)?,
        token_type: "Bearer",
        expires_in: jwt.access_ttl_secs(),
        refresh_token,
        scopes: record.scopes,
    }))
}
