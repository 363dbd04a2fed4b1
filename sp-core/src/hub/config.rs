//! The hub's knobs (`[hub]` in the configuration).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::breaker::BreakerConfig;

/// Timeouts, retries, breakers and health checks of the service hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// Timeout of one tool call attempt, unless the tool sets its own (ms).
    pub call_timeout_ms: u64,
    /// Most attempts of an idempotent tool's call (1 disables retries).
    pub max_attempts: u32,
    /// First retry waits up to this (ms); each further retry doubles it, with full jitter.
    pub backoff_base_ms: u64,
    /// The longest wait between attempts (ms).
    pub backoff_max_ms: u64,
    /// Consecutive failures that open a service's circuit breaker.
    pub breaker_failures: u32,
    /// Seconds an open breaker refuses calls before a probe.
    pub breaker_open_secs: u64,
    /// Seconds between two health checks of an instance (0 disables checking).
    pub health_interval_secs: u64,
    /// Timeout of one health check (ms).
    pub health_timeout_ms: u64,
    /// Consecutive failed checks that make an instance unhealthy.
    pub unhealthy_after: u32,
    /// Consecutive passed checks that make an unhealthy instance healthy again.
    pub healthy_after: u32,
    /// A passing check slower than this marks the instance degraded (ms).
    pub degraded_latency_ms: u64,
    /// How long a tool's resolution (service version, instances, health) is reused by calls
    /// (ms; 0: resolve every call). Changes made through this hub apply at once; those made
    /// by other processes within this.
    pub resolve_cache_ms: u64,
    /// The largest tool answer read from an HTTP service (bytes); a larger one fails the
    /// call with `SP-HUB-006` once that much has arrived. Health checks read at most 64 KiB.
    pub max_response_bytes: usize,
    /// Networks the hub may reach besides public addresses (CIDR or single addresses, e.g.
    /// `["10.0.0.0/8", "127.0.0.1"]`): loopback, private, link-local and other non-public
    /// destinations are refused unless listed (review finding H2).
    pub allowed_networks: Vec<String>,
    /// The longest per-tool timeout a registration may set (ms): longer ones are refused at
    /// registration, and a tool stored with a longer one is called with this (review finding
    /// H6: a registrant could hold a call, and a worker, for ten minutes).
    pub max_tool_timeout_ms: u64,
    /// Live instances one service version may have: a heartbeat adding one more is refused
    /// (`SP-VAL-001`; renewing a listed instance always passes). Every instance is probed
    /// each health round, so this bounds what one registrant makes the server probe (review
    /// finding M8).
    pub max_instances_per_service: usize,
    /// Live instances all of one tenant's services may have together (review finding M8:
    /// the per-service cap alone let one registrant multiply services).
    pub max_instances_per_tenant: usize,
    /// Instances probed per health round at most; past it, each round probes the next ones
    /// in turn (by id), so a round's work is bounded however many instances are registered.
    pub max_probes_per_round: usize,
}

impl HubConfig {
    /// The egress policy `allowed_networks` describes.
    pub fn egress(&self) -> crate::Result<super::EgressPolicy> {
        super::EgressPolicy::new(&self.allowed_networks)
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            call_timeout_ms: 10_000,
            max_attempts: 3,
            backoff_base_ms: 50,
            backoff_max_ms: 1_000,
            breaker_failures: 5,
            breaker_open_secs: 30,
            health_interval_secs: 10,
            health_timeout_ms: 2_000,
            unhealthy_after: 3,
            healthy_after: 2,
            degraded_latency_ms: 1_000,
            resolve_cache_ms: 1_000,
            max_response_bytes: 8 * 1024 * 1024,
            allowed_networks: Vec::new(),
            max_tool_timeout_ms: 60_000,
            max_instances_per_service: 64,
            max_instances_per_tenant: 1024,
            max_probes_per_round: 1024,
        }
    }
}

impl HubConfig {
    /// The breaker settings.
    pub fn breaker(&self) -> BreakerConfig {
        BreakerConfig {
            failure_threshold: self.breaker_failures.max(1),
            open_for: Duration::from_secs(self.breaker_open_secs),
        }
    }
}
