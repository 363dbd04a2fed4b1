//! The service hub: a registry of services and their tools, discovery, health aggregation, and
//! tool invocation with schema validation, timeouts, retries and circuit breakers.
//!
//! [`Hub`] is the facade: it validates registrations ([`validate_service`]), applies version
//! ranges and health to discovery, and calls tools through a [`Transport`]. Storage is a
//! [`RegistryStore`] (SQLite or PostgreSQL in `sp-data`), the HTTP transport is
//! `sp_data::HttpTransport`.

mod breaker;
mod canary;
mod config;
mod egress;
mod facade;
mod health;
mod import;
mod invoke;
mod memory;
mod store;
mod transport;
mod types;
mod validate;

pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use config::HubConfig;
pub use egress::EgressPolicy;
pub use facade::{Hub, ToolEntry};
pub use health::{HealthTracker, Probe};
pub use import::McpImport;
pub use invoke::{ToolInvocation, ToolResult};
pub use memory::MemoryRegistryStore;
pub use store::{CheckTarget, RegistryStore};
pub use transport::{ToolRequest, ToolResponse, Transport, TransportError};
pub use types::{
    Discovery, HealthStatus, HubHealth, Instance, NewInstance, NewService, Protocol, Service,
    ToolSpec,
};
pub use validate::{
    MAX_LABELS, MAX_TIMEOUT_MS, MAX_TOOLS, MAX_TTL_SECS, validate_discovery, validate_instance,
    validate_service,
};
