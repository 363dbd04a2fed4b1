//! Embeddings: a second context in embedding mode, on its own worker thread.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use async_trait::async_trait;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use sp_core::{Embedder, Error, Result, Tokenizer};
use tokio::sync::oneshot;

use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::threadpool::PooledContext;

struct EmbedJob {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>>>,
}

/// Mean-pooled, L2-normalised embeddings from the engine's model.
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
        // A window past what the model was trained on gives garbage positions (and llama.cpp
        // warns): an encoder such as MiniLM is trained on 512.
        let window = match trained_context {
            0 => config.embedding_context,
            trained => config.embedding_context.min(trained),
        };
        let (jobs, receiver) = std::sync::mpsc::sync_channel(config.queue_capacity);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let worker_model = Arc::clone(&model);
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
                    // Pooling needs a whole text in one micro-batch.
                    .with_n_batch(window)
                    .with_n_ubatch(window)
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
                serve(&model, ctx, window as usize, &receiver);
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
        })
    }

    /// The longest text it embeds, in tokens (special tokens included): the configured
    /// `embedding_context`, at most what the model was trained on.
    pub fn window(&self) -> u32 {
        self.window
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

fn serve(model: &LlamaModel, mut ctx: PooledContext<'_>, window: usize, jobs: &Receiver<EmbedJob>) {
    let mut batch = LlamaBatch::new(window, 1);
    while let Ok(job) = jobs.recv() {
        // A requester that gave up (a client gone, a timed-out request) is not worked for:
        // checked before each text, so abandoned jobs cannot starve the live ones (review
        // finding M6).
        let mut vectors = Vec::with_capacity(job.texts.len());
        let mut failed = None;
        for (i, text) in job.texts.iter().enumerate() {
            if job.reply.is_closed() {
                ABANDONED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            match embed_one(model, &mut ctx, &mut batch, window, i, text) {
                Ok(vector) => vectors.push(vector),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        let _ = job.reply.send(failed.map_or(Ok(vectors), Err));
    }
}

/// Embedding jobs stopped because their requester left (see [`abandoned_jobs`]).
static ABANDONED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many embedding jobs this process stopped because their requester had left.
pub fn abandoned_jobs() -> u64 {
    ABANDONED.load(std::sync::atomic::Ordering::Relaxed)
}

fn embed_one(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    window: usize,
    index: usize,
    text: &str,
) -> Result<Vec<f32>> {
    let tokens = model.vocab().tokenize(text.as_bytes(), true, false);
    if tokens.is_empty() {
        return Err(Error::invalid_input(
            format!("texts[{index}]"),
            "must not be empty",
        ));
    }
    if tokens.len() > window {
        return Err(Error::invalid_input(
            format!("texts[{index}]"),
            format!(
                "is {} tokens; the embedding window is {window} (split the text first)",
                tokens.len()
            ),
        ));
    }
    ctx.clear_kv_cache();
    batch.clear();
    batch
        .add_sequence(&tokens, 0, false)
        .map_err(|err| Error::Inference(format!("embedding batch: {err}")))?;
    ctx.decode(batch)
        .map_err(|err| Error::Inference(format!("embedding decode: {err}")))?;
    let pooled = ctx
        .embeddings_seq_ith(0)
        .map_err(|err| Error::Inference(format!("embedding output: {err}")))?;
    Ok(normalize(pooled))
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
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let job = EmbedJob {
            texts: texts.to_vec(),
            reply,
        };
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
