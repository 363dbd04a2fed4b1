//! An approximate (HNSW) vector index for large embedded stores, from `usearch`: one graph
//! per namespace, so a tenant's search never walks another tenant's vectors. The graph holds
//! 8-bit quantised vectors: it finds candidates, whose similarities are approximate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

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
        // Measured here on clustered 100k × 384 through the store, candidates re-scored
        // exactly (docs/knowledge.md): recall@10 0.966 at ef_search 64, 0.996 at 128.
        GraphParams {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 128,
        }
    }
}

/// Section vectors by SQLite rowid in per-namespace HNSW graphs, inner product on unit
/// vectors.
pub(crate) struct GraphIndex {
    dimensions: usize,
    params: GraphParams,
    expansion_search: AtomicUsize,
    graphs: RwLock<HashMap<Arc<str>, Arc<RwLock<Index>>>>,
    owner: RwLock<HashMap<u64, Arc<str>>>,
    ready: AtomicBool,
}

fn graph_error(err: impl std::fmt::Display) -> Error {
    Error::internal(format!("vector graph: {err}"))
}

/// An empty graph with room for a first thousand vectors.
fn empty_graph(dimensions: usize, params: GraphParams, expansion_search: usize) -> Result<Index> {
    let options = IndexOptions {
        dimensions,
        metric: MetricKind::IP,
        // The walk compares 8-bit vectors (about twice as fast as f32 here, a quarter of
        // the memory); the caller re-scores the candidates with the exact f32 vectors.
        quantization: ScalarKind::I8,
        connectivity: params.connectivity,
        expansion_add: params.expansion_add,
        expansion_search,
        multi: false,
    };
    let index = Index::new(&options).map_err(graph_error)?;
    index.reserve(1024).map_err(graph_error)?;
    Ok(index)
}

impl GraphIndex {
    pub(crate) fn new(dimensions: usize, params: GraphParams) -> Result<Self> {
        // Fail at open, not at the first insert, when usearch refuses the parameters.
        let graph = GraphIndex {
            dimensions,
            params,
            expansion_search: AtomicUsize::new(params.expansion_search),
            graphs: RwLock::default(),
            owner: RwLock::default(),
            ready: AtomicBool::new(false),
        };
        graph.new_index()?;
        Ok(graph)
    }

    fn new_index(&self) -> Result<Index> {
        let expansion_search = self.expansion_search.load(Ordering::Relaxed);
        empty_graph(self.dimensions, self.params, expansion_search)
    }

    fn graph_of(&self, namespace: &str) -> Option<Arc<RwLock<Index>>> {
        self.graphs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(namespace)
            .cloned()
    }

    /// One namespace's graph read back from `path`, written there from
    /// [`serialized`](Self::serialized) bytes (the caller checks the file first).
    pub(crate) fn load_graph(dimensions: usize, params: GraphParams, path: &str) -> Result<Index> {
        let index = empty_graph(dimensions, params, params.expansion_search)?;
        index.load(path).map_err(graph_error)?;
        index.change_expansion_search(params.expansion_search);
        Ok(index)
    }

    /// A graph index holding `graphs` (from [`load_graph`](Self::load_graph)) for the vectors
    /// of `owners`. Refused when a graph's dimensions or size disagree with them. Not ready:
    /// the caller marks it so once it has caught up with writes made since the graphs were
    /// saved.
    pub(crate) fn restore(
        dimensions: usize,
        params: GraphParams,
        graphs: Vec<(Arc<str>, Index)>,
        owners: Vec<(i64, Arc<str>)>,
    ) -> Result<Self> {
        let restored = GraphIndex::new(dimensions, params)?;
        let mut expected: HashMap<Arc<str>, usize> = HashMap::new();
        for (_, namespace) in &owners {
            *expected.entry(Arc::clone(namespace)).or_default() += 1;
        }
        let mut loaded = HashMap::new();
        for (namespace, index) in graphs {
            let held = expected.get(&namespace).copied().unwrap_or(0);
            if index.dimensions() != dimensions || index.size() != held {
                return Err(graph_error(format!(
                    "the saved graph of `{namespace}` holds {} vectors of {} dimensions, \
                     expected {held} of {dimensions}",
                    index.size(),
                    index.dimensions()
                )));
            }
            loaded.insert(namespace, Arc::new(RwLock::new(index)));
        }
        if let Some((namespace, _)) = expected.iter().find(|(ns, _)| !loaded.contains_key(*ns)) {
            return Err(graph_error(format!("no saved graph for `{namespace}`")));
        }
        *restored
            .graphs
            .write()
            .unwrap_or_else(PoisonError::into_inner) = loaded;
        *restored
            .owner
            .write()
            .unwrap_or_else(PoisonError::into_inner) = owners
            .into_iter()
            .map(|(rowid, namespace)| (rowid as u64, namespace))
            .collect();
        Ok(restored)
    }

    /// Calls `save` with each namespace's graph as usearch serialises it, one at a time.
    pub(crate) fn serialized(
        &self,
        mut save: impl FnMut(&Arc<str>, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let graphs: Vec<(Arc<str>, Arc<RwLock<Index>>)> = self
            .graphs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(ns, graph)| (Arc::clone(ns), Arc::clone(graph)))
            .collect();
        for (namespace, graph) in graphs {
            let index = graph.read().unwrap_or_else(PoisonError::into_inner);
            let mut bytes = vec![0u8; index.serialized_length()];
            index.save_to_buffer(&mut bytes).map_err(graph_error)?;
            drop(index);
            save(&namespace, &bytes)?;
        }
        Ok(())
    }

    /// Sets ef_search of every graph, present and future.
    pub(crate) fn set_expansion_search(&self, expansion_search: usize) {
        self.expansion_search
            .store(expansion_search, Ordering::Relaxed);
        for graph in self
            .graphs
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            graph
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .change_expansion_search(expansion_search);
        }
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
        let previous = self
            .owner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(namespace));
        if let Some(previous) = previous.filter(|p| p != namespace) {
            self.remove_key(&previous, key)?;
        }
        let graph = match self.graph_of(namespace) {
            Some(graph) => graph,
            None => Arc::clone(
                self.graphs
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(Arc::clone(namespace))
                    .or_insert(Arc::new(RwLock::new(self.new_index()?))),
            ),
        };
        let index = graph.write().unwrap_or_else(PoisonError::into_inner);
        if index.contains(key) {
            index.remove(key).map_err(graph_error)?;
        }
        if index.size() + 1 > index.capacity() {
            index
                .reserve((index.capacity() * 2).max(1024))
                .map_err(graph_error)?;
        }
        index.add(key, vector).map_err(graph_error)
    }

    fn remove_key(&self, namespace: &str, key: u64) -> Result<()> {
        if let Some(graph) = self.graph_of(namespace) {
            let index = graph.write().unwrap_or_else(PoisonError::into_inner);
            if index.contains(key) {
                index.remove(key).map_err(graph_error)?;
            }
        }
        Ok(())
    }

    /// Forgets `rowids`.
    pub(crate) fn remove(&self, rowids: &[i64]) -> Result<()> {
        for rowid in rowids {
            let key = *rowid as u64;
            let owner = self
                .owner
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
            if let Some(namespace) = owner {
                self.remove_key(&namespace, key)?;
            }
        }
        Ok(())
    }

    /// Up to `count` rowids of `namespace` nearest to `query` by the quantised vectors,
    /// with that approximate similarity.
    pub(crate) fn search(
        &self,
        namespace: &str,
        query: &[f32],
        count: usize,
    ) -> Result<Vec<(i64, f32)>> {
        let Some(graph) = self.graph_of(namespace) else {
            return Ok(Vec::new());
        };
        let index = graph.read().unwrap_or_else(PoisonError::into_inner);
        let matches = index.search(query, count).map_err(graph_error)?;
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
        assert!(hits[0].1 > hits[1].1);
        graph.remove(&[1]).unwrap();
        assert_eq!(graph.search("a", &[1.0, 0.0], 5).unwrap()[0].0, 2);
        graph.insert(2, &a, &[0.6, 0.8]).unwrap();
        graph.insert(4, &a, &[0.0, 1.0]).unwrap();
        assert_eq!(graph.search("a", &[1.0, 0.0], 1).unwrap()[0].0, 2);
        assert_eq!(graph.search("b", &[0.0, 1.0], 5).unwrap()[0].0, 3);
    }

    #[test]
    fn serialized_graphs_restore_and_take_updates() {
        let graph = GraphIndex::new(2, GraphParams::default()).unwrap();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        graph.insert(1, &a, &[1.0, 0.0]).unwrap();
        graph.insert(2, &a, &[0.0, 1.0]).unwrap();
        graph.insert(3, &b, &[1.0, 0.0]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        graph
            .serialized(|ns, bytes| {
                let path = dir.path().join(format!("{ns}.bin"));
                std::fs::write(&path, bytes).unwrap();
                files.push((Arc::clone(ns), path.to_string_lossy().into_owned()));
                Ok(())
            })
            .unwrap();
        let params = GraphParams::default();
        let load = |dims: usize| -> Result<Vec<(Arc<str>, Index)>> {
            files
                .iter()
                .map(|(ns, path)| Ok((Arc::clone(ns), GraphIndex::load_graph(dims, params, path)?)))
                .collect()
        };
        let owners = vec![(1, a.clone()), (2, a.clone()), (3, b.clone())];
        let restored = GraphIndex::restore(2, params, load(2).unwrap(), owners.clone()).unwrap();
        assert_eq!(restored.search("a", &[0.0, 1.0], 1).unwrap()[0].0, 2);
        restored.remove(&[2]).unwrap();
        restored.insert(4, &a, &[0.0, 1.0]).unwrap();
        assert_eq!(restored.search("a", &[0.0, 1.0], 1).unwrap()[0].0, 4);
        // Saved graphs that disagree with the vectors are refused, never searched.
        let mut fewer = owners.clone();
        fewer.pop();
        assert!(GraphIndex::restore(2, params, load(2).unwrap(), fewer).is_err());
        let wrong_width = load(3).and_then(|graphs| GraphIndex::restore(3, params, graphs, owners));
        assert!(wrong_width.is_err());
    }
}
