//! Replica settings (`[cluster]`): several `sp serve` processes on one database that route model
//! requests to the replica holding the model (docs/scaling.md).

use serde::{Deserialize, Serialize};

/// What a replica does with a request for a model it does not hold but another replica does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingModel {
    /// Forward it there and relay the answer (streams included).
    #[default]
    Forward,
    /// Answer 503 `SP-GEN-002` naming the replicas that hold it (for a balancer that routes
    /// by model itself).
    Refuse,
}

/// Replica discovery and model-aware routing. Off unless `advertise_url` is set.
///
/// ```
/// let mut config = sp_core::Config::default();
/// assert!(!config.cluster.enabled());
/// config.cluster.advertise_url = Some("http://10.0.0.2:8080".into());
/// assert!(config.cluster.enabled());
/// config.validate().unwrap();
/// config.cluster.advertise_url = Some("10.0.0.2:8080".into());
/// assert!(config.validate().is_err(), "a URL with its scheme");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This replica's URL as the other replicas reach it (`SP_CLUSTER__ADVERTISE_URL`, e.g.
    /// `http://$(POD_IP):8080`). Set: heartbeats into the shared database and model routing.
    pub advertise_url: Option<String>,
    /// Milliseconds between heartbeats; a replica silent for three of them drops out.
    pub heartbeat_ms: u64,
    /// `forward` (default) or `refuse` a request for a model held only elsewhere.
    pub missing_model: MissingModel,
    /// How much deeper (in queued requests) a context's preferred replica may be than the
    /// least busy holder before the context goes to the least busy one instead.
    pub spill_over: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            advertise_url: None,
            heartbeat_ms: 2_000,
            missing_model: MissingModel::Forward,
            spill_over: 4,
        }
    }
}

impl ClusterConfig {
    /// Whether this replica takes part (heartbeats and routing).
    pub fn enabled(&self) -> bool {
        self.advertise_url.is_some()
    }
}
