//! Reciprocal rank fusion: merging ranked lists without comparing their scores.

use std::collections::HashMap;
use std::hash::Hash;

/// The constant of RRF (Cormack et al., 2009): damps the weight of the very top ranks.
pub const RRF_K: f64 = 60.0;

/// Fuses ranked lists: each item scores `Σ 1 / (RRF_K + rank)` over the lists it appears in
/// (rank from 1). Returns the items best first; ties keep first-seen order.
///
/// ```
/// use sp_core::knowledge::reciprocal_rank_fusion;
///
/// let fused = reciprocal_rank_fusion(&[vec!["a", "b", "c"], vec!["b", "d"]]);
/// assert_eq!(fused[0].0, "b"); // ranked well in both lists
/// ```
pub fn reciprocal_rank_fusion<T: Clone + Eq + Hash>(lists: &[Vec<T>]) -> Vec<(T, f64)> {
    let mut scores: HashMap<T, (f64, usize)> = HashMap::new();
    let mut order = 0;
    for list in lists {
        for (rank, item) in list.iter().enumerate() {
            let entry = scores.entry(item.clone()).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += 1.0 / (RRF_K + rank as f64 + 1.0);
        }
    }
    let mut fused: Vec<(T, f64, usize)> = scores.into_iter().map(|(t, (s, o))| (t, s, o)).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused.into_iter().map(|(t, s, _)| (t, s)).collect()
}
