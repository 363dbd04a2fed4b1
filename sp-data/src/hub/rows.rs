//! Registry rows as both backends return them (ids, times and JSON decoded natively by the
//! column types of [`crate::sql`]), and their assembly into services.

use std::collections::HashMap;

use serde_json::Value;
use sp_core::hub::{
    CheckTarget, Discovery, HealthStatus, Instance, NewService, Protocol, Service, ToolSpec,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Result, Timestamp};
use sqlx::types::Json;

use crate::sql::{DbId, DbTime};

/// A service joined with one of its live instances (all `None` when it has none).
#[derive(sqlx::FromRow)]
pub(crate) struct ServiceRow {
    id: DbId,
    namespace: String,
    name: String,
    version: String,
    description: String,
    base_url: Option<String>,
    health_path: String,
    tags: Json<Vec<String>>,
    capabilities: Json<Vec<String>>,
    metadata: Value,
    tools: Json<Vec<ToolSpec>>,
    canary_percent: Option<i64>,
    protocol: String,
    created_at: DbTime,
    updated_at: DbTime,
    instance_id: Option<DbId>,
    url: Option<String>,
    ttl_secs: Option<i32>,
    expires_at: Option<DbTime>,
    health: Option<String>,
    registered_at: Option<DbTime>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct InstanceRow {
    id: DbId,
    url: String,
    ttl_secs: Option<i32>,
    expires_at: Option<DbTime>,
    health: String,
    registered_at: DbTime,
}

/// An instance with its service's identity, for the health checker.
#[derive(sqlx::FromRow)]
pub(crate) struct TargetRow {
    namespace: String,
    name: String,
    version: String,
    health_path: String,
    protocol: String,
    #[sqlx(flatten)]
    instance: InstanceRow,
}

fn protocol(text: &str) -> Result<Protocol> {
    Protocol::parse(text).ok_or_else(|| Error::internal(format!("bad protocol `{text}`")))
}

fn health(text: &str) -> Result<HealthStatus> {
    HealthStatus::parse(text).ok_or_else(|| Error::internal(format!("bad health `{text}`")))
}

fn ttl(stored: Option<i32>) -> Result<Option<u32>> {
    stored
        .map(|t| u32::try_from(t).map_err(|_| Error::internal(format!("stored ttl {t} < 0"))))
        .transpose()
}

impl TryFrom<InstanceRow> for Instance {
    type Error = Error;

    fn try_from(row: InstanceRow) -> Result<Self> {
        Ok(Instance {
            id: row.id.0,
            url: row.url,
            ttl_secs: ttl(row.ttl_secs)?,
            expires_at: row.expires_at.map(|t| t.0),
            health: health(&row.health)?,
            registered_at: row.registered_at.0,
        })
    }
}

impl TryFrom<TargetRow> for CheckTarget {
    type Error = Error;

    fn try_from(row: TargetRow) -> Result<Self> {
        Ok(CheckTarget {
            namespace: Namespace::new(row.namespace)?,
            service: format!("{}@{}", row.name, row.version),
            instance: row.instance.try_into()?,
            health_path: row.health_path,
            protocol: protocol(&row.protocol)?,
        })
    }
}

impl ServiceRow {
    /// The joined instance, if the row has one.
    fn instance(&mut self) -> Result<Option<Instance>> {
        let (Some(id), Some(url), Some(health), Some(registered_at)) = (
            self.instance_id,
            self.url.take(),
            self.health.take(),
            self.registered_at,
        ) else {
            return Ok(None);
        };
        InstanceRow {
            id,
            url,
            ttl_secs: self.ttl_secs,
            expires_at: self.expires_at,
            health,
            registered_at,
        }
        .try_into()
        .map(Some)
    }

    fn into_service(self) -> Result<Service> {
        Ok(Service {
            id: self.id.0,
            namespace: Namespace::new(self.namespace)?,
            name: self.name,
            version: self.version,
            description: self.description,
            protocol: protocol(&self.protocol)?,
            base_url: self.base_url,
            health_path: self.health_path,
            tags: self.tags.0,
            capabilities: self.capabilities.0,
            metadata: self.metadata,
            tools: self.tools.0,
            canary_percent: self
                .canary_percent
                .and_then(|share| u8::try_from(share).ok()),
            instances: Vec::new(),
            health: HealthStatus::Unknown,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// Services from their rows, ordered by service then instance: consecutive rows of one service
/// carry its instances.
pub(crate) fn assemble(rows: Vec<ServiceRow>) -> Result<Vec<Service>> {
    let mut services: Vec<Service> = Vec::new();
    for mut row in rows {
        let instance = row.instance()?;
        if services.last().is_none_or(|last| last.id != row.id.0) {
            services.push(row.into_service()?);
        }
        if let (Some(service), Some(instance)) = (services.last_mut(), instance) {
            service.instances.push(instance);
        }
    }
    for service in &mut services {
        service.health = HealthStatus::aggregate(service.instances.iter().map(|i| i.health));
    }
    Ok(services)
}

/// The label rows of a registration: (kind, value).
pub(crate) fn labels(new: &NewService) -> Vec<(&'static str, &str)> {
    let mut labels: Vec<(&'static str, &str)> = Vec::new();
    labels.extend(new.tags.iter().map(|t| ("tag", t.as_str())));
    labels.extend(new.capabilities.iter().map(|c| ("capability", c.as_str())));
    labels.extend(new.tools.iter().map(|t| ("tool", t.name.as_str())));
    labels.sort_unstable();
    labels.dedup();
    labels
}

/// How a backend's planner is best steered through a discovery (see [`filters`]).
pub(crate) struct DiscoveryPlan {
    /// How the namespace column is written when a label narrows the query: SQLite takes
    /// `+s.namespace`, which keeps its planner from scanning the namespace index instead of
    /// using the labels'.
    pub label_driven_namespace: &'static str,
    /// "`s.id` is among the ids the subquery `{}` returns", for tags and capabilities, which
    /// many services share: PostgreSQL takes `s.id = ANY(ARRAY({}))`, which it runs once and
    /// looks up by primary key, where `IN` becomes a hash join over every service.
    pub shared_label: &'static str,
}

/// The WHERE clause of a discovery over `hub_services s` and its text binds, numbered from
/// `$2` (`$1` is the liveness time). Tool names, nearly unique, always take `IN`, which a nested
/// loop serves best.
pub(crate) fn filters(query: &Discovery, plan: &DiscoveryPlan) -> (String, Vec<String>) {
    let placeholder = |n: usize| format!("${}", n + 1);
    let labelled = query.tag.is_some() || query.capability.is_some() || query.tool.is_some();
    let column = if labelled && query.name.is_none() {
        plan.label_driven_namespace
    } else {
        "s.namespace"
    };
    let mut binds = vec![query.namespace.as_str().to_owned()];
    let mut sql = format!("{column} = {}", placeholder(1));
    if let Some(name) = &query.name {
        binds.push(name.clone());
        sql.push_str(&format!(" AND s.name = {}", placeholder(binds.len())));
    }
    for (kind, value) in [
        ("tag", &query.tag),
        ("capability", &query.capability),
        ("tool", &query.tool),
    ] {
        if let Some(value) = value {
            binds.push(query.namespace.as_str().to_owned());
            let namespace = placeholder(binds.len());
            binds.push(value.clone());
            // Driven from the label index: the matching services, not a scan of them all.
            let labelled = format!(
                "SELECT l.service_id FROM hub_labels l WHERE l.namespace = {namespace} \
                 AND l.kind = '{kind}' AND l.value = {}",
                placeholder(binds.len())
            );
            let membership = if kind == "tool" {
                "s.id IN ({})"
            } else {
                plan.shared_label
            };
            sql.push_str(" AND ");
            sql.push_str(&membership.replace("{}", &labelled));
        }
    }
    (sql, binds)
}

pub(crate) fn service_not_found(name: &str, version: &str) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Service,
        id: format!("{name}@{version}"),
    }
}

pub(crate) const DEFAULT_HEALTH_PATH: &str = "/health";

/// When an instance with `ttl_secs` renewed at `now` expires.
pub(crate) fn expiry(now: Timestamp, ttl_secs: u32) -> Result<DbTime> {
    Timestamp::from_unix_micros(now.unix_micros() + i64::from(ttl_secs) * 1_000_000)
        .map(DbTime)
        .ok_or_else(|| Error::internal("instance expiry out of range"))
}

/// Each service's health from `(service id, health of a live instance or NULL)` rows.
pub(crate) fn service_health(rows: Vec<(DbId, Option<String>)>) -> Result<Vec<HealthStatus>> {
    let mut by_service: HashMap<Id, Vec<HealthStatus>> = HashMap::new();
    for (service, stored) in rows {
        let instances = by_service.entry(service.0).or_default();
        if let Some(stored) = stored {
            instances.push(health(&stored)?);
        }
    }
    Ok(by_service
        .into_values()
        .map(HealthStatus::aggregate)
        .collect())
}
