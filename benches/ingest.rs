//! Run with: `cargo bench -p sp-benches --bench ingest` (`SP_BENCH_SECTIONS`, default 10000)
//!
//! What storing costs on top of embedding, with a real embedding model: 10,000 sections
//! (Markdown documents of 32 sections, each a heading and a sentence of 33–42 words, cut at
//! 64 tokens so each stays its own section — short sections are the hard case for the
//! ratio: the least model work per row stored) ingested end to end — chunked, embedded by
//! all-MiniLM-L6-v2, indexed and committed — on the embedded store and on PostgreSQL, against
//! embedding alone: the same section texts, in the same batches, through the same model.
//!
//! The sides take turns block by block (32 documents, about 1,000 sections), in a rotating
//! order, into stores that grow to the whole set: a shared machine that speeds up or slows
//! down mid-run (PostgreSQL's own background work included) weighs on every side alike.
//! "Store alone" puts the blocks, already embedded, straight into a store of each backend:
//! what storage costs with no model running. Needs `SP_TEST_EMBEDDER` (scripts/models.sh
//! minilm) and, for PostgreSQL, `DATABASE_URL` (`eval "$(scripts/services.sh up)"`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sp_core::knowledge::{
    ChunkConfig, DocumentStore, KnowledgeBase, KnowledgeConfig, NewDocument, PreparedDocument,
    Section, chunk, embeddable_text,
};
use sp_core::{Embedder, Tokenizer};
use sp_llm::{EmbeddingModel, EngineConfig};
use sp_tests::{Rng, TestDatabase};

const PER_DOC: usize = 32;
const DOCS_PER_BLOCK: usize = 32;

/// Documents of `PER_DOC` sections, `sections` in all, each a heading and one sentence of
/// 33–42 words.
fn documents(sections: usize) -> Vec<NewDocument> {
    let mut rng = Rng(7);
    (0..sections.div_ceil(PER_DOC))
        .map(|d| {
            let mut content = String::new();
            for s in 0..PER_DOC {
                let n = 33 + rng.next_u64() % 10;
                let words = sp_benches::words(&mut rng, n as usize);
                content.push_str(&format!("## Part {s}\n\n{}.\n\n", words.join(" ")));
            }
            NewDocument::new(format!("Report {d}"), content)
        })
        .collect()
}

/// One backend's two stores: ingested through a knowledge base, and put straight in.
struct Backend {
    name: &'static str,
    kb: KnowledgeBase,
    bare: Arc<dyn DocumentStore>,
    databases: [TestDatabase; 2],
}

impl Backend {
    async fn open(
        name: &'static str,
        databases: [TestDatabase; 2],
        model: &Arc<EmbeddingModel>,
        config: KnowledgeConfig,
    ) -> Self {
        let store = |db: &TestDatabase| {
            let db = db.database.clone();
            let width = model.dimensions();
            async move { db.document_store(width).await.expect("store") }
        };
        let kb = KnowledgeBase::new(
            store(&databases[0]).await,
            model.clone() as Arc<dyn Embedder>,
            model.clone() as Arc<dyn Tokenizer>,
            config,
        )
        .expect("knowledge base");
        let bare = store(&databases[1]).await;
        Backend {
            name,
            kb,
            bare,
            databases,
        }
    }

    async fn cleanup(self) {
        drop((self.kb, self.bare));
        for db in self.databases {
            db.cleanup().await;
        }
    }
}

/// A block's documents cut as ingest cuts them.
fn cut(
    block: &[NewDocument],
    model: &EmbeddingModel,
    config: &KnowledgeConfig,
) -> Vec<Vec<Section>> {
    block
        .iter()
        .map(|doc| chunk(&doc.content, doc.format, &config.chunk, model).expect("chunk"))
        .collect()
}

/// Embedding alone: the block's sections, in ingest's batches; their vectors.
async fn embed_alone(
    block: &[NewDocument],
    sections: &[Vec<Section>],
    model: &EmbeddingModel,
    config: &KnowledgeConfig,
) -> Vec<Vec<Vec<f32>>> {
    let mut vectors = Vec::with_capacity(block.len());
    for (doc, sections) in block.iter().zip(sections) {
        let texts: Vec<String> = sections
            .iter()
            .map(|section| embeddable_text(&doc.title, section))
            .collect();
        let mut of_doc = Vec::with_capacity(texts.len());
        for batch in texts.chunks(config.embed_batch) {
            of_doc.extend(model.embed(batch).await.expect("embed"));
        }
        vectors.push(of_doc);
    }
    vectors
}

/// Ingests the block one document after another, as `KnowledgeBase::ingest_many` does;
/// returns the sections stored.
async fn ingest(kb: &KnowledgeBase, block: &[NewDocument]) -> usize {
    kb.ingest_many(block.to_vec())
        .await
        .into_iter()
        .map(|done| done.expect("ingest").document.section_count as usize)
        .sum()
}

/// Store alone: the block, already cut and embedded, put straight into `store`.
async fn store_alone(
    store: &dyn DocumentStore,
    block: &[NewDocument],
    sections: &[Vec<Section>],
    vectors: &[Vec<Vec<f32>>],
) {
    for ((doc, sections), vectors) in block.iter().zip(sections).zip(vectors) {
        let prepared = PreparedDocument {
            document: doc.clone(),
            content_hash: doc.title.clone(),
            sections: sections
                .iter()
                .cloned()
                .zip(vectors.iter().cloned())
                .collect(),
            storage_quota: Default::default(),
        };
        store.put(prepared).await.expect("put");
    }
}

fn seconds(time: Duration) -> f64 {
    time.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sections: usize = std::env::var("SP_BENCH_SECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let path = sp_tests::service_url("SP_TEST_EMBEDDER");
    let model = Arc::new(
        EmbeddingModel::load(EngineConfig::new(&path).with_threads(2)).expect("MiniLM loads"),
    );
    let docs = documents(sections);
    let config = KnowledgeConfig {
        chunk: ChunkConfig {
            max_tokens: 64,
            overlap_tokens: 0,
        },
        ..KnowledgeConfig::default()
    };
    let mut backends = vec![
        Backend::open(
            "embedded store",
            [TestDatabase::sqlite().await, TestDatabase::sqlite().await],
            &model,
            config,
        )
        .await,
    ];
    if std::env::var("DATABASE_URL").is_ok() {
        for (m, ef_construction) in sp_benches::hnsw_builds() {
            let tune = |c: &mut sp_core::config::DatabaseConfig| {
                c.hnsw_m = m;
                c.hnsw_ef_construction = ef_construction;
            };
            let databases = [
                TestDatabase::postgres_with("bench_ingest", tune).await,
                TestDatabase::postgres_with("bench_store", tune).await,
            ];
            let name: &'static str =
                format!("PostgreSQL + pgvector (m {m}, ef_construction {ef_construction})").leak();
            backends.push(Backend::open(name, databases, &model, config).await);
        }
    }

    // Per side: the time it took, in all blocks.
    let mut alone = Duration::ZERO;
    let mut ingested = vec![Duration::ZERO; backends.len()];
    let mut stored = vec![Duration::ZERO; backends.len()];
    let (mut embedded_sections, mut ingested_sections) = (0, 0);
    for (b, block) in docs.chunks(DOCS_PER_BLOCK).enumerate() {
        let sections = cut(block, &model, &config);
        let sides = 1 + backends.len();
        for turn in 0..sides {
            match (b + turn) % sides {
                0 => {
                    let started = Instant::now();
                    let vectors = embed_alone(block, &sections, &model, &config).await;
                    alone += started.elapsed();
                    embedded_sections += vectors.iter().map(Vec::len).sum::<usize>();
                    for (i, backend) in backends.iter().enumerate() {
                        let started = Instant::now();
                        store_alone(backend.bare.as_ref(), block, &sections, &vectors).await;
                        stored[i] += started.elapsed();
                    }
                }
                side => {
                    let backend = &backends[side - 1];
                    let started = Instant::now();
                    let count = ingest(&backend.kb, block).await;
                    ingested[side - 1] += started.elapsed();
                    if side == 1 {
                        ingested_sections += count;
                    }
                }
            }
        }
    }
    assert_eq!(
        embedded_sections, ingested_sections,
        "the same sections both ways"
    );

    println!(
        "\n{embedded_sections} sections in {} documents, MiniLM on 2 threads, the sides taking \
         turns block by block ({DOCS_PER_BLOCK} documents)",
        docs.len()
    );
    println!("| pass | seconds | sections/s | over embedding alone |");
    println!("|---|---|---|---|");
    let row = |name: &str, time: Duration, over: bool| {
        let share = if over {
            format!("{:+.1} %", (seconds(time) / seconds(alone) - 1.0) * 100.0)
        } else {
            format!("({:.1} % of it)", seconds(time) / seconds(alone) * 100.0)
        };
        println!(
            "| {name} | {:.1} | {:.0} | {share} |",
            seconds(time),
            embedded_sections as f64 / seconds(time),
        );
    };
    row("embedding alone (cut beforehand)", alone, true);
    for (i, backend) in backends.iter().enumerate() {
        row(
            &format!("ingest, {} (cut + embed + index + commit)", backend.name),
            ingested[i],
            true,
        );
        row(
            &format!("store alone, {} (no model running)", backend.name),
            stored[i],
            false,
        );
    }
    for backend in backends {
        backend.cleanup().await;
    }
}
