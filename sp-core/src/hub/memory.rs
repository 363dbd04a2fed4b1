//! The service registry in process memory: for tests, examples and embedders that keep no
//! registry on disk. It behaves as the SQL registries do (the shared suite in
//! `sp-data/tests/hub` runs on it).

use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::store::{CheckTarget, RegistryStore};
use super::types::{Discovery, HealthStatus, Instance, NewInstance, NewService, Service};
use crate::error::{Error, Resource, Result};
use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// Where a service's health endpoint is when its registration names none.
const DEFAULT_HEALTH_PATH: &str = "/health";

/// A [`RegistryStore`] in a list, gone with the process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::hub::{MemoryRegistryStore, NewService, RegistryStore};
///
/// let registry = MemoryRegistryStore::default();
/// let new: NewService = serde_json::from_value(serde_json::json!({
///     "name": "echo", "version": "1.0.0", "base_url": "http://127.0.0.1:9"})).unwrap();
/// let (service, created) = registry.register(new).await?;
/// assert!(created);
/// assert_eq!(service.instances.len(), 1);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryRegistryStore {
    /// Service versions with every instance (expired ones until purged).
    services: Mutex<Vec<Service>>,
}

fn not_found(name: &str, version: &str) -> Error {
    Error::NotFound {
        kind: Resource::Service,
        id: format!("{name}@{version}"),
    }
}

fn live(instance: &Instance, now: Timestamp) -> bool {
    instance.expires_at.is_none_or(|at| at > now)
}

/// The service as reads return it: live instances in registration order, health aggregated.
fn as_read(service: &Service, now: Timestamp) -> Service {
    let mut read = service.clone();
    read.instances.retain(|i| live(i, now));
    read.instances.sort_by_key(|i| (i.registered_at, i.id));
    read.health = HealthStatus::aggregate(read.instances.iter().map(|i| i.health));
    read
}

fn matches(service: &Service, query: &Discovery) -> bool {
    service.namespace == query.namespace
        && query.name.as_ref().is_none_or(|n| *n == service.name)
        && query.tag.as_ref().is_none_or(|t| service.tags.contains(t))
        && query
            .capability
            .as_ref()
            .is_none_or(|c| service.capabilities.contains(c))
        && query
            .tool
            .as_ref()
            .is_none_or(|t| service.tools.iter().any(|tool| tool.name == *t))
}

impl MemoryRegistryStore {
    fn services(&self) -> MutexGuard<'_, Vec<Service>> {
        self.services.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The permanent instance follows `base_url`: dropped when it changes or goes, (re)made
/// permanent when it is set (a heartbeat instance at that URL is adopted).
fn place_base_instance(service: &mut Service, now: Timestamp) {
    let base = service.base_url.clone();
    service
        .instances
        .retain(|i| i.ttl_secs.is_some() || Some(&i.url) == base.as_ref());
    let Some(url) = base else { return };
    match service.instances.iter_mut().find(|i| i.url == url) {
        Some(instance) => {
            instance.ttl_secs = None;
            instance.expires_at = None;
        }
        None => service.instances.push(Instance {
            id: Id::new(),
            url,
            ttl_secs: None,
            expires_at: None,
            health: HealthStatus::Unknown,
            registered_at: now,
        }),
    }
}

#[async_trait]
impl RegistryStore for MemoryRegistryStore {
    async fn register(&self, new: NewService) -> Result<(Service, bool)> {
        let now = Timestamp::now();
        let mut services = self.services();
        let existing = services.iter().position(|s| {
            s.namespace == new.namespace && s.name == new.name && s.version == new.version
        });
        let created = existing.is_none();
        let index = existing.unwrap_or_else(|| {
            services.push(Service {
                id: Id::new(),
                namespace: new.namespace.clone(),
                name: new.name.clone(),
                version: new.version.clone(),
                description: String::new(),
                protocol: new.protocol,
                base_url: None,
                health_path: String::new(),
                tags: Vec::new(),
                capabilities: Vec::new(),
                metadata: serde_json::json!({}),
                tools: Vec::new(),
                canary_percent: None,
                instances: Vec::new(),
                health: HealthStatus::Unknown,
                created_at: now,
                updated_at: now,
            });
            services.len() - 1
        });
        let service = &mut services[index];
        service.description = new.description;
        service.protocol = new.protocol;
        service.base_url = new.base_url;
        service.health_path = new
            .health_path
            .unwrap_or_else(|| DEFAULT_HEALTH_PATH.to_owned());
        service.tags = new.tags;
        service.capabilities = new.capabilities;
        service.metadata = new.metadata.unwrap_or_else(|| serde_json::json!({}));
        service.tools = new.tools;
        service.canary_percent = new.canary_percent;
        service.updated_at = now;
        place_base_instance(service, now);
        Ok((as_read(service, now), created))
    }

    async fn get(&self, namespace: &Namespace, name: &str, version: &str) -> Result<Service> {
        let now = Timestamp::now();
        self.services()
            .iter()
            .find(|s| s.namespace == *namespace && s.name == name && s.version == version)
            .map(|s| as_read(s, now))
            .ok_or_else(|| not_found(name, version))
    }

    async fn deregister(&self, namespace: &Namespace, name: &str, version: &str) -> Result<()> {
        let mut services = self.services();
        let before = services.len();
        services.retain(|s| !(s.namespace == *namespace && s.name == name && s.version == version));
        if services.len() == before {
            return Err(not_found(name, version));
        }
        Ok(())
    }

    async fn find(&self, query: &Discovery) -> Result<Vec<Service>> {
        let now = Timestamp::now();
        let mut found: Vec<Service> = self
            .services()
            .iter()
            .filter(|s| matches(s, query))
            .map(|s| as_read(s, now))
            .collect();
        found.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        Ok(found)
    }

    async fn heartbeat(
        &self,
        namespace: &Namespace,
        name: &str,
        version: &str,
        instance: &NewInstance,
    ) -> Result<Instance> {
        let now = Timestamp::now();
        let expires_at = Timestamp::from_unix_micros(
            now.unix_micros() + i64::from(instance.ttl_secs) * 1_000_000,
        )
        .ok_or_else(|| Error::internal("instance expiry out of range"))?;
        let mut services = self.services();
        let service = services
            .iter_mut()
            .find(|s| s.namespace == *namespace && s.name == name && s.version == version)
            .ok_or_else(|| not_found(name, version))?;
        if let Some(known) = service.instances.iter_mut().find(|i| i.url == instance.url) {
            // A renewal keeps the health of a live instance; one that had expired starts over.
            if !live(known, now) {
                known.health = HealthStatus::Unknown;
            }
            if known.ttl_secs.is_some() {
                known.ttl_secs = Some(instance.ttl_secs);
                known.expires_at = Some(expires_at);
            }
            return Ok(known.clone());
        }
        let renewed = Instance {
            id: Id::new(),
            url: instance.url.clone(),
            ttl_secs: Some(instance.ttl_secs),
            expires_at: Some(expires_at),
            health: HealthStatus::Unknown,
            registered_at: now,
        };
        service.instances.push(renewed.clone());
        Ok(renewed)
    }

    async fn remove_instance(
        &self,
        namespace: &Namespace,
        name: &str,
        version: &str,
        instance: Id,
    ) -> Result<()> {
        let mut services = self.services();
        let service = services
            .iter_mut()
            .find(|s| s.namespace == *namespace && s.name == name && s.version == version)
            .ok_or_else(|| not_found(name, version))?;
        let before = service.instances.len();
        service.instances.retain(|i| i.id != instance);
        if service.instances.len() == before {
            return Err(Error::NotFound {
                kind: Resource::Instance,
                id: instance.to_string(),
            });
        }
        Ok(())
    }

    async fn set_health(&self, instance: Id, health: HealthStatus) -> Result<()> {
        for service in self.services().iter_mut() {
            for known in service.instances.iter_mut().filter(|i| i.id == instance) {
                known.health = health;
            }
        }
        Ok(())
    }

    async fn live_instances(&self) -> Result<Vec<CheckTarget>> {
        let now = Timestamp::now();
        Ok(self
            .services()
            .iter()
            .flat_map(|s| {
                s.instances
                    .iter()
                    .filter(move |i| live(i, now))
                    .map(move |i| CheckTarget {
                        namespace: s.namespace.clone(),
                        service: s.label(),
                        instance: i.clone(),
                        health_path: s.health_path.clone(),
                        protocol: s.protocol,
                    })
            })
            .collect())
    }

    async fn service_health(&self) -> Result<Vec<HealthStatus>> {
        let now = Timestamp::now();
        Ok(self
            .services()
            .iter()
            .map(|s| as_read(s, now).health)
            .collect())
    }

    async fn purge_expired(&self) -> Result<u64> {
        let now = Timestamp::now();
        let mut purged = 0;
        for service in self.services().iter_mut() {
            let before = service.instances.len();
            service.instances.retain(|i| live(i, now));
            purged += (before - service.instances.len()) as u64;
        }
        Ok(purged)
    }
}
