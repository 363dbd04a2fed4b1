//! Keeping the saved vector index (`snapshot.rs`) in step with SQLite: the journal of changed
//! documents, graph work after an open (a full build, or the catch-up on documents changed
//! since the snapshot), and saves — after that work, once enough sections changed, and on
//! request.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use sp_core::{Error, Result};
use sqlx::SqlitePool;

use super::memory::Memory;
use super::{db, snapshot};
use crate::knowledge::graph_index::GraphParams;

/// Where and when the in-memory parts are saved.
pub(super) struct Persistence {
    pub(super) dir: PathBuf,
    pub(super) pool: SqlitePool,
    pub(super) dimensions: usize,
    pub(super) params: GraphParams,
    /// Stores holding fewer sections are not saved: their graphs build in well under a second.
    pub(super) save_from: usize,
    /// A save follows this many changed sections, and at least a quarter of the store: the
    /// work an open replays after a crash stays a bounded share of a rebuild.
    save_every: usize,
    /// The journal position of the snapshot on disk (-1: none).
    pub(super) saved_seq: AtomicI64,
    saved_sections: AtomicUsize,
    changed_sections: AtomicUsize,
    saving: AtomicBool,
    runtime: tokio::runtime::Handle,
}

impl Persistence {
    pub(super) fn new(
        dir: PathBuf,
        pool: SqlitePool,
        dimensions: usize,
        params: GraphParams,
        (save_from, save_every): (usize, usize),
        saved_seq: i64,
    ) -> Self {
        Persistence {
            dir,
            pool,
            dimensions,
            params,
            save_from,
            save_every,
            saved_seq: AtomicI64::new(saved_seq),
            saved_sections: AtomicUsize::new(0),
            changed_sections: AtomicUsize::new(0),
            saving: AtomicBool::new(false),
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

/// The journal's position: the sequence number of its latest entry, ever.
pub(super) async fn journal_seq(pool: &SqlitePool) -> Result<i64> {
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'kb_index_journal'")
            .fetch_optional(pool)
            .await
            .map_err(db)?;
    Ok(seq.unwrap_or(0))
}

/// The database's identity token and journal position.
pub(super) async fn position(pool: &SqlitePool) -> Result<snapshot::Position> {
    let database: String = sqlx::query_scalar("SELECT token FROM kb_index_identity WHERE id = 1")
        .fetch_one(pool)
        .await
        .map_err(db)?;
    Ok(snapshot::Position {
        database,
        journal_seq: journal_seq(pool).await?,
    })
}

/// Documents changed after journal position `seq`.
pub(super) async fn changed_since(pool: &SqlitePool, seq: i64) -> Result<Vec<sp_core::Id>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT document_id FROM kb_index_journal WHERE seq > ?")
            .bind(seq)
            .fetch_all(pool)
            .await
            .map_err(db)?;
    ids.iter().map(|id| id.parse()).collect()
}

/// Graph work left after an open: rowids to take out, and those to put in (their vectors
/// read from the exact index when inserted, so a later write's vector wins).
pub(super) struct GraphWork {
    pub(super) remove: Vec<i64>,
    pub(super) add: Vec<i64>,
}

/// Does `work` on a background thread (searches stay exact meanwhile), marks the graph
/// ready, then saves a snapshot when the one on disk is behind.
pub(super) fn spawn_graph_work(memory: &Arc<Memory>, work: GraphWork) -> Result<()> {
    let weak = Arc::downgrade(memory);
    let graph = Arc::clone(&memory.graph);
    let index = Arc::clone(&memory.index);
    let writes = Arc::clone(&memory.writes);
    let runtime = memory.persistence.runtime.clone();
    std::thread::Builder::new()
        .name("sp-kb-graph".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            let done = graph.remove(&work.remove).and_then(|()| {
                work.add
                    .iter()
                    .try_for_each(|rowid| match index.get(*rowid) {
                        Some((namespace, vector)) => graph.insert(*rowid, &namespace, &vector),
                        None => Ok(()),
                    })
            });
            if let Err(err) = done {
                tracing::error!(%err, "building the vector graph failed; searches stay exact");
                return;
            }
            graph.mark_ready();
            // Never holding the memory itself: whoever sees the graph ready and drops the
            // store frees it (the save then finds nothing to save).
            queue_save(weak, writes, &runtime);
            tracing::info!(
                added = work.add.len(),
                removed = work.remove.len(),
                seconds = started.elapsed().as_secs_f64(),
                "vector graph ready"
            );
        })
        .map_err(|err| Error::internal(format!("cannot start the graph builder: {err}")))?;
    Ok(())
}

/// Saves a snapshot when the one on disk is behind SQLite, under the write lock (writes wait;
/// searches go on). False when nothing was saved: up to date, too small, or the graph not
/// ready (a build or catch-up saves when it finishes; a failed update waits for a reopen).
pub(super) async fn save(memory: &Arc<Memory>) -> Result<bool> {
    let _write = memory.writes.lock().await;
    save_locked(memory).await
}

/// [`save`], its caller holding the write lock.
async fn save_locked(memory: &Arc<Memory>) -> Result<bool> {
    let persist = &memory.persistence;
    let sections = memory.index.len();
    if !memory.graph.is_ready() || sections < persist.save_from {
        return Ok(false);
    }
    let position = position(&persist.pool).await?;
    let seq = position.journal_seq;
    if seq == persist.saved_seq.load(Ordering::Acquire) {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let parts = Arc::clone(memory);
    tokio::task::spawn_blocking(move || {
        let p = &parts.persistence;
        snapshot::save(
            &p.dir,
            &position,
            p.params,
            &parts.index,
            &parts.graph,
            &parts.hit_rows,
            p.dimensions,
        )
    })
    .await
    .map_err(|err| Error::internal(format!("saving the vector index: {err}")))??;
    sqlx::query("DELETE FROM kb_index_journal WHERE seq <= ?")
        .bind(seq)
        .execute(&persist.pool)
        .await
        .map_err(db)?;
    persist.saved_seq.store(seq, Ordering::Release);
    persist.saved_sections.store(sections, Ordering::Relaxed);
    persist.changed_sections.store(0, Ordering::Relaxed);
    tracing::info!(
        sections,
        seconds = started.elapsed().as_secs_f64(),
        dir = %persist.dir.display(),
        "vector index saved"
    );
    Ok(true)
}

/// Starts a [`save`] on the runtime unless one is running.
fn save_in_background(memory: &Arc<Memory>) {
    let persist = &memory.persistence;
    if persist.saving.swap(true, Ordering::AcqRel) {
        return;
    }
    queue_save(
        Arc::downgrade(memory),
        Arc::clone(&memory.writes),
        &persist.runtime,
    );
}

/// Spawns a [`save`] of the memory behind `weak` on `runtime`.
fn queue_save(
    weak: Weak<Memory>,
    writes: Arc<tokio::sync::Mutex<()>>,
    runtime: &tokio::runtime::Handle,
) {
    runtime.spawn(async move {
        // Waits for the lock holding no strong reference, and lets go of the memory before
        // the lock: a store dropped meanwhile is gone for good, and one that waited on this
        // save finds the memory released when it gets the lock.
        let write = writes.lock_owned().await;
        let Some(memory) = weak.upgrade() else {
            return;
        };
        if let Err(err) = save_locked(&memory).await {
            tracing::warn!(%err, "saving the vector index failed; the next open replays more");
        }
        memory.persistence.saving.store(false, Ordering::Release);
        drop(memory);
        drop(write);
    });
}

/// Counts `sections` changed by a write, and starts a save once enough have.
pub(super) fn note_changes(memory: &Arc<Memory>, sections: usize) {
    let persist = &memory.persistence;
    let changed = persist
        .changed_sections
        .fetch_add(sections, Ordering::Relaxed)
        + sections;
    let due = persist
        .save_every
        .max(persist.saved_sections.load(Ordering::Relaxed) / 4);
    if changed >= due {
        save_in_background(memory);
    }
}
