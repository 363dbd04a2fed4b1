//! Canary versions: which of two versions of a service takes a call (by the call's affinity
//! bucket), and the per-version outcome counts `/metrics` shows beside each other.

use super::Hub;
use super::invoke::version_of;
use super::types::Service;

/// What a call resolves to: the highest version in range and, when that one is a canary, the
/// stable version it shares the calls with.
#[derive(Debug, Clone)]
pub(super) struct Resolution {
    top: Service,
    stable: Option<Service>,
}

impl Resolution {
    /// The service's name (both versions share it).
    pub(super) fn name(&self) -> &str {
        &self.top.name
    }

    /// The resolution among `found`, one service's versions; `None` when there are none.
    pub(super) fn of(found: Vec<Service>) -> Option<Self> {
        let top = found
            .iter()
            .max_by(|a, b| version_of(a).cmp(&version_of(b)))?
            .clone();
        let stable = top.canary_percent.and_then(|_| {
            found
                .into_iter()
                .filter(|s| s.canary_percent.is_none())
                .max_by(|a, b| version_of(a).cmp(&version_of(b)))
        });
        Some(Resolution { top, stable })
    }

    /// The version that takes this call: the canary for its share of the buckets (0-99), the
    /// stable version for the rest.
    pub(super) fn pick(self, bucket: u64) -> Service {
        match (self.top.canary_percent, self.stable) {
            (Some(share), Some(stable)) if bucket >= u64::from(share) => stable,
            _ => self.top,
        }
    }
}

/// The canary bucket (0-99) of `affinity` for `service`: the same for the same pair on every
/// replica of one build, so a caller stays on one side of a canary wherever it calls from.
pub(super) fn affinity_bucket(affinity: &str, service: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (affinity, service).hash(&mut hasher);
    hasher.finish() % 100
}

impl Hub {
    /// Counts a finished call of `service` by version and outcome (`/metrics`).
    pub(super) fn count_call(&self, service: &Service, ok: bool) {
        if let Ok(mut calls) = self.calls.lock() {
            let key = (service.name.clone(), service.version.clone());
            let counts = calls.entry(key).or_insert((0, 0));
            if ok {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
    }

    /// Calls finished since start per service version: `(service, version, ok, failed)`, by
    /// name and version. What `sp_hub_calls_total` exports; with a canary running, the two
    /// versions' error rates side by side.
    pub fn call_counts(&self) -> Vec<(String, String, u64, u64)> {
        let Ok(calls) = self.calls.lock() else {
            return Vec::new();
        };
        let mut counts: Vec<_> = calls
            .iter()
            .map(|((name, version), (ok, failed))| (name.clone(), version.clone(), *ok, *failed))
            .collect();
        counts.sort();
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(version: &str, canary_percent: Option<u8>) -> Service {
        let mut service: Service = serde_json::from_value(serde_json::json!({
            "id": crate::Id::new(), "namespace": "default", "name": "calc", "version": version,
            "description": "", "protocol": "http", "base_url": null, "health_path": "/health",
            "tags": [], "capabilities": [], "metadata": {}, "tools": [], "instances": [],
            "health": "unknown", "created_at": crate::Timestamp::now(),
            "updated_at": crate::Timestamp::now()
        }))
        .expect("a service");
        service.canary_percent = canary_percent;
        service
    }

    fn shares(found: Vec<Service>) -> std::collections::BTreeMap<String, usize> {
        let resolution = Resolution::of(found).expect("a resolution");
        let mut shares = std::collections::BTreeMap::new();
        for bucket in 0..100 {
            *shares
                .entry(resolution.clone().pick(bucket).version)
                .or_default() += 1;
        }
        shares
    }

    #[test]
    fn a_canary_takes_exactly_its_share_of_the_buckets_from_the_stable_version() {
        let found = vec![
            version("1.0.0", None),
            version("1.1.0", None),
            version("2.0.0", Some(25)),
        ];
        let split = shares(found);
        assert_eq!(split.get("2.0.0"), Some(&25));
        assert_eq!(
            split.get("1.1.0"),
            Some(&75),
            "the highest stable version: {split:?}"
        );
        assert_eq!(split.get("1.0.0"), None);
    }

    #[test]
    fn without_a_stable_version_or_a_share_the_highest_version_takes_every_call() {
        assert_eq!(
            shares(vec![version("2.0.0", Some(10))]).get("2.0.0"),
            Some(&100)
        );
        assert_eq!(
            shares(vec![version("1.0.0", None), version("2.0.0", None)]).get("2.0.0"),
            Some(&100)
        );
        // A canary that is not the highest version in range is a regular version.
        let split = shares(vec![version("1.5.0", Some(50)), version("2.0.0", None)]);
        assert_eq!(split.get("2.0.0"), Some(&100));
        assert!(Resolution::of(Vec::new()).is_none());
    }

    #[test]
    fn one_affinity_is_one_bucket_and_affinities_spread() {
        assert_eq!(
            affinity_bucket("key-1", "calc"),
            affinity_bucket("key-1", "calc")
        );
        let buckets: std::collections::BTreeSet<u64> = (0..200)
            .map(|n| affinity_bucket(&format!("key-{n}"), "calc"))
            .collect();
        assert!(buckets.len() > 80, "{}", buckets.len());
        assert!(buckets.iter().all(|b| *b < 100));
    }
}
