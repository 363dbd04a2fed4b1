//! The OpenAPI 3.1 description of the HTTP API, built by utoipa from the handlers themselves:
//! every route is registered through [`utoipa_axum::routes!`], so a route cannot exist without
//! its entry in the spec. Served at `/openapi.json`, browsable with Swagger UI at `/docs`, and
//! printed by `sp openapi`.

use std::collections::BTreeMap;

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, OpenApi, ToSchema as _};

use crate::error::ErrorEnvelope;

/// The security scheme names used in each protected route's `security(...)`.
pub(crate) const BEARER: &str = "bearer";
pub(crate) const API_KEY: &str = "api_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Story Portal",
        description = "Story Portal's reference server: OpenAI-compatible inference, the \
                       knowledge store, contexts with memory, keys and tokens. Every `/v1` route \
                       needs an API key or a JWT access token with the scope listed in its \
                       security requirement (`admin` implies every scope). Every error is one \
                       envelope: `{\"error\": {\"code\", \"message\", \"type\", \"request_id\"}}` \
                       with a stable code from docs/errors.md."
    ),
    tags(
        (name = "openai", description = "OpenAI-compatible inference"),
        (name = "anthropic", description = "Anthropic-compatible inference: the Messages API, its stream events and error shape"),
        (name = "documents", description = "The knowledge store: documents and search"),
        (name = "contexts", description = "Conversations, their messages, memory and chat turns"),
        (name = "hub", description = "The service hub: registry, discovery, tool invocation"),
        (name = "events", description = "The event log: append, query, replay, live streams, consumer groups, dead letters"),
        (name = "workflows", description = "Workflow definitions and their persisted, resumable runs"),
        (name = "agents", description = "Agent definitions and their event-sourced runs: model and tool loops that resume, pause for approval, replay and fork"),
        (name = "keys", description = "API keys and the audit log (admin)"),
        (name = "tenants", description = "Tenants: who owns namespaces and keys (admin)"),
        (name = "auth", description = "JWT access tokens and refresh tokens"),
        (name = "operations", description = "Health, metrics and this description"),
    ),
    components(schemas(ErrorEnvelope))
)]
struct ApiDoc;

/// The full document: the base description, then the routes. `protected` are the routes behind
/// the gateway's authentication; each must declare the scope it needs.
pub(crate) fn document(
    protected: utoipa::openapi::OpenApi,
    public: utoipa::openapi::OpenApi,
) -> utoipa::openapi::OpenApi {
    let mut api = ApiDoc::openapi();
    api.info.version = sp_core::VERSION.to_string();
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API key (`sp_<id>_<secret>`) or a JWT access token from /v1/auth/token",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        API_KEY,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-API-Key",
            "An API key (`sp_<id>_<secret>`)",
        ))),
    );
    api.merge(protected);
    api.merge(public);
    api
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorEnvelope::name())))
                .build(),
        )
        .build()
        .into()
}

/// What the gateway itself answers on any protected route, before or around the handler.
pub(crate) struct GatewayErrors;

impl IntoResponses for GatewayErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        [
            (
                "400",
                "SP-REQ-004 / SP-REQ-006 / SP-VAL-*: malformed JSON, wrong types, unknown \
                 fields, invalid values",
            ),
            (
                "401",
                "SP-AUTH-001: no credential, or an unknown, revoked or expired one",
            ),
            ("403", "SP-AUTH-002: the credential lacks the route's scope"),
            (
                "413",
                "SP-REQ-003: the body is over `server.max_body_bytes`",
            ),
            ("415", "SP-REQ-005: the body is not `application/json`"),
            (
                "429",
                "SP-AUTH-003: the key's request or token rate is spent (see `Retry-After`)",
            ),
            (
                "503",
                "SP-GEN-002 / SP-LLM-002: a backend is down or too many requests are in \
                 flight (see `Retry-After`)",
            ),
        ]
        .into_iter()
        .map(|(status, description)| (status.to_string(), error_response(description)))
        .collect()
    }
}

/// `404` with the envelope: the named resource does not exist (in this namespace).
pub(crate) struct NotFound;

impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "404".to_string(),
            error_response("SP-RES-001: no such resource in this namespace"),
        )])
    }
}
