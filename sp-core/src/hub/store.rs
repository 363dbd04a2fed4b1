//! The storage trait every registry backend implements.

use async_trait::async_trait;

use super::types::{Discovery, HealthStatus, Instance, NewInstance, NewService, Protocol, Service};
use crate::Id;
use crate::error::Result;
use crate::knowledge::Namespace;

/// A live instance to health-check: where, and which service version it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckTarget {
    /// The service's owner.
    pub namespace: Namespace,
    /// `name@version`.
    pub service: String,
    /// The instance.
    pub instance: Instance,
    /// The service's health endpoint path.
    pub health_path: String,
    /// How to reach it.
    pub protocol: Protocol,
}

/// Stores service versions, their tools and instances. Implemented by the embedded (SQLite)
/// and PostgreSQL backends of `sp-data`; [`Hub`](super::Hub) validates input, applies version
/// ranges and health, and invokes tools on top.
///
/// Reads never return an instance whose heartbeat TTL has run out, so what is listed is what
/// is alive; every failing call leaves the registry as it was.
#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Inserts a validated service version, or replaces the one with the same namespace, name
    /// and version (its heartbeat instances stay; the permanent instance follows `base_url`).
    /// Returns it and whether it is new.
    async fn register(&self, new: NewService) -> Result<(Service, bool)>;

    /// One service version; `SP-RES-001` when absent.
    async fn get(&self, namespace: &Namespace, name: &str, version: &str) -> Result<Service>;

    /// Removes a service version and its instances; `SP-RES-001` when absent.
    async fn deregister(&self, namespace: &Namespace, name: &str, version: &str) -> Result<()>;

    /// Service versions matching the query's name, tag, capability and tool (the caller
    /// applies the version range and health), by name then registration order.
    async fn find(&self, query: &Discovery) -> Result<Vec<Service>>;

    /// Registers or renews (same URL) an instance of a service version; `SP-RES-001` when the
    /// version is not registered.
    async fn heartbeat(
        &self,
        namespace: &Namespace,
        name: &str,
        version: &str,
        instance: &NewInstance,
    ) -> Result<Instance>;

    /// Removes an instance at once (a clean shutdown); `SP-RES-001` when absent.
    async fn remove_instance(
        &self,
        namespace: &Namespace,
        name: &str,
        version: &str,
        instance: Id,
    ) -> Result<()>;

    /// Records an instance's health (a vanished instance is ignored).
    async fn set_health(&self, instance: Id, health: HealthStatus) -> Result<()>;

    /// Every live instance of every namespace, for the health checker.
    async fn live_instances(&self) -> Result<Vec<CheckTarget>>;

    /// The health of every registered service version of every namespace, from its live
    /// instances ([`HealthStatus::aggregate`]), for the hub's summary.
    async fn service_health(&self) -> Result<Vec<HealthStatus>>;

    /// Deletes instances whose TTL ran out; returns how many.
    async fn purge_expired(&self) -> Result<u64>;
}
