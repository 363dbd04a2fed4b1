//! The in-memory part of an embedded knowledge store — vector indexes and hit rows — shared
//! by every store opened on the same database file in this process, so that each sees the
//! others' writes (the Python bindings, for one, open a store per handle). Another process
//! writing the same file is not seen: the embedded store belongs to one process.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use sp_core::{Id, Result};
use sqlx::SqlitePool;

use super::VectorIndexConfig;
use super::hit_rows::HitRows;
use super::persist::{self, GraphWork, Persistence};
use super::{load, snapshot};
use crate::knowledge::flat_index::FlatIndex;
use crate::knowledge::graph_index::{GraphIndex, GraphParams};

pub(super) struct Memory {
    pub(super) index: Arc<FlatIndex>,
    pub(super) graph: Arc<GraphIndex>,
    pub(super) hit_rows: HitRows,
    /// Held by every write from before its transaction until memory reflects it: two
    /// writes of one document must update memory in their commit order, or the first's
    /// late update would bring back rows the second deleted. A snapshot save holds it too
    /// (shared, so a save can wait for it without keeping this memory alive).
    pub(super) writes: Arc<tokio::sync::Mutex<()>>,
    pub(super) persistence: Persistence,
}

/// Open databases by canonical file path; an entry lives while a store uses it.
static MEMORIES: tokio::sync::Mutex<BTreeMap<PathBuf, Weak<Memory>>> =
    tokio::sync::Mutex::const_new(BTreeMap::new());

/// The memory of the database at `path`: the live one, or one read from the saved snapshot
/// and brought up to date from the journal, or else loaded from SQLite (the graph then
/// built on a background thread with `config.graph`).
pub(super) async fn for_database(
    path: &std::path::Path,
    pool: &SqlitePool,
    dimensions: usize,
    config: VectorIndexConfig,
) -> Result<Arc<Memory>> {
    let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    // Held across the load, so two stores opening the same file at once load it once.
    let mut memories = MEMORIES.lock().await;
    memories.retain(|_, memory| memory.strong_count() > 0);
    if let Some(memory) = memories.get(&key).and_then(Weak::upgrade) {
        return Ok(memory);
    }
    let dir = snapshot::dir_for(&key);
    let (parts, work) = match read_snapshot(&dir, pool, dimensions, config.graph).await? {
        Some(restored) => restored,
        None => {
            let index = FlatIndex::new(dimensions);
            let hit_rows = HitRows::default();
            let added = load::load(pool, &index, &hit_rows, None).await?;
            let graph = GraphIndex::new(dimensions, config.graph)?;
            let parts = (index, graph, hit_rows, -1);
            (
                parts,
                Some(GraphWork {
                    remove: Vec::new(),
                    add: added,
                }),
            )
        }
    };
    let (index, graph, hit_rows, saved_seq) = parts;
    let memory = Arc::new(Memory {
        index: Arc::new(index),
        graph: Arc::new(graph),
        hit_rows,
        writes: Arc::new(tokio::sync::Mutex::new(())),
        persistence: Persistence::new(
            dir,
            pool.clone(),
            dimensions,
            config.graph,
            (config.save_from, config.save_every),
            saved_seq,
        ),
    });
    match work {
        Some(work) => persist::spawn_graph_work(&memory, work)?,
        None => memory.graph.mark_ready(),
    }
    memories.insert(key, Arc::downgrade(&memory));
    Ok(memory)
}

type Parts = (FlatIndex, GraphIndex, HitRows, i64);

/// The snapshot in `dir` with the documents changed since it was saved re-read from SQLite
/// (their graph updates left to do), or `None` when there is no usable snapshot.
async fn read_snapshot(
    dir: &std::path::Path,
    pool: &SqlitePool,
    dimensions: usize,
    params: GraphParams,
) -> Result<Option<(Parts, Option<GraphWork>)>> {
    let started = std::time::Instant::now();
    let read_dir = dir.to_path_buf();
    let now = persist::position(pool).await?;
    let read =
        tokio::task::spawn_blocking(move || snapshot::load(&read_dir, &now, dimensions, params))
            .await
            .map_err(|err| sp_core::Error::internal(format!("reading the vector index: {err}")))?;
    let loaded = match read {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return Ok(None),
        Err(reason) => {
            tracing::warn!(dir = %dir.display(), %reason,
                "the saved vector index is not used; rebuilding it from the database");
            snapshot::discard(dir);
            return Ok(None);
        }
    };
    let changed: HashSet<Id> = persist::changed_since(pool, loaded.journal_seq)
        .await?
        .into_iter()
        .collect();
    let stale = loaded.hit_rows.forget_documents(&changed);
    loaded.index.remove(&stale);
    let ids: Vec<Id> = changed.iter().copied().collect();
    let added = if ids.is_empty() {
        Vec::new()
    } else {
        load::load(pool, &loaded.index, &loaded.hit_rows, Some(&ids)).await?
    };
    tracing::info!(
        sections = loaded.index.len(),
        replayed_documents = ids.len(),
        seconds = started.elapsed().as_secs_f64(),
        "vector index read from its snapshot"
    );
    let work = (!ids.is_empty()).then_some(GraphWork {
        remove: stale,
        add: added,
    });
    let parts = (
        loaded.index,
        loaded.graph,
        loaded.hit_rows,
        loaded.journal_seq,
    );
    Ok(Some((parts, work)))
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
