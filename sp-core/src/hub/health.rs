//! Active health checks of instances: each check's outcome moves an instance between
//! healthy, degraded and unhealthy by thresholds; changes are written to the registry, so every
//! listing and every call sees them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt as _;

use super::Hub;
use super::config::HubConfig;
use super::store::CheckTarget;
use super::types::{HealthStatus, Protocol};
use crate::Id;

/// One check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A 2xx answer in time.
    Pass,
    /// A 2xx answer that was slow or said `{"status": "degraded"}`.
    Slow,
    /// No answer, a timeout or a non-2xx status.
    Fail,
}

/// An instance's consecutive outcomes and the status they amount to.
///
/// ```
/// use sp_core::hub::{HealthStatus, HealthTracker, HubConfig, Probe};
/// let config = HubConfig { unhealthy_after: 2, healthy_after: 2, ..HubConfig::default() };
/// let mut t = HealthTracker::default();
/// assert_eq!(t.observe(&config, Probe::Pass), HealthStatus::Healthy);
/// assert_eq!(t.observe(&config, Probe::Fail), HealthStatus::Degraded);
/// assert_eq!(t.observe(&config, Probe::Fail), HealthStatus::Unhealthy);
/// assert_eq!(t.observe(&config, Probe::Pass), HealthStatus::Unhealthy); // one pass is not enough
/// assert_eq!(t.observe(&config, Probe::Pass), HealthStatus::Healthy);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthTracker {
    status: HealthStatus,
    failures: u32,
    passes: u32,
}

impl HealthTracker {
    /// A tracker that starts from a stored status.
    pub fn from_status(status: HealthStatus) -> Self {
        HealthTracker {
            status,
            ..HealthTracker::default()
        }
    }

    /// Takes one outcome; returns the new status.
    pub fn observe(&mut self, config: &HubConfig, probe: Probe) -> HealthStatus {
        match probe {
            Probe::Fail => {
                self.passes = 0;
                self.failures += 1;
                let unhealthy = self.failures >= config.unhealthy_after.max(1)
                    || self.status == HealthStatus::Unhealthy;
                self.status = if unhealthy {
                    HealthStatus::Unhealthy
                } else {
                    HealthStatus::Degraded
                };
            }
            Probe::Pass | Probe::Slow => {
                self.failures = 0;
                self.passes += 1;
                let recovered = self.status != HealthStatus::Unhealthy
                    || self.passes >= config.healthy_after.max(1);
                if recovered {
                    self.status = if probe == Probe::Slow {
                        HealthStatus::Degraded
                    } else {
                        HealthStatus::Healthy
                    };
                }
            }
        }
        self.status
    }
}

impl Hub {
    /// Checks every live instance once (8 at a time; at most `hub.max_probes_per_round`, the
    /// others in the rounds after), records status changes and drops expired instances. `trackers` carries the consecutive counts between rounds.
    pub async fn check_health_once(&self, trackers: &mut HashMap<Id, HealthTracker>) {
        if let Err(err) = self.store.purge_expired().await {
            tracing::warn!(%err, "cannot purge expired instances");
        }
        let mut targets = match self.store.live_instances().await {
            Ok(targets) => targets,
            Err(err) => {
                tracing::warn!(%err, "cannot list instances to check");
                return;
            }
        };
        // A set, not a scan per tracker: many instances made this quadratic (review M8).
        let live: std::collections::HashSet<Id> = targets.iter().map(|t| t.instance.id).collect();
        trackers.retain(|id, _| live.contains(id));
        let budget = self.config.max_probes_per_round.max(1);
        if targets.len() > budget {
            // More than a round probes: this round takes the next `budget` by id, the next
            // round those after them, so every instance is probed in turn (review M8).
            targets.sort_by_key(|t| t.instance.id);
            let start = self.next_probe.fetch_add(budget, Ordering::Relaxed) % targets.len();
            targets.rotate_left(start);
            targets.truncate(budget);
        }
        let probes: Vec<(CheckTarget, Probe)> = futures::stream::iter(targets)
            .map(|target| async move {
                let probe = self.probe(&target).await;
                (target, probe)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        for (target, probe) in probes {
            let tracker = trackers
                .entry(target.instance.id)
                .or_insert_with(|| HealthTracker::from_status(target.instance.health));
            let status = tracker.observe(&self.config, probe);
            if status != target.instance.health {
                tracing::info!(service = %target.service, instance = %target.instance.url,
                    from = target.instance.health.as_str(), to = status.as_str(), "instance health changed");
                if let Err(err) = self.store.set_health(target.instance.id, status).await {
                    tracing::warn!(%err, "cannot record instance health");
                }
                self.forget_resolutions();
            }
        }
    }

    async fn probe(&self, target: &CheckTarget) -> Probe {
        let url = match target.protocol {
            Protocol::Http => format!(
                "{}{}",
                target.instance.url.trim_end_matches('/'),
                target.health_path
            ),
            Protocol::Mcp => target.instance.url.clone(),
        };
        let timeout = Duration::from_millis(self.config.health_timeout_ms);
        let started = Instant::now();
        match tokio::time::timeout(timeout, self.transport.probe(target.protocol, &url)).await {
            Ok(Ok(answer)) if (200..300).contains(&answer.status) => {
                let says_degraded =
                    answer.body.get("status").and_then(|s| s.as_str()) == Some("degraded");
                let slow =
                    started.elapsed() > Duration::from_millis(self.config.degraded_latency_ms);
                if says_degraded || slow {
                    Probe::Slow
                } else {
                    Probe::Pass
                }
            }
            _ => Probe::Fail,
        }
    }

    /// Checks instances every `hub.health_interval_secs` until the returned handle is aborted
    /// (or forever); does nothing when the interval is 0.
    pub fn spawn_health_checks(self: std::sync::Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let every = self.config.health_interval_secs;
            if every == 0 {
                return;
            }
            let mut trackers = HashMap::new();
            let mut ticker = tokio::time::interval(Duration::from_secs(every));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                self.check_health_once(&mut trackers).await;
            }
        })
    }
}
