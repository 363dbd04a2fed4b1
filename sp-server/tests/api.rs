//! The platform API over HTTP, in process, on the embedded default: the auth matrix, rate
//! limits, documents and search, contexts, keys, bad input, metrics, the audit log and the
//! OpenAPI document.

#[path = "support/api.rs"]
mod support;

#[path = "api/admin_sessions.rs"]
mod admin_sessions;
#[path = "api/anthropic.rs"]
mod anthropic;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/canary.rs"]
mod canary;
#[path = "api/contexts.rs"]
mod contexts;
#[path = "api/documents.rs"]
mod documents;
#[path = "api/event_groups.rs"]
mod event_groups;
#[path = "api/events.rs"]
mod events;
#[path = "api/events_live.rs"]
mod events_live;
#[path = "api/facts.rs"]
mod facts;
#[path = "api/hub.rs"]
mod hub;
#[path = "api/mcp.rs"]
mod mcp;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/operations.rs"]
mod operations;
#[path = "api/requests.rs"]
mod requests;
#[path = "api/responses.rs"]
mod responses;
#[path = "api/rotation.rs"]
mod rotation;
#[path = "api/storage_quota.rs"]
mod storage_quota;
#[path = "api/tenancy.rs"]
mod tenancy;
#[path = "api/tenant_admin.rs"]
mod tenant_admin;
#[path = "api/tokens.rs"]
mod tokens;
#[path = "api/workflows.rs"]
mod workflows;
