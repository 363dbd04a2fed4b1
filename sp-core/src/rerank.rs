//! Reranking: documents scored against a query and put best first — the second stage after a
//! cheap retrieval, and what `POST /v1/rerank` serves.
//!
//! A cross-encoder reads the query and a document together; [`EmbeddingReranker`] scores with
//! an embedding model's cosine similarity instead (a bi-encoder), which any embedding model
//! can do.

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::model::Embedder;

/// Scores documents for a query: one score per document, in order, higher is more relevant.
#[async_trait]
pub trait Reranker: Send + Sync {
    /// The model that scores, as responses report it.
    fn model_id(&self) -> &str;

    /// One score per document, in the documents' order.
    async fn score(&self, query: &str, documents: &[String]) -> Result<Vec<f32>>;
}

/// A reranker from an embedding model: each document's score is the cosine similarity of its
/// vector to the query's (−1 to 1), all embedded in one call so they share batches.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::knowledge::HashEmbedder;
/// use sp_core::rerank::{EmbeddingReranker, Reranker, ranked};
///
/// let embedder = HashEmbedder::new(64);
/// let reranker = EmbeddingReranker::new(&embedder);
/// let documents = vec!["tea in the garden".to_owned(), "rust borrow checker".to_owned()];
/// let scores = reranker.score("the borrow checker of rust", &documents).await?;
/// assert_eq!(ranked(&scores, 1)[0].index, 1);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
pub struct EmbeddingReranker<'a> {
    embedder: &'a dyn Embedder,
}

impl<'a> EmbeddingReranker<'a> {
    /// Scores with `embedder`.
    pub fn new(embedder: &'a dyn Embedder) -> Self {
        EmbeddingReranker { embedder }
    }
}

#[async_trait]
impl Reranker for EmbeddingReranker<'_> {
    fn model_id(&self) -> &str {
        self.embedder.model_id()
    }

    async fn score(&self, query: &str, documents: &[String]) -> Result<Vec<f32>> {
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        let mut texts = Vec::with_capacity(documents.len() + 1);
        texts.push(query.to_owned());
        texts.extend_from_slice(documents);
        let vectors = self.embedder.embed(&texts).await?;
        let Some((query, documents_vectors)) = vectors.split_first() else {
            return Err(Error::internal("the embedder returned no vectors"));
        };
        if documents_vectors.len() != documents.len() {
            return Err(Error::internal(format!(
                "the embedder returned {} vectors for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        Ok(documents_vectors
            .iter()
            .map(|document| cosine(query, document))
            .collect())
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator > 0.0 {
        dot / denominator
    } else {
        0.0
    }
}

/// One document's place after reranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Its position in the documents as given.
    pub index: usize,
    /// Its score; higher is more relevant.
    pub relevance_score: f32,
}

/// The `top_n` best of `scores`, best first; equal scores keep the documents' order.
///
/// ```
/// use sp_core::rerank::ranked;
///
/// let best = ranked(&[0.1, 0.9, 0.5], 2);
/// assert_eq!(best.iter().map(|r| r.index).collect::<Vec<_>>(), [1, 2]);
/// ```
pub fn ranked(scores: &[f32], top_n: usize) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = scores
        .iter()
        .enumerate()
        .map(|(index, &relevance_score)| Ranked {
            index,
            relevance_score,
        })
        .collect();
    // Stable: ties keep the retrieval order.
    ranked.sort_by(|a, b| b.relevance_score.total_cmp(&a.relevance_score));
    ranked.truncate(top_n);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_the_given_order_and_top_n_cuts() {
        let best = ranked(&[0.5, 0.7, 0.5, 0.1], 3);
        let order: Vec<usize> = best.iter().map(|r| r.index).collect();
        assert_eq!(order, [1, 0, 2]);
        assert!(ranked(&[0.3], 0).is_empty());
    }

    #[test]
    fn cosine_of_a_zero_vector_is_zero() {
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
    }
}
