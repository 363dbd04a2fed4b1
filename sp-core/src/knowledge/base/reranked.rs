//! The rerank stage of a search: the retrieved hits rescored by a [`Reranker`].

use super::KnowledgeBase;
use crate::error::{Error, Result};
use crate::knowledge::types::{SearchHit, SearchQuery};
use crate::rerank::{Reranker, ranked};

impl KnowledgeBase {
    /// Searches as [`search`](Self::search) without the rerank stage, then rescores the `k`
    /// hits with `reranker` (query and section text) and keeps the best `rerank.top_n`
    /// (all `k` when absent), best first; each hit's `score` becomes the reranker's.
    ///
    /// ```no_run
    /// # async fn demo(kb: sp_core::knowledge::KnowledgeBase, embedder: sp_core::knowledge::HashEmbedder) -> sp_core::Result<()> {
    /// use sp_core::knowledge::{RerankStage, SearchQuery};
    /// use sp_core::rerank::EmbeddingReranker;
    ///
    /// let mut query = SearchQuery::new("feline resting on a rug");
    /// query.k = 20;
    /// query.rerank = Some(RerankStage { model: None, top_n: Some(3) });
    /// let best = kb.search_reranked(&query, &EmbeddingReranker::new(&embedder)).await?;
    /// assert!(best.len() <= 3);
    /// # Ok(()) }
    /// ```
    pub async fn search_reranked(
        &self,
        query: &SearchQuery,
        reranker: &dyn Reranker,
    ) -> Result<Vec<SearchHit>> {
        let retrieval = retrieval_of(query)?;
        let hits = self.search(&retrieval).await?;
        let texts: Vec<String> = hits.iter().map(|hit| hit.section.text.clone()).collect();
        let scores = reranker.score(&query.query, &texts).await?;
        rerank_hits(hits, &scores, top_n_of(query))
    }
}

/// `query` without its rerank stage (refused when it has none: nothing to rerank with).
pub fn retrieval_of(query: &SearchQuery) -> Result<SearchQuery> {
    query.validate()?;
    if query.rerank.is_none() {
        return Err(Error::invalid_input(
            "rerank",
            "a reranked search needs a rerank stage ({\"top_n\": N})",
        ));
    }
    let mut retrieval = query.clone();
    retrieval.rerank = None;
    Ok(retrieval)
}

/// How many hits the rerank stage keeps.
pub fn top_n_of(query: &SearchQuery) -> usize {
    query
        .rerank
        .as_ref()
        .and_then(|stage| stage.top_n)
        .unwrap_or(query.k)
}

/// `hits` in the order of `scores` (one per hit), the best `top_n`, each scored by it.
pub fn rerank_hits(hits: Vec<SearchHit>, scores: &[f32], top_n: usize) -> Result<Vec<SearchHit>> {
    if scores.len() != hits.len() {
        return Err(Error::internal(format!(
            "the reranker returned {} scores for {} hits",
            scores.len(),
            hits.len()
        )));
    }
    let mut slots: Vec<Option<SearchHit>> = hits.into_iter().map(Some).collect();
    Ok(ranked(scores, top_n)
        .into_iter()
        .filter_map(|place| {
            let mut hit = slots.get_mut(place.index)?.take()?;
            hit.score = f64::from(place.relevance_score);
            Some(hit)
        })
        .collect())
}
