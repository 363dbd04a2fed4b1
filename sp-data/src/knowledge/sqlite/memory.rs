//! The in-memory part of an embedded knowledge store — vector indexes and hit rows — shared
//! by every store opened on the same database file in this process, so that each sees the
//! others' writes (the Python bindings, for one, open a store per handle). Another process
//! writing the same file is not seen: the embedded store belongs to one process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use sp_core::Result;
use sqlx::SqlitePool;

use super::hit_rows::HitRows;
use super::{load, vectors};
use crate::knowledge::flat_index::FlatIndex;
use crate::knowledge::graph_index::{GraphIndex, GraphParams};

pub(super) struct Memory {
    pub(super) index: Arc<FlatIndex>,
    pub(super) graph: Arc<GraphIndex>,
    pub(super) hit_rows: HitRows,
    /// Held by every write from before its transaction until memory reflects it: two
    /// writes of one document must update memory in their commit order, or the first's
    /// late update would bring back rows the second deleted.
    pub(super) writes: tokio::sync::Mutex<()>,
}

/// Open databases by canonical file path; an entry lives while a store uses it.
static MEMORIES: tokio::sync::Mutex<BTreeMap<PathBuf, Weak<Memory>>> =
    tokio::sync::Mutex::const_new(BTreeMap::new());

/// The memory of the database at `path`: the live one, or one loaded from SQLite (the
/// graph then built with `graph_params` on a background thread).
pub(super) async fn for_database(
    path: &std::path::Path,
    pool: &SqlitePool,
    dimensions: usize,
    graph_params: GraphParams,
) -> Result<Arc<Memory>> {
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    // Held across the load, so two stores opening the same file at once load it once.
    let mut memories = MEMORIES.lock().await;
    memories.retain(|_, memory| memory.strong_count() > 0);
    if let Some(memory) = memories.get(&key).and_then(Weak::upgrade) {
        return Ok(memory);
    }
    let index = FlatIndex::new(dimensions);
    let hit_rows = HitRows::default();
    load::load(pool, &index, &hit_rows).await?;
    let index = Arc::new(index);
    let graph = vectors::build_graph(&index, dimensions, graph_params)?;
    let memory = Arc::new(Memory {
        index,
        graph,
        hit_rows,
        writes: tokio::sync::Mutex::new(()),
    });
    memories.insert(key, Arc::downgrade(&memory));
    Ok(memory)
}

/// Runs `work` while no store of this process has the database at `path` open, and keeps
/// any from opening it until `work` is done (they wait): a store open across a re-embedding
/// would keep searching the old vectors from memory.
pub(super) async fn exclusively<T>(
    path: &std::path::Path,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mut memories = MEMORIES.lock().await;
    memories.retain(|_, memory| memory.strong_count() > 0);
    if memories.contains_key(&key) {
        return Err(sp_core::Error::Conflict(
            "a knowledge store of this process has the database open: drop it first".into(),
        ));
    }
    let done = work.await;
    drop(memories);
    done
}
