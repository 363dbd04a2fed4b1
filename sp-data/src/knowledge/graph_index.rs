//! An approximate (HNSW) vector index for large embedded stores, from `usearch`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use sp_core::{Error, Result};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Graph parameters (usearch's names): `connectivity` is HNSW's M, `expansion_add` its
/// ef_construction, `expansion_search` its ef_search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphParams {
    /// Edges per node (M).
    pub connectivity: usize,
    /// Candidates kept while inserting (ef_construction).
    pub expansion_add: usize,
    /// Candidates kept while searching (ef_search); higher: better recall, slower.
    pub expansion_search: usize,
}

impl Default for GraphParams {
    fn default() -> Self {
        // Measured here at 100k × 384 (../shared/CRATES.md): recall@10 1.000 at ef_search 64.
        GraphParams {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
        }
    }
}

/// Section vectors by SQLite rowid in an HNSW graph, inner product on unit vectors.
pub(crate) struct GraphIndex {
    index: RwLock<Index>,
    namespaces: RwLock<HashMap<u64, Arc<str>>>,
    ready: AtomicBool,
}

fn graph_error(err: impl std::fmt::Display) -> Error {
    Error::internal(format!("vector graph: {err}"))
}

impl GraphIndex {
    pub(crate) fn new(dimensions: usize, params: GraphParams) -> Result<Self> {
        let options = IndexOptions {
            dimensions,
            metric: MetricKind::IP,
            quantization: ScalarKind::F32,
            connectivity: params.connectivity,
            expansion_add: params.expansion_add,
            expansion_search: params.expansion_search,
            multi: false,
        };
        let index = Index::new(&options).map_err(graph_error)?;
        index.reserve(1024).map_err(graph_error)?;
        Ok(GraphIndex {
            index: RwLock::new(index),
            namespaces: RwLock::default(),
            ready: AtomicBool::new(false),
        })
    }

    /// True once the build from existing rows has finished.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub(crate) fn mark_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// After a failed update the graph may miss rows: searches go exact until the next open.
    pub(crate) fn mark_unready(&self) {
        self.ready.store(false, Ordering::Release);
    }

    /// Adds or replaces the vector of `rowid`.
    pub(crate) fn insert(&self, rowid: i64, namespace: &Arc<str>, vector: &[f32]) -> Result<()> {
        let key = rowid as u64;
        let index = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if index.contains(key) {
            index.remove(key).map_err(graph_error)?;
        }
        if index.size() + 1 > index.capacity() {
            index
                .reserve((index.capacity() * 2).max(1024))
                .map_err(graph_error)?;
        }
        index.add(key, vector).map_err(graph_error)?;
        drop(index);
        self.namespaces
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, Arc::clone(namespace));
        Ok(())
    }

    /// Forgets `rowids`.
    pub(crate) fn remove(&self, rowids: &[i64]) -> Result<()> {
        let index = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut namespaces = self
            .namespaces
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for rowid in rowids {
            let key = *rowid as u64;
            if index.contains(key) {
                index.remove(key).map_err(graph_error)?;
            }
            namespaces.remove(&key);
        }
        Ok(())
    }

    /// Up to `count` rowids of `namespace` nearest to `query`, with their similarity.
    pub(crate) fn search(
        &self,
        namespace: &str,
        query: &[f32],
        count: usize,
    ) -> Result<Vec<(i64, f32)>> {
        let index = self
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let namespaces = self
            .namespaces
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let matches = index
            .filtered_search(query, count, |key| {
                namespaces
                    .get(&key)
                    .is_some_and(|ns| ns.as_ref() == namespace)
            })
            .map_err(graph_error)?;
        Ok(matches
            .keys
            .into_iter()
            .zip(matches.distances)
            .map(|(key, distance)| (key as i64, 1.0 - distance))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_search_remove_by_namespace() {
        let graph = GraphIndex::new(2, GraphParams::default()).unwrap();
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        graph.insert(1, &a, &[1.0, 0.0]).unwrap();
        graph.insert(2, &a, &[0.0, 1.0]).unwrap();
        graph.insert(3, &b, &[1.0, 0.0]).unwrap();
        let hits = graph.search("a", &[1.0, 0.0], 5).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!((hits[0].1 - 1.0).abs() < 1e-5);
        graph.remove(&[1]).unwrap();
        assert_eq!(graph.search("a", &[1.0, 0.0], 5).unwrap()[0].0, 2);
        graph.insert(2, &a, &[1.0, 0.0]).unwrap();
        assert!((graph.search("a", &[1.0, 0.0], 1).unwrap()[0].1 - 1.0).abs() < 1e-5);
    }
}
