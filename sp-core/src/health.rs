//! Health checks: each backend reports whether it can serve; the server aggregates them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Something whose readiness the server reports (a database, a cache, a model).
///
/// ```
/// use async_trait::async_trait;
/// use sp_core::health::{HealthCheck, run_checks};
/// use std::{sync::Arc, time::Duration};
///
/// struct AlwaysUp;
/// #[async_trait]
/// impl HealthCheck for AlwaysUp {
///     fn name(&self) -> &str { "always" }
///     async fn check(&self) -> sp_core::Result<()> { Ok(()) }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let checks: Vec<Arc<dyn HealthCheck>> = vec![Arc::new(AlwaysUp)];
/// let report = run_checks(&checks, Duration::from_secs(1)).await;
/// assert!(report.is_healthy());
/// # });
/// ```
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// The name under `checks` in the health report (`sqlite`, `postgres`, `redis`, …).
    fn name(&self) -> &str;

    /// Succeeds when the component can serve requests now.
    async fn check(&self) -> Result<()>;
}

/// Whether a check passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The component answered in time.
    Up,
    /// The component failed or timed out.
    Down,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckOutcome {
    /// Up or down.
    pub status: CheckStatus,
    /// How long the check took, in milliseconds.
    pub latency_ms: u64,
    /// Why it failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// All checks, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthReport {
    /// Outcomes by check name, sorted for stable output.
    pub checks: BTreeMap<String, CheckOutcome>,
}

impl HealthReport {
    /// True when every check is up.
    pub fn is_healthy(&self) -> bool {
        self.checks.values().all(|c| c.status == CheckStatus::Up)
    }

    /// The names of the failed checks that are not in `degradable` (checks whose failure
    /// leaves the server serving, degraded).
    ///
    /// ```
    /// use sp_core::health::{CheckOutcome, CheckStatus, HealthReport};
    /// let outcome = |status| CheckOutcome { status, latency_ms: 1, error: None };
    /// let mut report = HealthReport::default();
    /// report.checks.insert("postgres".into(), outcome(CheckStatus::Up));
    /// report.checks.insert("redis".into(), outcome(CheckStatus::Down));
    /// assert!(report.blocking(&["redis"]).is_empty(), "ready, degraded");
    /// assert_eq!(report.blocking(&[]), ["redis"]);
    /// ```
    pub fn blocking(&self, degradable: &[&str]) -> Vec<&str> {
        self.failing()
            .into_iter()
            .filter(|name| !degradable.contains(name))
            .collect()
    }

    /// The names of the failed checks.
    pub fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|(_, c)| c.status == CheckStatus::Down)
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// Runs every check concurrently, each bounded by `timeout`.
pub async fn run_checks(checks: &[Arc<dyn HealthCheck>], timeout: Duration) -> HealthReport {
    let outcomes = futures::future::join_all(checks.iter().map(|check| async move {
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, check.check()).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some(format!("no answer within {} ms", timeout.as_millis())),
        };
        let outcome = CheckOutcome {
            status: if error.is_none() {
                CheckStatus::Up
            } else {
                CheckStatus::Down
            },
            latency_ms,
            error,
        };
        (check.name().to_owned(), outcome)
    }))
    .await;
    HealthReport {
        checks: outcomes.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    struct Fixed(&'static str, Option<Duration>, bool);

    #[async_trait]
    impl HealthCheck for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        async fn check(&self) -> Result<()> {
            if let Some(delay) = self.1 {
                tokio::time::sleep(delay).await;
            }
            if self.2 {
                Ok(())
            } else {
                Err(Error::unavailable(self.0, "refused"))
            }
        }
    }

    #[tokio::test]
    async fn failures_and_timeouts_are_reported_by_name() {
        let checks: Vec<Arc<dyn HealthCheck>> = vec![
            Arc::new(Fixed("ok", None, true)),
            Arc::new(Fixed("broken", None, false)),
            Arc::new(Fixed("slow", Some(Duration::from_secs(5)), true)),
        ];
        let report = run_checks(&checks, Duration::from_millis(50)).await;
        assert!(!report.is_healthy());
        assert_eq!(report.failing(), vec!["broken", "slow"]);
        assert_eq!(report.checks["ok"].status, CheckStatus::Up);
        let slow = &report.checks["slow"];
        assert!(slow.error.as_deref().unwrap_or_default().contains("50 ms"));
        assert!(
            report.checks["broken"]
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("refused")
        );
    }
}
