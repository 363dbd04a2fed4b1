//! Hybrid ranking of a context's current facts: keyword and vector ranks fused (reciprocal
//! rank fusion, as the knowledge search does), weighted by how recently each fact was seen.
//!
//! A context's facts are few (at most [`MAX_SEARCHED`](super::MAX_SEARCHED) are read per
//! search), so they are ranked here, in the process, the same way on every backend.

use std::collections::{HashMap, HashSet};

use super::types::{FactHit, IndexedFact};
use crate::Timestamp;

/// The RRF constant (60, as in the paper and the knowledge search).
const RRF_K: f64 = 60.0;
/// Days after which recency's weight has halved.
const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;

fn words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// 1 for a fact seen now, ½ + ½·2^(−age/30 days) after: recency reorders near ties, it never
/// buries a strong match.
fn recency(now: Timestamp, seen: Timestamp) -> f64 {
    let age_days = (now.unix_micros() - seen.unix_micros()).max(0) as f64 / 86_400e6;
    0.5 + 0.5 * 0.5f64.powf(age_days / RECENCY_HALF_LIFE_DAYS)
}

/// The best `limit` of `facts` for `query` (and its embedding, when there is one).
///
/// ```
/// use sp_core::facts::{Fact, IndexedFact, rank};
/// # fn fact(attribute: &str, value: &str) -> Fact {
/// #     Fact { id: sp_core::Id::new(), namespace: Default::default(), context_id: sp_core::Id::new(),
/// #         subject: "user".into(), attribute: attribute.into(), value: value.into(),
/// #         confidence: 1.0, mentions: 1, source_message: None, valid_from: sp_core::Timestamp::now(),
/// #         valid_to: None, superseded_by: None, updated_at: sp_core::Timestamp::now() }
/// # }
/// let facts = vec![
///     IndexedFact { fact: fact("city", "Bergen"), vector: None },
///     IndexedFact { fact: fact("pet", "a cat named Tom"), vector: None },
/// ];
/// let hits = rank(facts, "which city", None, sp_core::Timestamp::now(), 5);
/// assert_eq!(hits[0].fact.value, "Bergen");
/// assert_eq!(hits.len(), 1, "no keyword or vector match, no hit");
/// ```
pub fn rank(
    facts: Vec<IndexedFact>,
    query: &str,
    query_vector: Option<&[f32]>,
    now: Timestamp,
    limit: usize,
) -> Vec<FactHit> {
    let query_words = words(query);
    let texts: Vec<HashSet<String>> = facts
        .iter()
        .map(|f| {
            words(&format!(
                "{} {} {}",
                f.fact.subject, f.fact.attribute, f.fact.value
            ))
        })
        .collect();
    // Rarer words count more (idf over this context's facts).
    let mut frequency: HashMap<&str, usize> = HashMap::new();
    for text in &texts {
        for word in text {
            *frequency.entry(word.as_str()).or_default() += 1;
        }
    }
    let total = facts.len() as f64;
    let mut keyword: Vec<(usize, f64)> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let score: f64 = query_words
                .iter()
                .filter(|w| text.contains(*w))
                .map(|w| {
                    let df = frequency.get(w.as_str()).copied().unwrap_or(0) as f64;
                    ((total + 1.0) / (df + 0.5)).ln().max(0.01)
                })
                .sum();
            (i, score)
        })
        .filter(|(_, score)| *score > 0.0)
        .collect();
    keyword.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut semantic: Vec<(usize, f64)> = match query_vector {
        Some(query) => facts
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.vector.as_deref().map(|v| (i, cosine(query, v))))
            .collect(),
        None => Vec::new(),
    };
    semantic.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut fused: HashMap<usize, f64> = HashMap::new();
    for ranking in [&keyword, &semantic] {
        for (position, (i, _)) in ranking.iter().enumerate() {
            *fused.entry(*i).or_default() += 1.0 / (RRF_K + position as f64 + 1.0);
        }
    }
    let mut hits: Vec<(usize, f64)> = fused
        .into_iter()
        .map(|(i, score)| (i, score * recency(now, facts[i].fact.updated_at)))
        .collect();
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hits.truncate(limit);
    let mut facts: Vec<Option<IndexedFact>> = facts.into_iter().map(Some).collect();
    hits.into_iter()
        .filter_map(|(i, score)| {
            facts[i].take().map(|indexed| FactHit {
                fact: indexed.fact,
                score,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Fact;
    use crate::{Id, Timestamp};

    fn fact(value: &str, vector: Option<Vec<f32>>, days_old: i64) -> IndexedFact {
        let seen =
            Timestamp::from_unix_micros(Timestamp::now().unix_micros() - days_old * 86_400_000_000)
                .unwrap();
        IndexedFact {
            fact: Fact {
                id: Id::new(),
                namespace: Default::default(),
                context_id: Id::new(),
                subject: "user".into(),
                attribute: "likes".into(),
                value: value.into(),
                confidence: 1.0,
                mentions: 1,
                source_message: None,
                valid_from: seen,
                valid_to: None,
                superseded_by: None,
                updated_at: seen,
            },
            vector,
        }
    }

    #[test]
    fn both_rankings_count_and_recency_breaks_ties() {
        let facts = vec![
            fact("green tea", Some(vec![0.0, 1.0]), 0),
            fact("black coffee", Some(vec![1.0, 0.0]), 0),
        ];
        // Keyword says tea; the vector says coffee strongly, tea not at all: tied ranks
        // (first in one, second in the other), so the order falls to recency — equal here —
        // and then to position.
        let hits = rank(facts, "tea", Some(&[1.0, 0.0]), Timestamp::now(), 5);
        assert_eq!(hits.len(), 2);
        assert!(hits[0].score >= hits[1].score);

        let old_and_new = vec![fact("tea", None, 120), fact("tea too", None, 0)];
        let hits = rank(old_and_new, "tea", None, Timestamp::now(), 5);
        assert_eq!(hits[0].fact.value, "tea too", "the recent match first");
    }

    #[test]
    fn a_vector_match_is_found_without_shared_words() {
        let facts = vec![
            fact("sushi", Some(vec![0.9, 0.1]), 0),
            fact("hiking", Some(vec![0.1, 0.9]), 0),
        ];
        let hits = rank(facts, "food", Some(&[1.0, 0.0]), Timestamp::now(), 1);
        assert_eq!(hits[0].fact.value, "sushi");
    }
}
