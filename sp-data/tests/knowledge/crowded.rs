//! Keyword search of a namespace whose matches rank below many of another's: the embedded
//! store ranks a window of FTS5 matches and filters by namespace in memory, so it must widen
//! the window until the small namespace's matches are in it.

use sp_core::knowledge::{SearchMode, SearchQuery};

use super::fixture::Fixture;
use super::{doc, ns};

pub async fn a_small_namespace_is_found_among_many_matches_of_another(f: &Fixture) {
    let crowd = ns("crowd");
    let small = ns("small");
    let strong: Vec<_> = (0..300)
        .map(|i| {
            doc(
                &format!("Crowd {i}"),
                &format!("zebra zebra zebra stripes {i}"),
            )
            .in_namespace(crowd.clone())
        })
        .collect();
    for ingested in f.kb.ingest_many(strong).await {
        ingested.expect("ingest");
    }
    let weak: Vec<_> = (0..4)
        .map(|i| {
            doc(
                &format!("Small {i}"),
                &format!("one zebra among many other words of note number {i} in this longer text"),
            )
            .in_namespace(small.clone())
        })
        .collect();
    let mut ids = Vec::new();
    for ingested in f.kb.ingest_many(weak).await {
        ids.push(ingested.expect("ingest").document.id);
    }
    f.kb.delete(&small, ids[3]).await.expect("delete");
    let query = SearchQuery {
        mode: SearchMode::Keyword,
        k: 5,
        namespace: small.clone(),
        ..SearchQuery::new("zebra")
    };
    let hits = f.kb.search(&query).await.expect("search");
    let mut titles: Vec<String> = hits.into_iter().map(|h| h.title).collect();
    titles.sort();
    assert_eq!(titles, ["Small 0", "Small 1", "Small 2"]);
    let crowded = SearchQuery {
        namespace: crowd,
        ..query
    };
    let hits = f.kb.search(&crowded).await.expect("search");
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|h| h.title.starts_with("Crowd")));
}
