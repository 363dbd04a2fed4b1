//! Recall of the vector search on clustered data, against exact brute force.

use sp_core::knowledge::{Namespace, NewDocument, PreparedDocument, Section};

use super::fixture::Fixture;

/// Vector search over 10k clustered vectors (1000 documents × 10 sections, 100 clusters,
/// 384 dimensions) against exact brute force: recall@10 ≥ 0.95.
pub async fn vector_recall_on_clustered_data(f: &Fixture) {
    let dims = f.store.dimensions();
    let data = sp_tests::Clustered::generate(10_000, dims, 100, 10, 50);
    for (d, chunk) in data.vectors.chunks(10).enumerate() {
        let sections = chunk
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let section = Section {
                    ordinal: i as u32,
                    heading_path: vec![],
                    text: format!("section {i} of document {d}"),
                    token_count: 6,
                };
                (section, v.clone())
            })
            .collect();
        let prepared = PreparedDocument {
            document: NewDocument::new(d.to_string(), "synthetic")
                .with_external_id(format!("d{d}")),
            content_hash: format!("h{d}"),
            sections,
            storage_quota: Default::default(),
        };
        f.store.put(prepared).await.expect("ingest");
    }
    let space = Namespace::default();
    let mut found = 0;
    for (query, _) in &data.queries {
        let exact = data.exact_top(query, 10);
        let hits = f
            .store
            .vector_search(&space, query, 10, None)
            .await
            .expect("search");
        assert_eq!(hits.len(), 10);
        found += hits
            .iter()
            .filter(|h| {
                let d: usize = h.title.parse().expect("title is the document number");
                exact.contains(&(d * 10 + h.section.ordinal as usize))
            })
            .count();
    }
    let recall = found as f64 / (10 * data.queries.len()) as f64;
    assert!(recall >= 0.95, "recall@10 = {recall}");
}
