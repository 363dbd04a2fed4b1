//! Registry rows as both backends select them (PostgreSQL casts UUIDs and JSONB to text and
//! times to microseconds), and their assembly into services.

use std::collections::HashMap;

use sp_core::hub::{
    CheckTarget, Discovery, HealthStatus, Instance, NewService, Protocol, Service, ToolSpec,
};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Result, Timestamp};

use crate::error::stored_time as time;

#[derive(sqlx::FromRow)]
pub(crate) struct ServiceRow {
    pub id: String,
    namespace: String,
    name: String,
    version: String,
    description: String,
    base_url: Option<String>,
    health_path: String,
    tags: String,
    capabilities: String,
    metadata: String,
    tools: String,
    protocol: String,
    created_at: i64,
    updated_at: i64,
    /// The live instances, a JSON array of [`InstanceRow`]s built by the same statement (one
    /// statement: one snapshot, one round trip).
    instances: String,
}

#[derive(sqlx::FromRow, serde::Deserialize)]
pub(crate) struct InstanceRow {
    id: String,
    url: String,
    ttl_secs: Option<i64>,
    expires_at: Option<i64>,
    health: String,
    registered_at: i64,
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

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|err| Error::internal(format!("corrupt registry row: {err}")))
}

fn protocol(text: &str) -> Result<Protocol> {
    Protocol::parse(text).ok_or_else(|| Error::internal(format!("bad protocol `{text}`")))
}

fn id(text: &str) -> Result<Id> {
    text.parse()
        .map_err(|_| Error::internal(format!("corrupt registry id `{text}`")))
}

impl TryFrom<InstanceRow> for Instance {
    type Error = Error;

    fn try_from(row: InstanceRow) -> Result<Self> {
        Ok(Instance {
            id: id(&row.id)?,
            url: row.url,
            ttl_secs: row.ttl_secs.map(|t| t as u32),
            expires_at: row.expires_at.map(time).transpose()?,
            health: HealthStatus::parse(&row.health)
                .ok_or_else(|| Error::internal(format!("bad health `{}`", row.health)))?,
            registered_at: time(row.registered_at)?,
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

/// Services from their rows.
pub(crate) fn assemble(rows: Vec<ServiceRow>) -> Result<Vec<Service>> {
    rows.into_iter()
        .map(|row| {
            let instances = json::<Vec<InstanceRow>>(&row.instances)?
                .into_iter()
                .map(Instance::try_from)
                .collect::<Result<Vec<Instance>>>()?;
            let health = HealthStatus::aggregate(instances.iter().map(|i| i.health));
            Ok(Service {
                id: id(&row.id)?,
                namespace: Namespace::new(row.namespace)?,
                name: row.name,
                version: row.version,
                description: row.description,
                protocol: protocol(&row.protocol)?,
                base_url: row.base_url,
                health_path: row.health_path,
                tags: json(&row.tags)?,
                capabilities: json(&row.capabilities)?,
                metadata: json(&row.metadata)?,
                tools: json::<Vec<ToolSpec>>(&row.tools)?,
                instances,
                health,
                created_at: time(row.created_at)?,
                updated_at: time(row.updated_at)?,
            })
        })
        .collect()
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

/// The JSON texts a registration stores: tags, capabilities, metadata, tools.
pub(crate) fn json_columns(new: &NewService) -> Result<[String; 4]> {
    let text = |v: serde_json::Value| v.to_string();
    Ok([
        text(serde_json::json!(new.tags)),
        text(serde_json::json!(new.capabilities)),
        text(
            new.metadata
                .clone()
                .unwrap_or_else(|| serde_json::json!({})),
        ),
        serde_json::to_string(&new.tools).map_err(Error::internal)?,
    ])
}

/// The WHERE clause of a discovery over `hub_services s` and its text binds, in order;
/// `placeholder(n)` writes the n-th bind (from 1). `label_driven_namespace` is how the
/// namespace column is written when a label narrows the query: SQLite takes `+s.namespace`,
/// which keeps its planner from scanning the namespace index instead of using the labels'.
/// `shared_label` writes "`s.id` is among the ids this subquery `{}` returns" for tags and
/// capabilities, which many services share: PostgreSQL takes `s.id = ANY(ARRAY({}))`, which
/// it runs once and looks up by primary key, where `IN` becomes a hash join over every
/// service. Tool names, nearly unique, always take `IN`, which a nested loop serves best.
pub(crate) fn filters(
    query: &Discovery,
    placeholder: impl Fn(usize) -> String,
    label_driven_namespace: &str,
    shared_label: &str,
) -> (String, Vec<String>) {
    let labelled = query.tag.is_some() || query.capability.is_some() || query.tool.is_some();
    let column = if labelled && query.name.is_none() {
        label_driven_namespace
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
                shared_label
            };
            sql.push_str(" AND ");
            sql.push_str(&membership.replace("{}", &labelled));
        }
    }
    (sql, binds)
}

pub(crate) fn service_not_found(name: &str, version: &str) -> Error {
    Error::NotFound {
        kind: "service",
        id: format!("{name}@{version}"),
    }
}

pub(crate) const DEFAULT_HEALTH_PATH: &str = "/health";

/// When an instance with `ttl_secs` renewed now expires.
pub(crate) fn expiry(now: Timestamp, ttl_secs: u32) -> i64 {
    now.unix_micros() + i64::from(ttl_secs) * 1_000_000
}

/// Each service's health from `(service id, health of a live instance or NULL)` rows.
pub(crate) fn service_health(rows: Vec<(String, Option<String>)>) -> Result<Vec<HealthStatus>> {
    let mut by_service: HashMap<String, Vec<HealthStatus>> = HashMap::new();
    for (service, health) in rows {
        let instances = by_service.entry(service).or_default();
        if let Some(health) = health {
            instances.push(
                HealthStatus::parse(&health)
                    .ok_or_else(|| Error::internal(format!("bad health `{health}`")))?,
            );
        }
    }
    Ok(by_service
        .into_values()
        .map(HealthStatus::aggregate)
        .collect())
}
