//! Run with: `cargo run -p sp-examples --example search_notes -- [FOLDER] [QUERY]`
//!
//! Ingests every Markdown file of a folder (default: `examples/data/notes`) into the embedded
//! store — SQLite in a temporary directory, nothing to install — and runs a hybrid search.
//! Ingesting twice changes nothing: documents are keyed by file name and content hash.

use story_portal::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let folder = args
        .next()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/data/notes").to_owned());
    let query = args
        .next()
        .unwrap_or_else(|| "how do I filter search results".to_owned());

    let config = Config {
        data_dir: std::env::temp_dir().join("sp-example-notes"),
        ..Config::default()
    };
    // No model: the feature-hashing embedder indexes the notes.
    let platform = Platform::builder(config).build().await?;
    let kb = &platform.knowledge;

    let mut entries: Vec<_> = std::fs::read_dir(&folder)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    entries.sort();
    for path in entries {
        let content = std::fs::read_to_string(&path)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let title = content
            .lines()
            .find_map(|l| l.strip_prefix("# "))
            .unwrap_or(&name)
            .to_owned();
        let done = kb
            .ingest(
                NewDocument::new(title, content)
                    .with_external_id(name.clone())
                    .with_source(path.display().to_string()),
            )
            .await?;
        println!(
            "{name}: {:?}, {} sections",
            done.outcome, done.document.section_count
        );
    }

    println!("\nquery: {query}");
    for hit in kb.search(&SearchQuery::new(query)).await? {
        println!(
            "{:.4}  {} › {}\n        {}",
            hit.score,
            hit.title,
            hit.section.heading_path.join(" › "),
            hit.section.text.lines().last().unwrap_or_default()
        );
    }
    Ok(())
}
