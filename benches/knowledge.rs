//! Run with: `cargo bench -p sp-benches --bench knowledge -- [SECTIONS ...]` (default 10000)
//!
//! The knowledge store on clustered synthetic data (100 gaussian clusters × 384 dimensions;
//! uniform random vectors would defeat every graph index and measure nothing real): ingest
//! sections/s, search p50/p95 per mode per backend, recall@10 of vector search against exact
//! brute force, and — on PostgreSQL — the same top-10 as raw SQL on the same table, so our
//! overhead shows as a ratio. PostgreSQL runs when `DATABASE_URL` is set
//! (`eval "$(scripts/services.sh up)"`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sp_benches::clustered_store::{PER_DOC, ingest, percentile};
use sp_core::knowledge::{
    DocumentStore, KnowledgeBase, KnowledgeConfig, Namespace, SearchMode, SearchQuery,
    SimpleTokenizer,
};
use sp_core::{Embedder, Result};
use sp_tests::Clustered;

const DIMS: usize = 384;
const CLUSTERS: usize = 100;
const QUERIES: usize = 200;

type Data = Clustered;

fn clustered(n: usize) -> Data {
    Clustered::generate(n, DIMS, CLUSTERS, PER_DOC, QUERIES)
}

/// Answers every query text with its precomputed vector (hybrid search needs an embedder).
struct LookupEmbedder(HashMap<String, Vec<f32>>);

#[async_trait]
impl Embedder for LookupEmbedder {
    fn model_id(&self) -> &str {
        "lookup"
    }
    fn dimensions(&self) -> usize {
        DIMS
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| self.0.get(t).cloned().unwrap_or_else(|| vec![0.0; DIMS]))
            .collect())
    }
}

/// The embedded store's keyword search, and the query it ran before (every FTS5 match joined
/// to its section and document rows in SQLite, for the namespace and deletion), alternating
/// which goes first: p50 / p95 ms of each.
async fn keyword_versus_joined(
    store: &dyn DocumentStore,
    db: &sp_data::SqliteStore,
    data: &Data,
) -> [(f64, f64); 2] {
    let ns = Namespace::default();
    let (mut ours, mut joined) = (Vec::new(), Vec::new());
    for (i, (_, c)) in data.queries.iter().enumerate() {
        let text = format!("topic{c} item{}", i % 97);
        let matcher = format!("\"topic{c}\" OR \"item{}\"", i % 97);
        for side in [i % 2, 1 - i % 2] {
            let started = Instant::now();
            if side == 0 {
                store
                    .keyword_search(&ns, &text, 10, None)
                    .await
                    .expect("search");
                ours.push(started.elapsed());
            } else {
                sqlx::query(
                    "WITH m AS MATERIALIZED ( \
                         SELECT rowid, -bm25(kb_sections_fts) AS score FROM kb_sections_fts \
                         WHERE kb_sections_fts MATCH ?) \
                     SELECT m.rowid, m.score FROM m CROSS JOIN kb_sections s ON s.rowid = m.rowid \
                     CROSS JOIN kb_documents d ON d.id = s.document_id \
                     WHERE d.namespace = ? AND d.deleted_at IS NULL \
                     ORDER BY m.score DESC, m.rowid LIMIT 10",
                )
                .bind(&matcher)
                .bind(ns.as_str())
                .fetch_all(db.pool())
                .await
                .expect("joined query");
                joined.push(started.elapsed());
            }
        }
    }
    [
        (percentile(&mut ours, 0.5), percentile(&mut ours, 0.95)),
        (percentile(&mut joined, 0.5), percentile(&mut joined, 0.95)),
    ]
}

/// The index of a hit in `data.vectors`, from its document title and ordinal.
fn hit_index(title: &str, ordinal: u32) -> usize {
    let d: usize = title.trim_start_matches("doc ").parse().unwrap_or(0);
    d * PER_DOC + ordinal as usize
}

struct Row {
    backend: &'static str,
    n: usize,
    ingest: f64,
    modes: Vec<(&'static str, f64, f64)>,
    recall: f64,
}

async fn measure(
    backend: &'static str,
    store: Arc<dyn DocumentStore>,
    data: &Data,
    pg: Option<&sp_data::PgStore>,
) -> Row {
    let ingest_rate = ingest(&store, data).await;
    if let Some(pg) = pg {
        // What an operator runs after a bulk load: statistics for the planner, and the GIN
        // index's pending list merged (until then every keyword search scans it: 10-15 ms
        // instead of 1.8 at 10k here).
        sqlx::raw_sql("VACUUM ANALYZE")
            .execute(pg.pool())
            .await
            .expect("vacuum analyze");
    }
    let ns = Namespace::default();
    let mut lookup = HashMap::new();
    let texts: Vec<String> = data
        .queries
        .iter()
        .enumerate()
        .map(|(i, (v, c))| {
            let text = format!("topic{c} item{}", i % 97);
            lookup.insert(text.clone(), v.clone());
            text
        })
        .collect();
    let kb = KnowledgeBase::new(
        store.clone(),
        Arc::new(LookupEmbedder(lookup)),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )
    .expect("kb");

    let (vector_p50, vector_p95, recall) = measure_vector(store.as_ref(), data).await;
    let mut keyword_times = Vec::new();
    let mut hybrid_times = Vec::new();
    for text in &texts {
        let started = Instant::now();
        store
            .keyword_search(&ns, text, 10, None)
            .await
            .expect("search");
        keyword_times.push(started.elapsed());
        let started = Instant::now();
        kb.search(&SearchQuery {
            mode: SearchMode::Hybrid,
            ..SearchQuery::new(text.clone())
        })
        .await
        .expect("search");
        hybrid_times.push(started.elapsed());
    }
    Row {
        backend,
        n: data.vectors.len(),
        ingest: ingest_rate,
        modes: vec![
            ("vector", vector_p50, vector_p95),
            (
                "keyword",
                percentile(&mut keyword_times, 0.5),
                percentile(&mut keyword_times, 0.95),
            ),
            (
                "hybrid",
                percentile(&mut hybrid_times, 0.5),
                percentile(&mut hybrid_times, 0.95),
            ),
        ],
        recall,
    }
}

/// Vector top-10 latency p50/p95 (ms) and recall@10 against exact search.
async fn measure_vector(store: &dyn DocumentStore, data: &Data) -> (f64, f64, f64) {
    let ns = Namespace::default();
    let mut times = Vec::new();
    let mut answers = Vec::with_capacity(data.queries.len());
    // Timed back to back; the brute-force ground truth runs after, so its scan of every
    // vector does not evict the index from the caches between timed queries.
    for (q, _) in &data.queries {
        let started = Instant::now();
        let hits = store.vector_search(&ns, q, 10, None).await.expect("search");
        times.push(started.elapsed());
        answers.push(hits);
    }
    let mut recall_sum = 0.0;
    for ((q, _), hits) in data.queries.iter().zip(answers) {
        let exact = data.exact_top(q, 10);
        let found = hits
            .iter()
            .filter(|h| exact.contains(&hit_index(&h.title, h.section.ordinal)))
            .count();
        recall_sum += found as f64 / 10.0;
    }
    (
        percentile(&mut times, 0.5),
        percentile(&mut times, 0.95),
        recall_sum / data.queries.len() as f64,
    )
}

/// Our vector top-10 against the same top-10 as raw SQL on the same tables, interleaved
/// query by query so that background work (autovacuum after the load) hits all alike:
/// "same hits" is the statement an application would write by hand for what we return
/// (the same columns: section, score, document id, title, external id, metadata), "ids"
/// returns section ids only (the index scan alone). The three take turns going first: the
/// second and third run of a query vector find the index pages in the CPU caches, which
/// made whichever ran first about 0.2 ms slower. Returns (ours, same hits, ids), each
/// (p50, p95) in ms.
async fn versus_raw_sql(
    store: &dyn DocumentStore,
    pg: &sp_data::PgStore,
    data: &Data,
) -> [(f64, f64); 3] {
    let distance = format!("(s.embedding::vector({DIMS})) <=> $1");
    let ids = format!("SELECT s.id FROM kb_sections s ORDER BY {distance} LIMIT 10");
    let same = format!(
        "SELECT s.ordinal, s.heading_path, s.text, s.token_count, (1 - ({distance}))::float8, \
         d.id, d.title, d.external_id, d.metadata \
         FROM kb_sections s JOIN kb_documents d ON d.id = s.document_id \
         WHERE s.namespace = 'default' AND d.deleted_at IS NULL ORDER BY {distance} LIMIT 10"
    );
    let ns = Namespace::default();
    let mut times: [Vec<Duration>; 3] = Default::default();
    let queries = data.queries.iter().cycle().take(3 * data.queries.len());
    for (turn, (q, _)) in queries.enumerate() {
        for which in (0..3).map(|i| (i + turn) % 3) {
            let started = Instant::now();
            let rows = if which == 0 {
                store
                    .vector_search(&ns, q, 10, None)
                    .await
                    .expect("search")
                    .len()
            } else {
                let sql = if which == 1 { &same } else { &ids };
                sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(pgvector::Vector::from(q.clone()))
                    .fetch_all(pg.pool())
                    .await
                    .expect("raw query")
                    .len()
            };
            times[which].push(started.elapsed());
            assert_eq!(rows, 10);
        }
    }
    times.map(|mut t| (percentile(&mut t, 0.5), percentile(&mut t, 0.95)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000]
    } else {
        sizes
    };
    println!("| backend | sections | ingest sections/s | mode | p50 ms | p95 ms | recall@10 |");
    println!("|---|---|---|---|---|---|---|");
    let mut raw_rows = Vec::new();
    let mut ef_rows = Vec::new();
    let mut keyword_rows = Vec::new();
    for n in sizes {
        let data = clustered(n);
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sp_data::SqliteStore::open(dir.path())
            .await
            .expect("sqlite");
        let embedded = Arc::new(
            sp_data::SqliteDocumentStore::open(&db, DIMS)
                .await
                .expect("store"),
        );
        print_row(&measure("embedded", embedded.clone(), &data, None).await);
        keyword_rows.push((
            n,
            keyword_versus_joined(embedded.as_ref(), &db, &data).await,
        ));
        if n >= sp_data::knowledge::VectorIndexConfig::default().exact_below {
            for ef in [32, 64, 128, 256] {
                embedded.set_expansion_search(ef);
                let (p50, p95, recall) = measure_vector(embedded.as_ref(), &data).await;
                ef_rows.push(format!(
                    "| {n} | {ef} | {p50:.3} | {p95:.3} | {recall:.3} |"
                ));
            }
        }

        let url = std::env::var("DATABASE_URL").ok();
        for (m, ef_construction) in url
            .as_ref()
            .map(|_| sp_benches::hnsw_builds())
            .unwrap_or_default()
        {
            let config = sp_core::config::DatabaseConfig {
                url: url.clone(),
                schema: format!("kb_bench_{n}"),
                hnsw_m: m,
                hnsw_ef_construction: ef_construction,
                ..Default::default()
            };
            let pg = sp_data::PgStore::connect_lazy(&config).expect("pool");
            let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", config.schema);
            sqlx::query(sqlx::AssertSqlSafe(drop))
                .execute(pg.pool())
                .await
                .expect("drop");
            pg.migrate().await.expect("migrate");
            let store: Arc<dyn DocumentStore> = Arc::new(
                sp_data::PgDocumentStore::open(&pg, DIMS)
                    .await
                    .expect("store"),
            );
            let name: &'static str = format!("postgres m {m} efc {ef_construction}").leak();
            print_row(&measure(name, store.clone(), &data, Some(&pg)).await);
            raw_rows.push((n, versus_raw_sql(store.as_ref(), &pg, &data).await));
        }
    }
    println!(
        "\nembedded keyword top-10 against the query before the candidate window (interleaved):\n"
    );
    println!(
        "| sections | ours p50 / p95 ms | joined in SQLite p50 / p95 ms | ratio |\n|---|---|---|---|"
    );
    for (n, [(ours50, ours95), (joined50, joined95)]) in keyword_rows {
        println!(
            "| {n} | {ours50:.3} / {ours95:.3} | {joined50:.3} / {joined95:.3} | {:.1}× |",
            joined50 / ours50
        );
    }
    if !ef_rows.is_empty() {
        println!("\nembedded HNSW, ef_search sweep (vector top-10):\n");
        println!("| sections | ef_search | p50 ms | p95 ms | recall@10 |\n|---|---|---|---|---|");
        ef_rows.iter().for_each(|row| println!("{row}"));
    }
    if !raw_rows.is_empty() {
        println!("\npostgres vector top-10 against raw SQL (interleaved):\n");
        println!(
            "| sections | ours p50 / p95 ms | raw, same hits | ratio | raw, ids only | ratio |"
        );
        println!("|---|---|---|---|---|---|");
    }
    for (n, [ours, same, ids]) in raw_rows {
        println!(
            "| {n} | {:.3} / {:.3} | {:.3} / {:.3} | {:.2}× | {:.3} / {:.3} | {:.2}× |",
            ours.0,
            ours.1,
            same.0,
            same.1,
            ours.0 / same.0,
            ids.0,
            ids.1,
            ours.0 / ids.0
        );
    }
}

fn print_row(row: &Row) {
    for (mode, p50, p95) in &row.modes {
        let recall = if *mode == "vector" {
            format!("{:.3}", row.recall)
        } else {
            "—".into()
        };
        println!(
            "| {} | {} | {:.0} | {mode} | {p50:.3} | {p95:.3} | {recall} |",
            row.backend, row.n, row.ingest
        );
    }
}
