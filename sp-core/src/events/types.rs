//! Events in one envelope, shaped as CloudEvents 1.0 (JSON format): the core attributes plus
//! the extensions `namespace`, `stream`, `offset`, `correlationid` and `schemaversion`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// An event to append.
///
/// ```
/// use serde_json::json;
/// let new: sp_core::events::NewEvent = serde_json::from_value(json!({
///     "stream": "orders", "type": "order.placed", "subject": "order/42",
///     "data": {"total": 12.5}
/// })).unwrap();
/// assert_eq!(new.source, "app");
/// assert_eq!(new.schemaversion, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// The tenant.
    #[serde(default)]
    pub namespace: Namespace,
    /// The ordered log it joins: 1-128 characters of `a-z A-Z 0-9 . _ - : /`.
    pub stream: String,
    /// What happened, e.g. `document.ingested` (1-256 characters, no spaces).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Who says so (CloudEvents `source`, default `app`).
    #[serde(default = "default_source")]
    pub source: String,
    /// What it is about, e.g. `documents/0191…`.
    #[serde(default)]
    pub subject: Option<String>,
    /// Ties together the events of one request or workflow run.
    #[serde(default)]
    pub correlationid: Option<String>,
    /// The version of `data`'s shape (default 1).
    #[serde(default = "default_schema_version")]
    pub schemaversion: u32,
    /// The payload (JSON; at most `events.max_data_bytes` serialized).
    #[serde(default)]
    pub data: Value,
}

fn default_source() -> String {
    "app".into()
}

fn default_schema_version() -> u32 {
    1
}

impl NewEvent {
    /// An event of `event_type` on `stream` in the default namespace.
    pub fn new(stream: impl Into<String>, event_type: impl Into<String>, data: Value) -> Self {
        NewEvent {
            namespace: Namespace::default(),
            stream: stream.into(),
            event_type: event_type.into(),
            source: default_source(),
            subject: None,
            correlationid: None,
            schemaversion: default_schema_version(),
            data,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique id (UUIDv7).
    pub id: Id,
    /// Who said so.
    pub source: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: String,
    /// What it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// When it was appended.
    pub time: Timestamp,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// The tenant.
    pub namespace: Namespace,
    /// Its stream.
    pub stream: String,
    /// Its place in the stream: 1, 2, 3… with no gaps.
    pub offset: u64,
    /// The request or run it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlationid: Option<String>,
    /// The version of `data`'s shape.
    pub schemaversion: u32,
    /// The payload.
    pub data: Value,
}

/// Which events to read. Every given field narrows. With `stream`, events come in offset
/// order; without, in append order across streams.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(default, deny_unknown_fields)]
pub struct EventQuery {
    /// The tenant.
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub namespace: Namespace,
    /// One stream.
    pub stream: Option<String>,
    /// One event type.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// One subject.
    pub subject: Option<String>,
    /// One correlation id.
    pub correlationid: Option<String>,
    /// Appended at or after this time (RFC 3339).
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub since: Option<Timestamp>,
    /// Appended before this time (RFC 3339).
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub until: Option<Timestamp>,
    /// Only offsets from this one on (needs `stream`): a replay.
    pub from_offset: Option<u64>,
}
