//! Trace export settings (`[otel]`): used by builds with the server's `otel` feature; a build
//! without it refuses a configured endpoint rather than dropping the traces unseen.

use serde::{Deserialize, Serialize};

/// Where trace spans go over OTLP/HTTP.
///
/// ```
/// let mut config = sp_core::Config::default();
/// assert!(config.otel.traces_url().is_none(), "off unless configured");
/// config.otel.endpoint = Some("http://collector:4318/".into());
/// assert_eq!(config.otel.traces_url().as_deref(), Some("http://collector:4318/v1/traces"));
/// config.validate().unwrap();
/// config.otel.endpoint = Some("collector:4318".into());
/// assert!(config.validate().is_err(), "a URL with its scheme");
/// /// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtelConfig {
    /// The collector's OTLP/HTTP base URL (`SP_OTEL__ENDPOINT`), e.g. `http://127.0.0.1:4318`;
    /// spans are posted to `<endpoint>/v1/traces` as protobuf. Unset: no export.
    pub endpoint: Option<String>,
    /// `service.name` of the exported resource.
    pub service_name: String,
}

impl Default for OtelConfig {
    fn default() -> Self {
        OtelConfig {
            endpoint: None,
            service_name: "sp".into(),
        }
    }
}

impl OtelConfig {
    /// The URL spans are posted to, when export is on.
    pub fn traces_url(&self) -> Option<String> {
        self.endpoint
            .as_deref()
            .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    }
}
