//! Replicas of one deployment telling each other what they serve: each `sp serve` with a
//! `cluster.advertise_url` writes a heartbeat (its models and its queue) into the shared
//! database, and a request for a model it does not hold goes to a replica that does.
//!
//! No consensus: the database is the shared truth, a replica that stops heartbeating drops out
//! after its `ttl`, and the choice below is a pure function of what the heartbeats say.

use std::hash::{Hash, Hasher};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Result, Timestamp};

/// What a replica last said about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Replica {
    /// Its id, new at every start.
    pub id: String,
    /// Where other replicas reach it (`cluster.advertise_url`).
    pub url: String,
    /// Every model name and alias it serves (its catalogue and defaults).
    pub models: Vec<String>,
    /// The models it has loaded now: a request for one of these starts without a load.
    pub resident: Vec<String>,
    /// Requests generating or waiting on its models.
    pub queue_depth: u32,
    /// Its heartbeat's time.
    pub seen_at: Timestamp,
    /// When it drops out without another heartbeat.
    pub expires_at: Timestamp,
}

impl Replica {
    /// Whether it serves `model` (a name or an alias).
    pub fn serves(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == model)
    }
}

/// Where replicas' heartbeats are kept: the deployment's shared database.
#[async_trait]
pub trait ReplicaStore: Send + Sync {
    /// Records (or renews) `replica`'s heartbeat, and forgets heartbeats that expired long
    /// before it (replicas that stopped without leaving).
    async fn heartbeat(&self, replica: &Replica) -> Result<()>;

    /// The replicas whose heartbeat has not expired at `now`, by id.
    async fn live(&self, now: Timestamp) -> Result<Vec<Replica>>;

    /// Removes `id` at once (a replica shutting down), and every expired heartbeat.
    async fn leave(&self, id: &str) -> Result<()>;
}

/// The replica other than `own_id` that should serve `model`, among `replicas`.
///
/// With an `affinity` key (a context id), rendezvous hashing picks the same replica for the
/// same key while the set of holders stays the same — its KV prefix is warm there — unless
/// that replica's queue is `spill_over` deeper than the shortest, when load wins. Without
/// one: a replica that has the model loaded, then the shortest queue.
///
/// ```
/// use sp_core::replicas::{Replica, choose};
/// use sp_core::Timestamp;
///
/// let replica = |id: &str, models: &[&str], queue_depth| Replica {
///     id: id.into(),
///     url: format!("http://{id}:8080"),
///     models: models.iter().map(|m| m.to_string()).collect(),
///     resident: vec![],
///     queue_depth,
///     seen_at: Timestamp::now(),
///     expires_at: Timestamp::now(),
/// };
/// let replicas = [replica("a", &["small"], 0), replica("b", &["big"], 3), replica("c", &["big"], 1)];
/// assert_eq!(choose(&replicas, "big", "a", None, 4).map(|r| r.id.as_str()), Some("c"));
/// assert!(choose(&replicas, "small", "a", None, 4).is_none(), "only itself holds it");
/// ```
pub fn choose<'a>(
    replicas: &'a [Replica],
    model: &str,
    own_id: &str,
    affinity: Option<&str>,
    spill_over: u32,
) -> Option<&'a Replica> {
    let holders: Vec<&Replica> = replicas
        .iter()
        .filter(|r| r.id != own_id && r.serves(model))
        .collect();
    let shortest = holders.iter().map(|r| r.queue_depth).min()?;
    if let Some(key) = affinity {
        let preferred = holders
            .iter()
            .max_by_key(|r| rendezvous(key, &r.id))
            .copied()?;
        if preferred.queue_depth <= shortest.saturating_add(spill_over) {
            return Some(preferred);
        }
    }
    holders.into_iter().min_by_key(|r| {
        let loaded = r.resident.iter().any(|m| m == model);
        (!loaded, r.queue_depth, r.id.clone())
    })
}

/// The rendezvous weight of `key` on `replica`: the highest wins.
fn rendezvous(key: &str, replica: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (key, replica).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(id: &str, queue_depth: u32, resident: bool) -> Replica {
        Replica {
            id: id.into(),
            url: format!("http://{id}"),
            models: vec!["m".into()],
            resident: if resident { vec!["m".into()] } else { vec![] },
            queue_depth,
            seen_at: Timestamp::now(),
            expires_at: Timestamp::now(),
        }
    }

    #[test]
    fn a_loaded_model_beats_a_shorter_queue_without_affinity() {
        let replicas = [replica("a", 0, false), replica("b", 5, true)];
        assert_eq!(
            choose(&replicas, "m", "self", None, 4).map(|r| &r.id[..]),
            Some("b")
        );
    }

    #[test]
    fn one_context_sticks_to_one_replica_until_it_is_overloaded() {
        let mut replicas: Vec<Replica> =
            (0..5).map(|n| replica(&format!("r{n}"), 0, true)).collect();
        let first = choose(&replicas, "m", "self", Some("ctx-1"), 4)
            .map(|r| r.id.clone())
            .expect("a holder");
        for _ in 0..10 {
            let again = choose(&replicas, "m", "self", Some("ctx-1"), 4).map(|r| r.id.clone());
            assert_eq!(again.as_deref(), Some(first.as_str()));
        }
        // Contexts spread over the holders.
        let spread: std::collections::BTreeSet<String> = (0..50)
            .filter_map(|n| choose(&replicas, "m", "self", Some(&format!("ctx-{n}")), 4))
            .map(|r| r.id.clone())
            .collect();
        assert!(spread.len() >= 4, "{spread:?}");
        // Removing another holder does not move the context (rendezvous hashing).
        let other = replicas
            .iter()
            .position(|r| r.id != first)
            .expect("another");
        replicas.remove(other);
        let kept = choose(&replicas, "m", "self", Some("ctx-1"), 4).map(|r| r.id.clone());
        assert_eq!(kept.as_deref(), Some(first.as_str()));
        // Far deeper than the shortest queue: load wins.
        for r in &mut replicas {
            if r.id == first {
                r.queue_depth = 10;
            }
        }
        let moved = choose(&replicas, "m", "self", Some("ctx-1"), 4).expect("a holder");
        assert_ne!(moved.id, first);
    }

    #[test]
    fn itself_and_replicas_without_the_model_are_never_chosen() {
        let mut other = replica("b", 0, true);
        other.models = vec!["n".into()];
        let replicas = [replica("self", 0, true), other];
        assert!(choose(&replicas, "m", "self", Some("ctx"), 4).is_none());
    }
}
