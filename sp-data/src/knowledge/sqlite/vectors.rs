//! Vector search of the embedded store: the HNSW graph for large namespaces, the exact
//! index for small ones and as the fallback.

use serde_json::Value;
use sp_core::Result;
use sp_core::knowledge::{Namespace, SearchHit};

use super::SqliteDocumentStore;

/// Candidates the quantised graph is asked for, per result wanted: re-scoring them exactly
/// recovers the order the 8-bit walk blurs (at 100k × 384, ×4 gave recall@10 0.996 at
/// ef_search 128, the f32 graph's figure).
const CANDIDATES_PER_RESULT: usize = 4;

impl SqliteDocumentStore {
    /// The `count` best rowids of the graph's candidates, by exact similarity.
    fn graph_candidates(
        &self,
        namespace: &str,
        vector: &[f32],
        count: usize,
    ) -> Result<Vec<(i64, f64)>> {
        let candidates = self.memory.graph.search(
            namespace,
            vector,
            count.saturating_mul(CANDIDATES_PER_RESULT),
        )?;
        let rowids: Vec<i64> = candidates.iter().map(|(rowid, _)| *rowid).collect();
        Ok(self
            .memory
            .index
            .rescore(&rowids, vector)
            .into_iter()
            .take(count)
            .map(|(rowid, score)| (rowid, f64::from(score)))
            .collect())
    }

    pub(super) fn search_vectors(
        &self,
        namespace: &Namespace,
        vector: &[f32],
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        let population = self.memory.index.namespace_len(namespace.as_str());
        if self.memory.graph.is_ready() && population >= self.config.exact_below {
            // Deleted documents and the metadata filter are applied after the graph search;
            // widen it until k survive, and fall back to exact when the graph runs dry. The
            // graph's own ef_search bounds recall, so an unfiltered search asks for k alone.
            let mut count = if filter.is_some() { (k * 4).max(32) } else { k };
            loop {
                let ranked = self.graph_candidates(namespace.as_str(), vector, count)?;
                let mut hits = self.memory.hit_rows.hits(&ranked, filter);
                if hits.len() >= k {
                    hits.truncate(k);
                    return Ok(hits);
                }
                if count >= population {
                    break;
                }
                count = count.saturating_mul(4);
            }
        }
        let ranked = self.memory.index.ranked(namespace.as_str(), vector);
        // Deleted documents and the metadata filter are applied on the candidates in rank
        // order, a window at a time, until k survive.
        let mut hits = Vec::with_capacity(k);
        let window = (k * 4).max(32);
        for candidates in ranked.chunks(window) {
            let scored: Vec<(i64, f64)> = candidates
                .iter()
                .map(|(r, s)| (*r, f64::from(*s)))
                .collect();
            hits.extend(self.memory.hit_rows.hits(&scored, filter));
            if hits.len() >= k {
                break;
            }
        }
        hits.truncate(k);
        Ok(hits)
    }
}
