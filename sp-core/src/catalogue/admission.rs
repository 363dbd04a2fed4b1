//! Which resident models to unload so that another fits the memory budget.

use std::time::Instant;

/// A loaded model, as admission sees it.
#[derive(Debug, Clone)]
pub struct Resident {
    /// Its catalogue name.
    pub name: String,
    /// Its estimated resident bytes.
    pub bytes: u64,
    /// When its last request ended (or it loaded).
    pub last_used: Instant,
    /// Never unloaded to make room.
    pub pinned: bool,
    /// Requests are running on it now.
    pub busy: bool,
}

/// What to do before loading a model of `needed` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// It fits beside everything resident.
    Fits,
    /// It fits once these idle models (least recently used first) are unloaded.
    Evict(Vec<String>),
    /// It does not fit now.
    Refuse {
        /// True when unloading models that are busy now would make room: retrying once they
        /// are idle may succeed. False when pinned models or the budget itself stand in the
        /// way.
        busy_in_the_way: bool,
    },
}

/// Plans the admission of `needed` bytes under `budget`: unload idle, unpinned models least
/// recently used first, and only as many as it takes; refuse rather than overcommit.
///
/// ```
/// use sp_core::catalogue::{Admission, Resident, plan_admission};
/// use std::time::{Duration, Instant};
///
/// let now = Instant::now();
/// let resident = |name: &str, age: u64, pinned| Resident {
///     name: name.into(), bytes: 400, last_used: now - Duration::from_secs(age), pinned, busy: false,
/// };
/// let loaded = [resident("old", 60, false), resident("new", 5, false), resident("kept", 90, true)];
/// assert_eq!(plan_admission(1_500, 300, &loaded), Admission::Fits);
/// assert_eq!(plan_admission(1_400, 300, &loaded), Admission::Evict(vec!["old".into()]));
/// assert_eq!(plan_admission(1_400, 1_100, &loaded), Admission::Refuse { busy_in_the_way: false });
/// ```
pub fn plan_admission(budget: u64, needed: u64, residents: &[Resident]) -> Admission {
    let used: u64 = residents.iter().map(|r| r.bytes).sum();
    if used.saturating_add(needed) <= budget {
        return Admission::Fits;
    }
    let mut idle: Vec<&Resident> = residents.iter().filter(|r| !r.pinned && !r.busy).collect();
    idle.sort_by_key(|r| r.last_used);
    let mut freed_to = used;
    let mut evict = Vec::new();
    for resident in idle {
        if freed_to.saturating_add(needed) <= budget {
            break;
        }
        freed_to -= resident.bytes;
        evict.push(resident.name.clone());
    }
    if freed_to.saturating_add(needed) <= budget {
        return Admission::Evict(evict);
    }
    let busy: u64 = residents
        .iter()
        .filter(|r| !r.pinned && r.busy)
        .map(|r| r.bytes)
        .sum();
    Admission::Refuse {
        busy_in_the_way: freed_to.saturating_sub(busy).saturating_add(needed) <= budget,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn resident(name: &str, bytes: u64, age: u64, pinned: bool, busy: bool) -> Resident {
        Resident {
            name: name.into(),
            bytes,
            last_used: Instant::now() - Duration::from_secs(age),
            pinned,
            busy,
        }
    }

    #[test]
    fn evicts_least_recently_used_idle_models_and_only_as_many_as_needed() {
        let loaded = [
            resident("a", 300, 10, false, false),
            resident("b", 300, 30, false, false),
            resident("c", 300, 20, false, false),
        ];
        assert_eq!(plan_admission(1_000, 100, &loaded), Admission::Fits);
        assert_eq!(
            plan_admission(1_000, 200, &loaded),
            Admission::Evict(vec!["b".into()])
        );
        assert_eq!(
            plan_admission(1_000, 500, &loaded),
            Admission::Evict(vec!["b".into(), "c".into()])
        );
    }

    #[test]
    fn pinned_and_busy_models_stay_and_the_refusal_says_whether_waiting_helps() {
        let loaded = [
            resident("pinned", 500, 99, true, false),
            resident("busy", 300, 99, false, true),
            resident("idle", 100, 1, false, false),
        ];
        assert_eq!(
            plan_admission(1_000, 300, &loaded),
            Admission::Refuse {
                busy_in_the_way: true
            }
        );
        assert_eq!(
            plan_admission(1_000, 600, &loaded),
            Admission::Refuse {
                busy_in_the_way: false
            }
        );
        assert_eq!(
            plan_admission(1_000, 200, &loaded),
            Admission::Evict(vec!["idle".into()])
        );
        assert_eq!(
            plan_admission(100, 101, &[]),
            Admission::Refuse {
                busy_in_the_way: false
            }
        );
    }
}
