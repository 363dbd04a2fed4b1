//! Embeddings: a second context in embedding mode, on its own worker thread, packing many
//! texts (of one request or of several) into each decode.

mod plan;
mod rank;
mod worker;

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

use async_trait::async_trait;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use sp_core::{Embedder, Error, Result, Tokenizer};
use tokio::sync::oneshot;

use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::threadpool::PooledContext;
use plan::BatchLimits;
use worker::Counters;
use worker::EmbedJob;
pub use worker::abandoned_jobs;

/// Mean-pooled, L2-normalised embeddings from the engine's model.
///
/// Texts are packed into shared decodes — up to the embedding window's tokens and
/// [`EngineConfig::embedding_sequences`] texts per decode, shortest first — and concurrent
/// calls share them: a burst of one-sentence requests costs a few decodes, not one each.
///
/// ```no_run
/// # async fn demo(engine: sp_llm::Engine) -> sp_core::Result<()> {
/// use sp_core::Embedder;
///
/// let embedder = sp_llm::EmbeddingModel::new(&engine)?;
/// let vectors = embedder.embed(&["a cat".into(), "a kitten".into()]).await?;
/// assert_eq!(vectors[0].len(), embedder.dimensions());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct EmbeddingModel {
    jobs: SyncSender<EmbedJob>,
    /// Its weights: shared with the chat engine, or its own (a dedicated embedding model).
    model: Arc<LlamaModel>,
    id: Arc<str>,
    dimensions: usize,
    window: u32,
    queue_capacity: usize,
    counters: Arc<Counters>,
    /// A cross-encoder (rank pooling): it scores query–document pairs
    /// ([`score_pairs`](Self::score_pairs)) and makes no embeddings.
    cross_encoder: bool,
}

/// What an [`EmbeddingModel`] has decoded so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedBatchStats {
    /// Decodes run.
    pub decodes: u64,
    /// Texts embedded by them: over `decodes`, how many texts shared a decode on average.
    pub texts: u64,
}

impl std::fmt::Debug for EmbeddingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingModel")
            .field("id", &self.id)
            .field("dimensions", &self.dimensions)
            .finish_non_exhaustive()
    }
}

impl EmbeddingModel {
    /// Starts an embedding worker sharing `engine`'s weights (no second copy in memory).
    pub fn new(engine: &Engine) -> Result<Self> {
        Self::start(
            Arc::clone(engine.model()),
            &engine.info().id,
            engine.info().trained_context,
            engine.config(),
        )
    }

    /// Loads a dedicated embedding model (all-MiniLM-L6-v2, nomic-embed-text…) from
    /// `config.model_path`: the weights and one embedding context, no chat slots. Blocking
    /// (reads the weights): call it from `spawn_blocking` inside async code.
    ///
    /// ```no_run
    /// # fn demo() -> sp_core::Result<()> {
    /// use sp_core::Embedder;
    ///
    /// let minilm = sp_llm::EmbeddingModel::load(sp_llm::EngineConfig::new("all-MiniLM-L6-v2.gguf"))?;
    /// assert_eq!(minilm.dimensions(), 384);
    /// assert_eq!(minilm.window(), 512); // what it was trained on
    /// # Ok(()) }
    /// ```
    pub fn load(config: EngineConfig) -> Result<Self> {
        config.validate()?;
        let (model, info) = crate::loader::load(&config.model_path, config.gpu_layers)?;
        Self::start(Arc::new(model), &info.id, info.trained_context, &config)
    }

    fn start(
        model: Arc<LlamaModel>,
        id: &str,
        trained_context: u32,
        config: &EngineConfig,
    ) -> Result<Self> {
        let dimensions = usize::try_from(model.n_embd()).unwrap_or(0);
        let cross_encoder = rank::declares_rank_pooling(&model);
        // A cross-encoder's output is a raw relevance score, not a vector to normalise.
        let output = if cross_encoder {
            worker::Output::Raw
        } else {
            worker::Output::Normalised
        };
        // A window past what the model was trained on gives garbage positions (and llama.cpp
        // warns): an encoder such as MiniLM is trained on 512.
        let window = match trained_context {
            0 => config.embedding_context,
            trained => config.embedding_context.min(trained),
        };
        let limits = BatchLimits {
            tokens: window as usize,
            sequences: config.embedding_sequences as usize,
        };
        let (jobs, receiver) = std::sync::mpsc::sync_channel(config.queue_capacity);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let worker_model = Arc::clone(&model);
        let counters = Arc::new(Counters::default());
        let worker_counters = Arc::clone(&counters);
        let thread_count = config.effective_threads();
        std::thread::Builder::new()
            .name(format!("sp-embed-{id}"))
            .spawn(move || {
                let model = worker_model;
                let threads = i32::try_from(thread_count).unwrap_or(1);
                let params = LlamaContextParams::default()
                    .with_embeddings(true)
                    .with_pooling_type(pooling_for(&model))
                    .with_n_ctx(std::num::NonZeroU32::new(window))
                    // Pooling needs a whole text in one micro-batch, and an encoder the
                    // whole batch: a decode never holds more than the window's tokens.
                    .with_n_batch(window)
                    .with_n_ubatch(window)
                    // Several texts per decode, each its own sequence; one KV cache of the
                    // window's size shared by them (a causal model used as an embedder
                    // needs one), not a window per sequence.
                    .with_n_seq_max(limits.sequences as u32)
                    .with_kv_unified(true)
                    .with_n_threads(threads)
                    .with_n_threads_batch(threads);
                let ctx = {
                    let _guard = crate::backend::CONTEXT_CREATION
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    match crate::backend::backend().and_then(|backend| {
                        let ctx = model.new_context(backend, params).map_err(|err| {
                            Error::Inference(format!("cannot create an embedding context: {err}"))
                        })?;
                        PooledContext::new(ctx, thread_count)
                    }) {
                        Ok(ctx) => ctx,
                        Err(err) => {
                            let _ = ready_tx.send(Err(err));
                            return;
                        }
                    }
                };
                let _ = ready_tx.send(Ok(()));
                worker::serve(ctx, limits, output, &receiver, &worker_counters);
            })
            .map_err(|err| Error::internal(format!("cannot start the embedding thread: {err}")))?;
        ready_rx
            .recv()
            .map_err(|_| Error::internal("the embedding thread died while starting"))??;
        Ok(EmbeddingModel {
            jobs,
            model,
            id: Arc::from(id),
            dimensions,
            window,
            queue_capacity: config.queue_capacity,
            counters,
            cross_encoder,
        })
    }

    /// The longest text it embeds, in tokens (special tokens included): the configured
    /// `embedding_context`, at most what the model was trained on.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// True for a cross-encoder (its GGUF declares rank pooling): it scores pairs with
    /// [`score_pairs`](Self::score_pairs) and refuses to embed.
    pub fn is_cross_encoder(&self) -> bool {
        self.cross_encoder
    }

    /// Decodes run and texts embedded so far (its clones share the worker, so the figures).
    ///
    /// ```no_run
    /// # async fn demo(embedder: sp_llm::EmbeddingModel) -> sp_core::Result<()> {
    /// use sp_core::Embedder;
    ///
    /// let texts: Vec<String> = (0..32).map(|i| format!("sentence {i}")).collect();
    /// embedder.embed(&texts).await?;
    /// let stats = embedder.batch_stats();
    /// assert!(stats.decodes < stats.texts); // short texts share decodes
    /// # Ok(()) }
    /// ```
    pub fn batch_stats(&self) -> EmbedBatchStats {
        use std::sync::atomic::Ordering::Relaxed;
        EmbedBatchStats {
            decodes: self.counters.decodes.load(Relaxed),
            texts: self.counters.texts.load(Relaxed),
        }
    }
}

impl EmbeddingModel {
    /// `text` as the model reads it (`[CLS] … [SEP]` for an encoder), refused when empty or
    /// longer than the window: a text is never truncated.
    fn tokens_within_window(&self, index: usize, text: &str) -> Result<Vec<LlamaToken>> {
        let tokens = self.model.vocab().tokenize(text.as_bytes(), true, false);
        // An encoder turns "" into `[CLS] [SEP]`: a vector of nothing, refused all the same.
        if text.is_empty() || tokens.is_empty() {
            return Err(Error::invalid_input(
                format!("texts[{index}]"),
                "must not be empty",
            ));
        }
        if tokens.len() > self.window as usize {
            return Err(Error::invalid_input(
                format!("texts[{index}]"),
                format!(
                    "is {} tokens; the embedding window is {} (split the text first)",
                    tokens.len(),
                    self.window
                ),
            ));
        }
        Ok(tokens)
    }
}

impl EmbeddingModel {
    /// Queues token sequences on the worker and waits for their outputs, in order: pooled
    /// vectors (normalised), or a cross-encoder's raw scores. A full queue is refused.
    async fn submit(&self, texts: Vec<Vec<LlamaToken>>) -> Result<Vec<Vec<f32>>> {
        let (reply, answer) = oneshot::channel();
        let job = EmbedJob { texts, reply };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(Error::Overloaded {
                    waiting: self.queue_capacity,
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::Inference("the embedding worker has stopped".into()));
            }
        }
        answer
            .await
            .map_err(|_| Error::Inference("the embedding worker stopped mid-request".into()))?
    }
}

/// The model's own pooling when its GGUF declares one (embedding models do), mean pooling
/// otherwise (chat models, which declare none).
fn pooling_for(model: &LlamaModel) -> LlamaPoolingType {
    let declared = model
        .meta_val_str("general.architecture")
        .ok()
        .and_then(|arch| model.meta_val_str(&format!("{arch}.pooling_type")).ok());
    match declared {
        Some(_) => LlamaPoolingType::Unspecified,
        None => LlamaPoolingType::Mean,
    }
}

/// Scales a vector to unit length (a zero vector stays zero).
pub(crate) fn normalize(v: &[f32]) -> Vec<f32> {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 {
        return v.to_vec();
    }
    v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}

#[async_trait]
impl Embedder for EmbeddingModel {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if self.cross_encoder {
            return Err(Error::invalid_input(
                "model",
                format!(
                    "`{}` is a cross-encoder (rank pooling): it scores query-document pairs \
                     (/v1/rerank), it makes no embeddings",
                    self.id
                ),
            ));
        }
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // The `model.call` span of the batch (a trace span with the `otel` feature).
        let span = tracing::info_span!(
            "model.call",
            kind = "embedding",
            model = %self.id,
            texts = texts.len(),
        );
        let texts = texts
            .iter()
            .enumerate()
            .map(|(index, text)| self.tokens_within_window(index, text))
            .collect::<Result<Vec<_>>>()?;
        tracing::Instrument::instrument(self.submit(texts), span).await
    }
}

/// Tokens as the embedding model counts them (plain text, no `[CLS]`/`[SEP]`): what sizes
/// the knowledge store's sections for it.
impl Tokenizer for EmbeddingModel {
    fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        Ok(crate::traits::plain_tokens(&self.model, text))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalize_gives_unit_length() {
        let v = super::normalize(&[3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(super::normalize(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
