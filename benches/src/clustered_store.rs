//! Clustered synthetic sections written into a knowledge store, shared by the knowledge
//! benchmarks (`knowledge`, `million`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sp_core::knowledge::{ContentFormat, DocumentStore, NewDocument, PreparedDocument, Section};
use sp_tests::Clustered;

/// Sections per document: `data`'s groups of consecutive vectors of one cluster.
pub const PER_DOC: usize = 10;

/// The text of section `i`, of cluster `cluster`.
pub fn section_text(cluster: usize, i: usize) -> String {
    format!(
        "topic{cluster} passage{i} about subject{cluster} and item{}",
        i % 97
    )
}

/// The `p` percentile of `samples`, in milliseconds.
pub fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[at].as_secs_f64() * 1e3
}

/// Writes `data` as documents of [`PER_DOC`] sections (titled `doc N`), returning sections/s.
pub async fn ingest(store: &Arc<dyn DocumentStore>, data: &Clustered) -> f64 {
    let started = Instant::now();
    for (d, chunk) in data.vectors.chunks(PER_DOC).enumerate() {
        let cluster = data.clusters[d * PER_DOC];
        let sections = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    Section {
                        ordinal: i as u32,
                        heading_path: vec![],
                        text: section_text(cluster, d * PER_DOC + i),
                        token_count: 8,
                    },
                    v.clone(),
                )
            })
            .collect();
        let prepared = PreparedDocument {
            document: NewDocument::new(format!("doc {d}"), "synthetic")
                .with_external_id(format!("d{d}"))
                .with_format(ContentFormat::Text),
            content_hash: format!("h{d}"),
            sections,
            storage_quota: Default::default(),
        };
        store.put(prepared).await.expect("ingest");
    }
    data.vectors.len() as f64 / started.elapsed().as_secs_f64()
}
