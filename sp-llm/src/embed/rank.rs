//! Cross-encoders (`kind = "rerank"`: bge-reranker, jina-reranker, ms-marco MiniLM…): the
//! query and a document read together as one sequence and scored by the model's
//! classification head — llama.cpp's rank pooling. Pairs are laid out exactly as
//! llama-server lays them out (the GGUF's `rerank` template when it has one, else
//! `BOS query EOS SEP document EOS` as the vocabulary asks), so one GGUF scores alike in both;
//! they share the embedding worker's packed decodes.

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use sp_core::{Error, Result};

use super::EmbeddingModel;

/// llama.cpp's `LLAMA_POOLING_TYPE_RANK`.
const RANK_POOLING: &str = "4";

/// True when the GGUF declares rank pooling: a cross-encoder.
pub(super) fn declares_rank_pooling(model: &LlamaModel) -> bool {
    model
        .meta_val_str("general.architecture")
        .ok()
        .and_then(|arch| model.meta_val_str(&format!("{arch}.pooling_type")).ok())
        .is_some_and(|pooling| pooling == RANK_POOLING)
}

impl EmbeddingModel {
    /// One relevance score per document against `query`, in the documents' order: the
    /// cross-encoder's raw output (a logit: higher is more relevant; llama-server reports
    /// the same number). Each query–document pair must fit the model's window whole
    /// (`documents[i]` refused otherwise, never truncated); a model that is not a
    /// cross-encoder is refused.
    ///
    /// ```no_run
    /// # async fn demo() -> sp_core::Result<()> {
    /// let reranker = sp_llm::EmbeddingModel::load(sp_llm::EngineConfig::new("bge-reranker-v2-m3.gguf"))?;
    /// assert!(reranker.is_cross_encoder());
    /// let documents = vec!["The cat sat on the mat.".to_owned(), "Revenue grew.".to_owned()];
    /// let scores = reranker.score_pairs("feline resting on a rug", &documents).await?;
    /// assert!(scores[0] > scores[1]);
    /// # Ok(()) }
    /// ```
    pub async fn score_pairs(&self, query: &str, documents: &[String]) -> Result<Vec<f32>> {
        if !self.cross_encoder {
            return Err(Error::invalid_input(
                "model",
                format!(
                    "`{}` is not a cross-encoder (its GGUF declares no rank pooling)",
                    self.id
                ),
            ));
        }
        if query.is_empty() {
            return Err(Error::invalid_input("query", "must not be empty"));
        }
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        let pairs = documents
            .iter()
            .enumerate()
            .map(|(index, document)| self.pair_tokens(index, query, document))
            .collect::<Result<Vec<_>>>()?;
        self.submit(pairs)
            .await?
            .into_iter()
            .map(|output| {
                output
                    .first()
                    .copied()
                    .ok_or_else(|| Error::Inference("the cross-encoder gave no score".into()))
            })
            .collect()
    }

    /// The tokens of `query` and `document` as one sequence, within the window.
    fn pair_tokens(&self, index: usize, query: &str, document: &str) -> Result<Vec<LlamaToken>> {
        let vocab = self.model.vocab();
        let tokens = match self.model.meta_val_str("tokenizer.chat_template.rerank") {
            Ok(template) => {
                let prompt = template
                    .replace("{query}", query)
                    .replace("{document}", document);
                vocab.tokenize(prompt.as_bytes(), false, true)
            }
            Err(_) => {
                let eos = match vocab.eos() {
                    token if token.0 >= 0 => token,
                    _ => vocab.sep(),
                };
                let mut tokens = Vec::new();
                if vocab.should_add_bos() {
                    tokens.push(vocab.bos());
                }
                tokens.extend(vocab.tokenize(query.as_bytes(), false, false));
                if vocab.should_add_eos() {
                    tokens.push(eos);
                }
                if vocab.should_add_sep() {
                    tokens.push(vocab.sep());
                }
                tokens.extend(vocab.tokenize(document.as_bytes(), false, false));
                if vocab.should_add_eos() {
                    tokens.push(eos);
                }
                tokens
            }
        };
        if tokens.len() > self.window as usize {
            return Err(Error::invalid_input(
                format!("documents[{index}]"),
                format!(
                    "is {} tokens with the query; the model's window is {} (shorten it)",
                    tokens.len(),
                    self.window
                ),
            ));
        }
        Ok(tokens)
    }
}
