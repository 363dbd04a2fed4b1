//! Keyword search of the embedded store: FTS5 ranks the matches (BM25) and returns a window of
//! the best; the namespace, soft deletion and metadata filter are applied in memory, where
//! each section's namespace and card already are. Measured at 100k sections: the join of every
//! match to its section and document rows in SQLite cost most of a search (random reads of
//! wide rows); a window of candidates bounds what crosses from SQLite to the filter.

use serde_json::Value;
use sp_core::Result;
use sp_core::knowledge::{Namespace, SearchHit};
use sqlx::Row;

use super::{SqliteDocumentStore, db};

/// Candidates of the first window, per result wanted (at least [`MIN_WINDOW`]); when too few
/// of them pass the filters, the window grows eightfold until they do or the matches end.
const WINDOW_PER_RESULT: usize = 8;
const MIN_WINDOW: usize = 256;

impl SqliteDocumentStore {
    pub(super) async fn search_keywords(
        &self,
        namespace: &Namespace,
        matcher: &str,
        k: usize,
        filter: Option<&Value>,
    ) -> Result<Vec<SearchHit>> {
        let mut window = k.saturating_mul(WINDOW_PER_RESULT).max(MIN_WINDOW);
        loop {
            let ranked: Vec<(i64, f64)> = sqlx::query(
                "SELECT rowid, rank FROM kb_sections_fts WHERE kb_sections_fts MATCH ? \
                 ORDER BY rank, rowid LIMIT ?",
            )
            .bind(matcher)
            .bind(i64::try_from(window).unwrap_or(i64::MAX))
            .fetch_all(&self.rows.pool)
            .await
            .map_err(db)?
            .iter()
            // FTS5's rank is BM25 negated (lower is better): scores are higher-is-better.
            .map(|row| (row.get(0), -row.get::<f64, _>(1)))
            .collect();
            let exhausted = ranked.len() < window;
            let mut in_namespace = ranked;
            self.memory
                .index
                .retain_in(namespace.as_str(), &mut in_namespace);
            let mut hits = self.memory.hit_rows.hits(&in_namespace, filter);
            if hits.len() >= k || exhausted {
                hits.truncate(k);
                return Ok(hits);
            }
            window = window.saturating_mul(8);
        }
    }
}
