//! Services, their tools and instances, and discovery queries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// A tool a service offers, in the OpenAI / MCP shape plus how to reach it: the hub `POST`s
/// the arguments as JSON to `path` on an instance and takes the JSON answer as the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// 1-64 characters of `a-z A-Z 0-9 _ -` (OpenAI's rule for function names).
    pub name: String,
    /// What it does, for people and models.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments (an object schema); checked before every call.
    pub input_schema: Value,
    /// JSON Schema of the result, when the service publishes one.
    #[serde(default)]
    pub output_schema: Option<Value>,
    /// Where the tool is on the service: for an `http` service the path under the instance
    /// URL (default `/tools/{name}`); for an `mcp` service the tool's name on the MCP server
    /// (default `name`), so an MCP tool whose name breaks the rule above can be renamed here.
    #[serde(default)]
    pub path: Option<String>,
    /// Whether calling twice has the effect of calling once: only such tools are retried
    /// after a failure (default `false`).
    #[serde(default)]
    pub idempotent: bool,
    /// Per-call timeout in milliseconds (default: the hub's).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl ToolSpec {
    /// The path the tool is called at (an `http` service's tool).
    pub fn call_path(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| format!("/tools/{}", self.name))
    }

    /// The tool's name on its MCP server (an `mcp` service's tool).
    pub fn remote_name(&self) -> &str {
        self.path.as_deref().unwrap_or(&self.name)
    }
}

/// How the hub talks to a service's instances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Plain HTTP: a tool call is a JSON `POST` to the tool's path, health a `GET` of the
    /// health path.
    #[default]
    Http,
    /// The Model Context Protocol over Streamable HTTP: an instance URL is the MCP endpoint,
    /// a tool call is `tools/call`, health a `ping`.
    Mcp,
}

impl Protocol {
    /// The protocol's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Mcp => "mcp",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Protocol::Http, Protocol::Mcp]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// A service version to register.
///
/// ```
/// use serde_json::json;
/// let new: sp_core::hub::NewService = serde_json::from_value(json!({
///     "name": "weather", "version": "1.2.0", "base_url": "http://127.0.0.1:9000",
///     "tags": ["geo"], "tools": [{"name": "forecast",
///         "input_schema": {"type": "object", "required": ["city"]}}]
/// })).unwrap();
/// assert_eq!(new.tools[0].call_path(), "/tools/forecast");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewService {
    /// The owner (tenant).
    #[serde(default)]
    pub namespace: Namespace,
    /// 1-64 characters of `a-z 0-9 _ -`.
    pub name: String,
    /// Semantic version, e.g. `1.2.0`; versions live side by side.
    pub version: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// How its instances are called (default `http`).
    #[serde(default)]
    pub protocol: Protocol,
    /// A permanent instance's URL (`http://` or `https://`); more instances can join with
    /// heartbeats.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Health endpoint path on every instance (default `/health`).
    #[serde(default)]
    pub health_path: Option<String>,
    /// Free labels to find it by.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What it can do, to find it by.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// A JSON object.
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Its tools.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Makes this version a canary: the share of calls (0-100) it takes from the stable
    /// version — the highest version in range without a share — while it is the highest
    /// version in range. Calls with the same affinity (a caller, a context) stay on one side.
    /// Unset: a regular version.
    #[serde(default)]
    pub canary_percent: Option<u8>,
}

/// Health of an instance, or of a service (from its instances).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Not checked yet.
    #[default]
    Unknown,
    /// Checks pass.
    Healthy,
    /// Failing or slow, not yet past the unhealthy threshold.
    Degraded,
    /// Failed the threshold of consecutive checks; calls avoid it.
    Unhealthy,
}

impl HealthStatus {
    /// The status's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Unknown => "unknown",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            HealthStatus::Unknown,
            HealthStatus::Healthy,
            HealthStatus::Degraded,
            HealthStatus::Unhealthy,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// A service's health from its live instances: healthy when all are, unhealthy when none
    /// can take calls, degraded in between, unknown before any check.
    pub fn aggregate(instances: impl IntoIterator<Item = HealthStatus>) -> Self {
        let all: Vec<HealthStatus> = instances.into_iter().collect();
        if all.is_empty() || all.iter().all(|s| *s == HealthStatus::Unhealthy) {
            HealthStatus::Unhealthy
        } else if all.iter().all(|s| *s == HealthStatus::Healthy) {
            HealthStatus::Healthy
        } else if all.iter().all(|s| *s == HealthStatus::Unknown) {
            HealthStatus::Unknown
        } else {
            HealthStatus::Degraded
        }
    }
}

/// An instance joining (or renewing) with a heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewInstance {
    /// Its URL (`http://` or `https://`); the same URL renews the same instance.
    pub url: String,
    /// Seconds it stays listed without another heartbeat (1-86400, default 30).
    #[serde(default = "default_ttl")]
    pub ttl_secs: u32,
}

fn default_ttl() -> u32 {
    30
}

/// A place a service version runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Instance {
    /// Identifier.
    pub id: Id,
    /// Base URL of its tools and health endpoint.
    pub url: String,
    /// Heartbeat TTL; `None` for the permanent instance at the service's `base_url`.
    pub ttl_secs: Option<u32>,
    /// When it drops out without a heartbeat; `None` when permanent.
    pub expires_at: Option<Timestamp>,
    /// Its latest health.
    pub health: HealthStatus,
    /// First registration.
    pub registered_at: Timestamp,
}

/// A registered service version with its live instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Service {
    /// Identifier of this version.
    pub id: Id,
    /// Owner.
    pub namespace: Namespace,
    /// Name.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// What it is.
    pub description: String,
    /// How its instances are called.
    pub protocol: Protocol,
    /// The permanent instance's URL.
    pub base_url: Option<String>,
    /// Health endpoint path.
    pub health_path: String,
    /// Labels.
    pub tags: Vec<String>,
    /// Capabilities.
    pub capabilities: Vec<String>,
    /// A JSON object.
    pub metadata: Value,
    /// Tools.
    pub tools: Vec<ToolSpec>,
    /// Its canary share of calls (0-100), when it is a canary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_percent: Option<u8>,
    /// Live instances (expired ones are never listed).
    pub instances: Vec<Instance>,
    /// From the instances: see [`HealthStatus::aggregate`].
    pub health: HealthStatus,
    /// First registration.
    pub created_at: Timestamp,
    /// Last change of the definition.
    pub updated_at: Timestamp,
}

impl Service {
    /// `name@version`, as errors and logs name it.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The tool called `name`.
    pub fn tool(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// Which services to find. Every field narrows; none lists the namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(default, deny_unknown_fields)]
pub struct Discovery {
    /// The owner.
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub namespace: Namespace,
    /// Exact service name.
    pub name: Option<String>,
    /// Carries this tag.
    pub tag: Option<String>,
    /// Has this capability.
    pub capability: Option<String>,
    /// Offers this tool.
    pub tool: Option<String>,
    /// Semver requirement on the version, e.g. `^1.2` or `>=1.0, <2`.
    pub version: Option<String>,
    /// Only services whose aggregated health is this.
    pub health: Option<HealthStatus>,
}

/// How many registered service versions (all namespaces) are in each health state: what the
/// server's `/health` report shows of the hub.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HubHealth {
    /// Registered service versions.
    pub services: u64,
    /// All their instances pass.
    pub healthy: u64,
    /// Some instances fail or are slow.
    pub degraded: u64,
    /// No instance can take calls (none live, or all failing).
    pub unhealthy: u64,
    /// Not checked yet.
    pub unknown: u64,
}

impl HubHealth {
    /// Counts `statuses`.
    ///
    /// ```
    /// use sp_core::hub::{HealthStatus, HubHealth};
    /// let summary = HubHealth::count([HealthStatus::Healthy, HealthStatus::Unhealthy]);
    /// assert_eq!((summary.services, summary.healthy, summary.unhealthy), (2, 1, 1));
    /// ```
    pub fn count(statuses: impl IntoIterator<Item = HealthStatus>) -> Self {
        statuses
            .into_iter()
            .fold(HubHealth::default(), |mut sum, status| {
                sum.services += 1;
                *match status {
                    HealthStatus::Healthy => &mut sum.healthy,
                    HealthStatus::Degraded => &mut sum.degraded,
                    HealthStatus::Unhealthy => &mut sum.unhealthy,
                    HealthStatus::Unknown => &mut sum.unknown,
                } += 1;
                sum
            })
    }
}
