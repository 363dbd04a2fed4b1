//! Any bytes as a Markdown document, ingested whole (validated, chunked, embedded and stored
//! in memory), then searched: a coded error or a stored document, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use sp_core::knowledge::{
    ContentFormat, HashEmbedder, KnowledgeBase, KnowledgeConfig, MemoryDocumentStore, NewDocument,
    SearchQuery, SimpleTokenizer,
};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|_| std::process::abort())
    })
}

fuzz_target!(|data: &[u8]| {
    let (title, content) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&b"t"[..], data),
    };
    let document = NewDocument {
        format: ContentFormat::Markdown,
        ..NewDocument::new(
            String::from_utf8_lossy(title),
            String::from_utf8_lossy(content),
        )
    };
    let query = String::from_utf8_lossy(&content[..content.len().min(64)]).into_owned();
    runtime().block_on(async move {
        let Ok(base) = KnowledgeBase::new(
            Arc::new(MemoryDocumentStore::default()),
            Arc::new(HashEmbedder::new(32)),
            Arc::new(SimpleTokenizer),
            KnowledgeConfig::default(),
        ) else {
            return;
        };
        if base.ingest(document).await.is_ok() {
            let _ = base.search(&SearchQuery::new(query)).await;
        }
    });
});
