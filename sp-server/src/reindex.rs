//! `sp reindex`: re-embeds the knowledge store into the embedding model the configuration
//! serves, so a store made by one model can be served by another (rather than refused with
//! `SP-KB-005` / `SP-CFG-001` at start).

use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use sp_core::knowledge::{
    HashEmbedder, ReembedReport, Reembedder, SimpleTokenizer, forget_cached_searches,
};
use sp_core::{Config, Embedder, Error, Result, Tokenizer};
use sp_data::{Backends, ServeLock};

/// What `sp reindex` changed, or why it changed nothing, as lines to print.
///
/// The embedded data directory's serve lock is held throughout, so it refuses to run beside
/// `sp serve` on the same directory; on PostgreSQL stop the servers first. Unless `force`,
/// a store already embedded by the configured model is left alone.
pub async fn reindex(config: &Config, force: bool) -> Result<Vec<String>> {
    let _lock = match config.database.url {
        None => Some(ServeLock::acquire(&config.data_dir)?),
        Some(_) => None,
    };
    let backends = Backends::open(config).await?;
    backends.database.migrate().await?;
    let served = crate::catalogue::served_models(config, None).await?;
    let (embedder, tokenizer): (Arc<dyn Embedder>, Arc<dyn Tokenizer>) = match served.embedder {
        Some(model) => (model.clone(), model),
        None => (
            Arc::new(HashEmbedder::new(sp_platform::HASH_DIMENSIONS)),
            Arc::new(SimpleTokenizer),
        ),
    };
    let recorded = backends.database.recorded_embedder().await?;
    if let Some((dimensions, Some(model))) = &recorded
        && model == embedder.model_id()
        && *dimensions == embedder.dimensions()
        && !force
    {
        return Ok(vec![format!(
            "the knowledge store is already embedded by {model} ({dimensions} dimensions): \
             nothing to do (--force re-embeds anyway)"
        )]);
    }
    let reembedder = Reembedder::new(embedder, tokenizer);
    let bar = progress_bar()?;
    let shown = bar.clone();
    let progress = move |done: u64, total: u64| {
        shown.set_length(total);
        shown.set_position(done);
    };
    let report = backends
        .database
        .reembed_documents(&reembedder, &progress)
        .await;
    bar.finish_and_clear();
    let report = report?;
    // Searches cached before (on Redis, a running server's too) were found with the old
    // vectors.
    forget_cached_searches(backends.cache.clone(), &report.namespaces).await;
    Ok(summary(&report))
}

fn progress_bar() -> Result<ProgressBar> {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template(
        "re-embedding [{bar:30}] {pos}/{len} sections {per_sec} eta {eta}",
    )
    .map_err(|err| Error::internal(err.to_string()))?;
    bar.set_style(style.progress_chars("=> "));
    Ok(bar)
}

fn summary(report: &ReembedReport) -> Vec<String> {
    let from = match (&report.from_model, report.from_dimensions) {
        (Some(model), Some(dimensions)) => format!("{model} ({dimensions} dimensions)"),
        (None, Some(dimensions)) => format!("an unrecorded model ({dimensions} dimensions)"),
        (_, None) => "an empty store".to_owned(),
    };
    vec![format!(
        "re-embedded {} sections of {} documents in {} namespaces: {from} -> {} ({} dimensions)",
        report.sections,
        report.documents,
        report.namespaces.len(),
        report.to_model,
        report.to_dimensions,
    )]
}
