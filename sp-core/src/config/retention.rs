//! How long the logs that grow with use are kept (`[retention]`): the event log and the usage
//! sums (the audit log's is `auth.audit_retention_days`, where it was first). docs/scaling.md
//! "Large tables" says how each backend removes what is past it.

use serde::{Deserialize, Serialize};

/// Days each growing log keeps; 0 keeps everything (the default: nothing is removed unless
/// asked for). Applied hourly by the server.
///
/// ```
/// let mut config = sp_core::Config::default();
/// assert_eq!(config.retention.events_days, 0, "kept unless asked");
/// config.retention.events_days = 30;
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days events are kept (`SP_RETENTION__EVENTS_DAYS`). Dead letters go with their event;
    /// stream heads and consumer groups stay.
    pub events_days: u32,
    /// Days of usage sums kept (`SP_RETENTION__USAGE_DAYS`); `GET /v1/usage` answers nothing
    /// for the days before.
    pub usage_days: u32,
}
