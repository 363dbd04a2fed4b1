//! Authentication and per-key rate limiting for the `/v1` routes.
//!
//! A credential comes as `Authorization: Bearer TOKEN` or `X-API-Key: TOKEN`. It is the
//! bootstrap admin key (`SP_ADMIN_KEY`) or an API key from the key store; revocation takes
//! effect on the next request (keys are looked up every time, never cached). Every refusal
//! is the same `401` so callers learn nothing about which keys exist. Then the key's quota
//! (its own, or `auth.default_rate_limit`) is checked: `429` with `Retry-After` when spent,
//! `RateLimit-Limit` / `-Remaining` / `-Reset` headers on every answer.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sp_core::auth::{
    ADMIN_KEY_ID, AuditEntry, Decision, Principal, Quota, Scope, constant_time_eq,
    is_admin_session, is_current_admin_session, verify_key,
};
use sp_core::{Error, ErrorCode, Namespace};

use std::net::IpAddr;

use super::failed_credentials::{Attempt, client_address};
use crate::error::ApiError;
use crate::state::AppState;

/// The bearer token or API key of a request.
fn credential(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim());
    }
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(crate) fn unauthorized() -> ApiError {
    ApiError::new(
        ErrorCode::Unauthorized,
        "missing or invalid credential: send an API key as `Authorization: Bearer …` or `X-API-Key`",
    )
}

async fn principal_of(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = credential(headers).ok_or_else(unauthorized)?;
    if let Some(admin) = &state.config().auth.admin_key
        && constant_time_eq(token.as_bytes(), admin.as_bytes())
    {
        return Ok(Principal::new(ADMIN_KEY_ID, vec![Scope::Admin]));
    }
    let services = state.platform().await?;
    if let Some(jwt) = state.jwt()
        && token.matches('.').count() == 2
    {
        return principal_of_jwt(state, jwt, token).await;
    }
    match verify_key(services.keys.as_ref(), token).await? {
        Ok(key) => Ok(Principal {
            key_id: key.id,
            tenant: key.tenant,
            scopes: key.scopes,
            models: key.models,
            tools: key.tools,
            rate_limit: key.rate_limit,
            token_limit: key.token_limit,
            tenant_quotas: Default::default(),
        }),
        Err(refusal) => {
            tracing::info!(?refusal, "credential refused");
            Err(unauthorized())
        }
    }
}

/// The caller of `request`, its address's refused credentials throttled (see
/// [`Attempt`]): `SP-AUTH-003` once they are spent, whatever it presents.
async fn throttled_principal(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<Principal, ApiError> {
    let presented = credential(headers).is_some();
    let attempt = Attempt::take(state, client, presented)?;
    let judged = principal_of(state, headers).await;
    // Only a refused credential keeps its unit; an accepted one, or one a failing backend
    // could not judge, gives it back.
    let refused = matches!(&judged, Err(err) if err.code == ErrorCode::Unauthorized);
    if let Some(attempt) = attempt
        && !refused
    {
        attempt.give_back();
    }
    judged
}

/// A valid access token of a key that is still valid; its scopes never exceed the key's.
async fn principal_of_jwt(
    state: &AppState,
    jwt: &crate::jwt::Jwt,
    token: &str,
) -> Result<Principal, ApiError> {
    let claims = jwt.verify(token).ok_or_else(unauthorized)?;
    if is_admin_session(&claims.sub) {
        // Only while the admin key it was opened with is still the configured one.
        if !is_current_admin_session(&claims.sub, state.config().auth.admin_key.as_deref()) {
            return Err(unauthorized());
        }
        return Ok(Principal::new(ADMIN_KEY_ID, claims.scopes));
    }
    let services = state.platform().await?;
    let (key, _) = services
        .keys
        .find(&claims.sub)
        .await?
        .ok_or_else(unauthorized)?;
    let expired = key
        .expires_at
        .is_some_and(|t| t <= sp_core::Timestamp::now());
    if key.revoked_at.is_some() || expired {
        return Err(unauthorized());
    }
    Ok(Principal {
        scopes: claims
            .scopes
            .into_iter()
            .filter(|s| key.scopes.contains(s))
            .collect(),
        key_id: key.id,
        tenant: key.tenant,
        models: key.models,
        tools: key.tools,
        rate_limit: key.rate_limit,
        token_limit: key.token_limit,
        tenant_quotas: Default::default(),
    })
}

fn rate_headers(headers: &mut HeaderMap, quota: &Quota, decision: &Decision) {
    let mut set = |name: &'static str, value: u64| {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, value);
        }
    };
    set("ratelimit-limit", u64::from(quota.count));
    set("ratelimit-remaining", u64::from(decision.remaining));
    set(
        "ratelimit-reset",
        decision.reset_after.as_secs_f64().ceil() as u64,
    );
}

/// The middleware: authenticates, rate-limits, hands the [`Principal`] to handlers, and
/// writes every mutating request of an authenticated caller (refused ones included) to the
/// audit log. A request without a valid credential is counted (`sp_auth_refused_total`),
/// not written: anyone can send those, as fast as they like (review finding H1).
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let audited = Audited::of(&request);
    let client = client_address(&request);
    match throttled_principal(&state, request.headers(), client).await {
        Ok(principal) => {
            let who = (principal.key_id.clone(), principal.tenant.clone());
            let response = admit(&state, principal, request, next).await;
            if let Some(audited) = audited {
                audited
                    .record(&state, who, response.status().as_u16(), started)
                    .await;
            }
            response
        }
        Err(err) => {
            if err.code == ErrorCode::Unauthorized {
                metrics::counter!("sp_auth_refused_total").increment(1);
            }
            err.into_response()
        }
    }
}

/// Whether a request may read an operations route (`/metrics`, the full `/health` report):
/// anyone, unless `server.protect_operations` asks for an `admin` credential (refused
/// credentials throttled like on `/v1`).
pub(crate) async fn operations_access(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<IpAddr>,
) -> Result<(), ApiError> {
    if !state.config().server.protect_operations {
        return Ok(());
    }
    if throttled_principal(state, headers, client)
        .await?
        .allows(Scope::Admin)
    {
        Ok(())
    } else {
        Err(Error::Forbidden {
            scope: Scope::Admin.to_string(),
        }
        .into())
    }
}

/// The most bytes of a request's path an audit entry keeps; the route pattern says the rest.
const AUDIT_PATH_BYTES: usize = 256;

/// `path` cut to [`AUDIT_PATH_BYTES`] on a character boundary, `…` marking a cut.
fn audit_path(path: &str) -> String {
    if path.len() <= AUDIT_PATH_BYTES {
        return path.to_owned();
    }
    let mut end = AUDIT_PATH_BYTES;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &path[..end])
}

async fn admit(
    state: &AppState,
    mut principal: Principal,
    mut request: Request,
    next: Next,
) -> Response {
    let quota = principal
        .rate_limit
        .unwrap_or_else(|| state.live().default_rate_limit());
    let limiter = &state.backends().rate_limiter;
    let decision = limiter.check(&principal.key_id, &quota).await;
    if !decision.allowed {
        metrics::counter!("sp_rate_limited_total").increment(1);
        // The error carries its Retry-After; the quota headers are added here.
        let mut response = ApiError::from(decision.refusal()).into_response();
        rate_headers(response.headers_mut(), &quota, &decision);
        return response;
    }
    match tenant_quotas(state, &principal).await {
        Ok(quotas) => principal.tenant_quotas = quotas,
        Err(err) => return err.into_response(),
    }
    if let Some(tenant_quota) = principal.tenant_quotas.rate_limit {
        let bucket = format!("tenant:{}", principal.tenant);
        let shared = limiter.check(&bucket, &tenant_quota).await;
        if !shared.allowed {
            metrics::counter!("sp_rate_limited_total").increment(1);
            return ApiError::from(shared.refusal()).into_response();
        }
    }
    let answered = crate::request_log::AnsweredFor {
        key_id: principal.key_id.clone(),
        tenant: principal.tenant.to_string(),
    };
    request.extensions_mut().insert(principal);
    let mut response = next.run(request).await;
    rate_headers(response.headers_mut(), &quota, &decision);
    response.extensions_mut().insert(answered);
    response
}

/// The caller's tenant's quotas (none for the bootstrap admin key, so it can always change
/// them back). A tenant that is gone leaves its keys without access.
async fn tenant_quotas(
    state: &AppState,
    principal: &Principal,
) -> Result<sp_core::tenants::TenantQuotas, ApiError> {
    if principal.key_id == ADMIN_KEY_ID {
        return Ok(Default::default());
    }
    let tenants = &state.platform().await?.tenants;
    match tenants.find(&principal.tenant).await? {
        Some(tenant) => Ok(tenant.quotas),
        None => Err(unauthorized()),
    }
}

/// What the audit log keeps of a mutating request.
struct Audited {
    method: String,
    route: String,
    path: String,
    request_id: String,
}

impl Audited {
    fn of(request: &Request) -> Option<Self> {
        let method = request.method();
        if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
            return None;
        }
        Some(Audited {
            method: method.to_string(),
            route: request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or_else(String::new, |p| p.as_str().to_owned()),
            path: audit_path(request.uri().path()),
            request_id: crate::middleware::request_id_of(request),
        })
    }

    async fn record(
        self,
        state: &AppState,
        (key_id, tenant): (String, sp_core::TenantId),
        status: u16,
        started: std::time::Instant,
    ) {
        let entry = AuditEntry {
            id: sp_core::Id::new(),
            at: sp_core::Timestamp::now(),
            key_id,
            tenant,
            method: self.method,
            route: self.route,
            path: self.path,
            status,
            request_id: self.request_id,
            duration_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
        };
        write_audit(state, &entry).await;
    }
}

/// Writes an audit entry. The answer stands either way: a lost entry is an operator's
/// problem, loudly logged.
pub(crate) async fn write_audit(state: &AppState, entry: &AuditEntry) {
    let written = match state.platform().await {
        Ok(services) => services.audit.record(entry).await,
        Err(err) => Err(err),
    };
    if let Err(err) = written {
        tracing::error!(%err, request_id = %entry.request_id, "audit entry not written");
    }
}

/// The authenticated caller of a handler.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// The namespace this caller reaches by naming `asked` (its tenant's `default` when
    /// `None`); another tenant's is 404 (see [`Principal::namespace`]).
    pub fn namespace(&self, asked: Option<Namespace>) -> Result<Namespace, ApiError> {
        Ok(self.0.namespace(asked)?)
    }

    /// [`Caller::namespace`] of a namespace named in a query string.
    pub fn namespace_named(&self, raw: Option<String>) -> Result<Namespace, ApiError> {
        self.namespace(raw.map(Namespace::new).transpose()?)
    }

    /// `asked` as this caller reaches it: for the namespace a request body names.
    pub fn scope(&self, asked: &mut Namespace) -> Result<(), ApiError> {
        *asked = self.0.namespace(Some(asked.clone()))?;
        Ok(())
    }

    /// Refuses with `403` unless the caller holds `scope` (or `admin`).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.allows(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                scope: scope.to_string(),
            }
            .into())
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(unauthorized)
    }
}
