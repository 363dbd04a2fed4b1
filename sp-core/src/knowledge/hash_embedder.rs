//! A deterministic embedder that needs no model.

use async_trait::async_trait;

use super::simple_tokenizer::fnv1a;
use crate::error::{Error, Result};
use crate::model::Embedder;

/// Feature-hashing embeddings: lower-cased words and word pairs are hashed into a fixed number
/// of signed buckets, weighted by `1 + ln(count)`, and the vector is L2-normalised.
///
/// Texts that share words land close together, so keyword-like similarity search works with
/// no model at all; it knows no synonyms. It is the default when no embedding model is
/// configured, and a real, documented embedder for tests (not a fake): the same text always
/// gives the same vector, on every machine.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::{Embedder, knowledge::HashEmbedder};
///
/// let e = HashEmbedder::new(384);
/// let v = e.embed(&["install the server".into(), "server install guide".into(), "chocolate cake".into()]).await.unwrap();
/// let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
/// assert!(cos(&v[0], &v[1]) > cos(&v[0], &v[2]));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct HashEmbedder {
    dimensions: usize,
    id: String,
}

impl HashEmbedder {
    /// An embedder producing `dimensions`-long vectors.
    pub fn new(dimensions: usize) -> Self {
        HashEmbedder {
            dimensions: dimensions.max(1),
            id: format!("hash-v1-{dimensions}"),
        }
    }

    /// The vector of one text.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let mut counts: std::collections::HashMap<u64, f32> = std::collections::HashMap::new();
        for word in &words {
            *counts.entry(fnv1a(word.as_bytes())).or_default() += 1.0;
        }
        for pair in words.windows(2) {
            let joined = format!("{} {}", pair[0], pair[1]);
            // Pairs weigh half: they sharpen phrase matches without drowning single words.
            *counts.entry(fnv1a(joined.as_bytes())).or_default() += 0.5;
        }
        let mut vector = vec![0.0f32; self.dimensions];
        for (hash, count) in counts {
            let bucket = (hash % self.dimensions as u64) as usize;
            let sign = if (hash >> 63) == 0 { 1.0 } else { -1.0 };
            vector[bucket] += sign * (1.0 + count.ln());
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                if text.trim().is_empty() {
                    Err(Error::invalid_input(
                        format!("texts[{i}]"),
                        "must not be empty",
                    ))
                } else {
                    Ok(self.embed_one(text))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_length_and_deterministic() {
        let e = HashEmbedder::new(64);
        let a = e.embed_one("The quick brown fox");
        assert_eq!(a, e.embed_one("The quick brown fox"));
        assert_eq!(a.len(), 64);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(e.embed_one("!!!").iter().all(|x| *x == 0.0));
    }
}
