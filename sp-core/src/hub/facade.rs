//! [`Hub`]: the registry and the tool caller over a [`RegistryStore`] and a [`Transport`].

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use super::{
    Breaker, BreakerState, Discovery, HealthStatus, HubConfig, HubHealth, Instance, NewInstance,
    NewService, RegistryStore, Service, ToolSpec, Transport, invoke, validate_discovery,
    validate_instance, validate_service,
};
use crate::Id;
use crate::error::{Error, Result};
use crate::knowledge::Namespace;

/// A tool with the service version that offers it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolEntry {
    /// The service's name.
    pub service: String,
    /// Its version.
    pub version: String,
    /// The service's aggregated health.
    pub health: HealthStatus,
    /// The tool.
    pub tool: ToolSpec,
}

/// A store's answer to a discovery query and when it was read.
type FoundAt = (std::time::Instant, Arc<Vec<Service>>);

/// The registry and the tool caller.
///
/// ```no_run
/// # async fn demo(store: std::sync::Arc<dyn sp_core::hub::RegistryStore>,
/// #               transport: std::sync::Arc<dyn sp_core::hub::Transport>) -> sp_core::Result<()> {
/// use serde_json::json;
/// use sp_core::hub::{Hub, HubConfig, ToolInvocation};
///
/// let hub = Hub::new(store, transport, HubConfig::default());
/// hub.register(serde_json::from_value(json!({
///     "name": "weather", "version": "1.0.0", "base_url": "http://127.0.0.1:9000",
///     "tools": [{"name": "forecast", "idempotent": true,
///                "input_schema": {"type": "object", "required": ["city"]}}]
/// })).map_err(sp_core::Error::internal)?).await?;
/// let result = hub.invoke(ToolInvocation::new("forecast", json!({"city": "Oslo"}))).await?;
/// println!("{}", result.output);
/// # Ok(()) }
/// ```
pub struct Hub {
    pub(super) store: Arc<dyn RegistryStore>,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) config: HubConfig,
    /// `config.allowed_networks`, parsed once.
    egress: super::EgressPolicy,
    pub(super) breakers: Mutex<HashMap<String, Breaker>>,
    pub(super) validators: Mutex<HashMap<(Id, i64, String), Arc<jsonschema::Validator>>>,
    pub(super) resolved:
        Mutex<HashMap<invoke::ResolveKey, (std::time::Instant, super::canary::Resolution)>>,
    /// Recent store answers by discovery query (its JSON), for `resolve_cache_ms`.
    pub(super) found: Mutex<HashMap<String, FoundAt>>,
    pub(super) next_instance: AtomicUsize,
    /// Turns through a canary's buckets for calls without an affinity.
    pub(super) next_canary: AtomicUsize,
    /// Finished calls per (service, version): (succeeded, failed).
    pub(super) calls: Mutex<HashMap<(String, String), (u64, u64)>>,
    /// Where the next health round starts when there are more instances than it probes.
    pub(super) next_probe: AtomicUsize,
    pub(super) events: crate::events::Recorder,
}

impl Hub {
    /// A hub over `store`, calling services through `transport`.
    pub fn new(
        store: Arc<dyn RegistryStore>,
        transport: Arc<dyn Transport>,
        config: HubConfig,
    ) -> Self {
        Hub {
            store,
            transport,
            // An invalid list is refused when the configuration is loaded; here it allows
            // nothing extra.
            egress: config.egress().unwrap_or_default(),
            config,
            breakers: Mutex::new(HashMap::new()),
            validators: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
            found: Mutex::new(HashMap::new()),
            next_instance: AtomicUsize::new(0),
            next_canary: AtomicUsize::new(0),
            calls: Mutex::new(HashMap::new()),
            next_probe: AtomicUsize::new(0),
            events: crate::events::Recorder::default(),
        }
    }

    /// Records `tool.invoked` and `tool.failed` in `log` (stream `tools`, correlated with the
    /// call's `request_id`), whoever called: HTTP, MCP, a workflow step, Rust or Python.
    pub fn with_events(mut self, log: Arc<crate::events::EventLog>) -> Self {
        self.events = crate::events::Recorder::new(log);
        self
    }

    /// Where this hub may send requests: public addresses and `hub.allowed_networks`.
    pub fn egress(&self) -> &super::EgressPolicy {
        &self.egress
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn RegistryStore> {
        &self.store
    }

    /// Registers (or replaces) a service version after validating it; `true` when new.
    pub async fn register(&self, new: NewService) -> Result<(Service, bool)> {
        validate_service(&new)?;
        let most = self.config.max_tool_timeout_ms;
        if let Some((i, tool)) = new
            .tools
            .iter()
            .enumerate()
            .find(|(_, t)| t.timeout_ms.is_some_and(|ms| ms > most))
        {
            return Err(Error::invalid_input(
                format!("tools[{i}].timeout_ms"),
                format!(
                    "{} ms is longer than this server allows (hub.max_tool_timeout_ms = {most})",
                    tool.timeout_ms.unwrap_or(0)
                ),
            ));
        }
        if let Some(url) = &new.base_url {
            self.egress().check_url("base_url", url)?;
        }
        let registered = self.store.register(new).await;
        self.forget_resolutions();
        registered
    }

    /// One service version.
    pub async fn get(&self, namespace: &Namespace, name: &str, version: &str) -> Result<Service> {
        self.store.get(namespace, name, version).await
    }

    /// Removes a service version and its instances.
    pub async fn deregister(&self, namespace: &Namespace, name: &str, version: &str) -> Result<()> {
        let removed = self.store.deregister(namespace, name, version).await;
        self.forget_resolutions();
        removed
    }

    /// Services matching every given criterion, version range and health included.
    ///
    /// The store's answer to a query is reused for `hub.resolve_cache_ms` (like tool
    /// resolution): changes made through this hub drop it at once, another process's within
    /// that time. Instances whose heartbeat runs out meanwhile are left out of a reused
    /// answer and the health recomputed, so an expired instance is never listed.
    pub async fn discover(&self, query: &Discovery) -> Result<Vec<Service>> {
        let range = validate_discovery(query)?;
        let found = self.find(query).await?;
        let now = crate::Timestamp::now();
        Ok(found
            .iter()
            .cloned()
            .map(|mut service| {
                let before = service.instances.len();
                service
                    .instances
                    .retain(|i| i.expires_at.is_none_or(|at| at > now));
                if service.instances.len() != before {
                    service.health =
                        HealthStatus::aggregate(service.instances.iter().map(|i| i.health));
                }
                service
            })
            .filter(|service| {
                range.as_ref().is_none_or(|range| {
                    semver::Version::parse(&service.version).is_ok_and(|v| range.matches(&v))
                })
            })
            .filter(|service| query.health.is_none_or(|h| service.health == h))
            .collect())
    }

    async fn find(&self, query: &Discovery) -> Result<Arc<Vec<Service>>> {
        let ttl = std::time::Duration::from_millis(self.config.resolve_cache_ms);
        let key = serde_json::to_string(query).map_err(crate::Error::internal)?;
        if !ttl.is_zero()
            && let Some(found) = self.found.lock().ok().and_then(|f| {
                f.get(&key)
                    .filter(|(at, _)| at.elapsed() < ttl)
                    .map(|(_, found)| found.clone())
            })
        {
            return Ok(found);
        }
        let found = Arc::new(self.store.find(query).await?);
        if !ttl.is_zero()
            && let Ok(mut cache) = self.found.lock()
        {
            // Bounded by forgetting: many distinct queries are a cold cache, not a leak.
            if cache.len() >= 1024 {
                cache.clear();
            }
            cache.insert(key, (std::time::Instant::now(), found.clone()));
        }
        Ok(found)
    }

    /// Every tool of the services `query` finds.
    pub async fn tools(&self, query: &Discovery) -> Result<Vec<ToolEntry>> {
        let services = self.discover(query).await?;
        Ok(services
            .into_iter()
            .flat_map(|service| {
                let (name, version, health) = (service.name, service.version, service.health);
                service.tools.into_iter().map(move |tool| ToolEntry {
                    service: name.clone(),
                    version: version.clone(),
                    health,
                    tool,
                })
            })
            .filter(|entry| query.tool.as_ref().is_none_or(|t| *t == entry.tool.name))
            .collect())
    }

    /// Registers or renews an instance.
    pub async fn heartbeat(
        &self,
        namespace: &Namespace,
        name: &str,
        version: &str,
        instance: &NewInstance,
    ) -> Result<Instance> {
        validate_instance(instance)?;
        self.egress().check_url("url", &instance.url)?;
        let service = self.store.get(namespace, name, version).await?;
        let max = self.config.max_instances_per_service;
        let known = service.instances.iter().any(|i| i.url == instance.url);
        if !known && service.instances.len() >= max {
            return Err(Error::invalid_input(
                "url",
                format!(
                    "{name}@{version} already has {} live instances, the most \
                     hub.max_instances_per_service ({max}) allows; remove one or let it expire",
                    service.instances.len()
                ),
            ));
        }
        if !known {
            self.check_tenant_instances(namespace).await?;
        }
        let joined = self
            .store
            .heartbeat(namespace, name, version, instance)
            .await;
        self.forget_resolutions();
        joined
    }

    /// Refuses a new instance when `namespace`'s tenant already has
    /// `hub.max_instances_per_tenant` live ones (a scan of the live instances, paid only by
    /// heartbeats that add one; renewals skip it).
    async fn check_tenant_instances(&self, namespace: &Namespace) -> Result<()> {
        let tenant = namespace.tenant();
        let max = self.config.max_instances_per_tenant;
        let live = self
            .store
            .live_instances()
            .await?
            .iter()
            .filter(|target| target.namespace.tenant() == tenant)
            .count();
        if live >= max {
            return Err(Error::invalid_input(
                "url",
                format!(
                    "tenant `{tenant}` already has {live} live instances, the most \
                     hub.max_instances_per_tenant ({max}) allows; remove some or let them expire"
                ),
            ));
        }
        Ok(())
    }

    /// Removes an instance.
    pub async fn remove_instance(
        &self,
        namespace: &Namespace,
        name: &str,
        version: &str,
        instance: Id,
    ) -> Result<()> {
        let removed = self
            .store
            .remove_instance(namespace, name, version, instance)
            .await;
        self.forget_resolutions();
        removed
    }

    /// How many service versions are healthy, degraded, unhealthy or not checked yet.
    pub async fn health_summary(&self) -> Result<HubHealth> {
        Ok(HubHealth::count(self.store.service_health().await?))
    }

    /// Drops the cached tool resolutions and discovery answers: the next calls read the
    /// registry.
    pub fn forget_resolutions(&self) {
        if let Ok(mut resolved) = self.resolved.lock() {
            resolved.clear();
        }
        if let Ok(mut found) = self.found.lock() {
            found.clear();
        }
    }

    /// The breaker state of a service version.
    pub fn breaker_state(&self, namespace: &Namespace, service: &Service) -> BreakerState {
        self.breakers
            .lock()
            .map(|b| {
                b.get(&breaker_key(namespace, service))
                    .map_or(BreakerState::Closed, Breaker::state)
            })
            .unwrap_or(BreakerState::Closed)
    }
}

pub(super) fn breaker_key(namespace: &Namespace, service: &Service) -> String {
    format!("{}/{}", namespace.as_str(), service.label())
}
