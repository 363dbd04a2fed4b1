//! Vector search of the embedded store: the HNSW graph for large namespaces, the exact
//! index for small ones and as the fallback.

use std::sync::Arc;

use serde_json::Value;
use sp_core::knowledge::{Namespace, SearchHit};
use sp_core::{Error, Result};

use super::SqliteDocumentStore;
use crate::knowledge::flat_index::FlatIndex;
use crate::knowledge::graph_index::{GraphIndex, GraphParams};

/// A graph for `dimensions`-long vectors, filled from `index` on a background thread; it
/// reports ready once every existing vector is in.
pub(super) fn build_graph(
    index: &Arc<FlatIndex>,
    dimensions: usize,
    params: GraphParams,
) -> Result<Arc<GraphIndex>> {
    let graph = Arc::new(GraphIndex::new(dimensions, params)?);
    let snapshot = index.snapshot();
    let builder = Arc::clone(&graph);
    std::thread::Builder::new()
        .name("sp-kb-graph".into())
        .spawn(move || {
            for (rowid, namespace, vector) in snapshot {
                if let Err(err) = builder.insert(rowid, &namespace, &vector) {
                    tracing::error!(%err, "building the vector graph failed; searches stay exact");
                    return;
                }
            }
            builder.mark_ready();
        })
        .map_err(|err| Error::internal(format!("cannot start the graph builder: {err}")))?;
    Ok(graph)
}

impl SqliteDocumentStore {
    pub(super) async fn search_vectors(
        &self,
        namespace: &Namespace,
        vector: &[f32],
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        let population = self.index.namespace_len(namespace.as_str());
        if self.graph.is_ready() && population >= self.config.exact_below {
            // Deleted documents and the metadata filter are applied after the graph search;
            // widen it until k survive, and fall back to exact when the graph runs dry. The
            // graph's own ef_search bounds recall, so an unfiltered search asks for k alone
            // and fetches k rows.
            let mut count = if filter.is_some() { (k * 4).max(32) } else { k };
            loop {
                let ranked = self.graph.search(namespace.as_str(), vector, count)?;
                let scored: Vec<(i64, f64)> =
                    ranked.iter().map(|(r, s)| (*r, f64::from(*s))).collect();
                let mut hits = self.hits_for(&scored, filter).await?;
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
        let ranked = self.index.ranked(namespace.as_str(), vector);
        // Deleted documents and the metadata filter are applied on the candidates in rank
        // order, a window at a time, until k survive.
        let mut hits = Vec::with_capacity(k);
        let window = (k * 4).max(32);
        for candidates in ranked.chunks(window) {
            let scored: Vec<(i64, f64)> = candidates
                .iter()
                .map(|(r, s)| (*r, f64::from(*s)))
                .collect();
            hits.extend(self.hits_for(&scored, filter).await?);
            if hits.len() >= k {
                break;
            }
        }
        hits.truncate(k);
        Ok(hits)
    }
}
