//! The public handle: load a model, then chat, complete, stream and tokenize from any thread
//! or task. Generation runs on a dedicated worker thread (see the scheduler).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use sp_core::chat::{ChatMessage, Completion, Sampling};
use sp_core::{Error, Result};
use tokio::sync::mpsc::unbounded_channel;

use crate::config::EngineConfig;
use crate::constraint::{Compiler, Constraint};
use crate::loader::{ModelInfo, load};
use crate::sampler::TokenPicker;
use crate::scheduler::{Delivery, Job, Scheduler};
use crate::text::TextDecoder;
use crate::threadpool::PooledContext;

pub use crate::completion::CompletionStream;
pub(crate) use crate::completion::{collect, submit_n};

/// A loaded model with its generation worker. Cheap to clone; the worker stops when the last
/// clone is dropped and the running requests are done.
///
/// ```no_run
/// # async fn demo() -> sp_core::Result<()> {
/// use sp_core::chat::{ChatMessage, Sampling};
///
/// let engine = sp_llm::Engine::load(sp_llm::EngineConfig::new("SmolLM2-135M-Instruct.Q4_1.gguf"))?;
/// let answer = engine
///     .chat(&[ChatMessage::user("What is the capital of France?")], &Sampling::greedy(32))
///     .await?;
/// println!("{} ({:?})", answer.text, answer.usage);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    model: Arc<LlamaModel>,
    info: ModelInfo,
    config: EngineConfig,
    jobs: SyncSender<Job>,
    alive: Arc<AtomicBool>,
    counters: Arc<crate::stats::Counters>,
    /// What the chat template adds per message and per prompt, measured on first use.
    overheads: std::sync::OnceLock<crate::traits::TemplateOverheads>,
    /// How chats are rendered.
    template: crate::chat::TemplateState,
    /// The texts of special tokens, to keep message text plain (built on the first chat).
    special_texts: std::sync::OnceLock<crate::prompt_tokens::SpecialTexts>,
    /// Constraint compiler for this vocabulary, built on first use (walks the vocabulary).
    compiler: std::sync::OnceLock<std::result::Result<Arc<Compiler>, String>>,
    /// The KV states on disk, shared with the worker (to delete an owner's).
    disk: Option<crate::scheduler::DiskKv>,
    /// Owners whose state the worker drops from RAM and its idle slots.
    forgets: crate::scheduler::Forgets,
}

/// Marks the worker dead when its thread ends, however it ends (panics included).
struct AliveGuard(Arc<AtomicBool>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("model", &self.inner.info.id)
            .field("slots", &self.inner.config.slots)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads the model and starts the worker. Blocking (reads the weights): call it from
    /// `spawn_blocking` inside async code.
    pub fn load(config: EngineConfig) -> Result<Self> {
        config.validate()?;
        let (model, info) = load(&config.model_path, config.gpu_layers)?;
        let model = Arc::new(model);
        let (jobs, receiver) = std::sync::mpsc::sync_channel(config.queue_capacity);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let worker_model = Arc::clone(&model);
        let worker_config = config.clone();
        let alive = Arc::new(AtomicBool::new(true));
        let guard = AliveGuard(Arc::clone(&alive));
        let counters: Arc<crate::stats::Counters> = Arc::default();
        let worker_counters = Arc::clone(&counters);
        let disk = match &config.kv_state_dir {
            Some(dir) if config.kv_state_mib > 0 => Some(
                crate::scheduler::DiskKv::open(
                    dir,
                    &config.model_path,
                    u64::from(config.kv_state_mib) << 20,
                    Arc::clone(&counters),
                )
                .map_err(|err| Error::Config {
                    key: "model.kv_state_dir".into(),
                    reason: format!("{}: {err}", dir.display()),
                })?,
            ),
            _ => None,
        };
        let own_disk = disk.clone();
        let forgets = crate::scheduler::Forgets::default();
        let worker_forgets = forgets.clone();
        std::thread::Builder::new()
            .name(format!("sp-llm-{}", info.id))
            .spawn(move || {
                let _guard = guard;
                let ctx = match new_generation_context(&worker_model, &worker_config) {
                    Ok(ctx) => ctx,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                Scheduler::new(
                    &worker_model,
                    ctx,
                    worker_config.slots,
                    worker_config.batch_size,
                    worker_config.prefix_cache_bytes(),
                )
                .with_disk(disk, worker_counters)
                .with_forgets(worker_forgets)
                .run(receiver);
            })
            .map_err(|err| Error::internal(format!("cannot start the inference thread: {err}")))?;
        ready_rx
            .recv()
            .map_err(|_| Error::internal("the inference thread died while starting"))??;
        let template =
            crate::chat::TemplateState::new(&model, &info, config.chat_template.as_deref());
        Ok(Engine {
            inner: Arc::new(Inner {
                model,
                info,
                config,
                jobs,
                alive,
                overheads: std::sync::OnceLock::new(),
                counters,
                template,
                compiler: std::sync::OnceLock::new(),
                special_texts: std::sync::OnceLock::new(),
                disk: own_disk,
                forgets,
            }),
        })
    }

    /// Forgets the cached state of `owner` (a context) in `scope` (its tenant): its KV state
    /// files now (and a save of theirs still on its way when it lands; how many files is
    /// returned), its RAM prefixes and idle slots before the next request is admitted. A
    /// request of the owner still running keeps its slot until it ends.
    pub fn forget_cached(&self, scope: &str, owner: &str) -> usize {
        self.inner.forgets.push(scope, owner);
        self.inner
            .disk
            .as_ref()
            .map_or(0, |disk| disk.forget(scope, owner))
    }

    /// False once the worker thread has ended (it only ends on a bug or when every handle is
    /// gone).
    pub fn worker_alive(&self) -> bool {
        self.inner.alive.load(Ordering::SeqCst)
    }

    /// Queue, slots and token counters, for metrics.
    pub fn stats(&self) -> crate::stats::EngineStats {
        self.inner.counters.snapshot()
    }

    /// What the model says about itself.
    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    /// The model file's name without `.gguf`: what spans and logs call this model.
    pub fn model_name(&self) -> String {
        self.inner
            .config
            .model_path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The settings the engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub(crate) fn model(&self) -> &Arc<LlamaModel> {
        &self.inner.model
    }

    pub(crate) fn template(&self) -> &crate::chat::TemplateState {
        &self.inner.template
    }

    pub(crate) fn special_texts(&self) -> &crate::prompt_tokens::SpecialTexts {
        self.inner
            .special_texts
            .get_or_init(|| crate::prompt_tokens::SpecialTexts::of(&self.inner.model))
    }

    /// The constraint compiler of this model's vocabulary.
    pub(crate) fn compiler(&self) -> Result<Arc<Compiler>> {
        self.inner
            .compiler
            .get_or_init(|| {
                Compiler::new(Arc::clone(&self.inner.model))
                    .map(Arc::new)
                    .map_err(|err| err.to_string())
            })
            .clone()
            .map_err(Error::Inference)
    }

    pub(crate) fn overheads(&self) -> &crate::traits::TemplateOverheads {
        self.inner
            .overheads
            .get_or_init(|| crate::traits::TemplateOverheads::measure(self))
    }

    /// Renders `messages` with the model's own chat template, ending with the assistant's turn.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String> {
        self.render_chat_with(messages, true)
    }

    /// Renders `messages`; `open_reply` appends the header of the assistant's turn.
    pub(crate) fn render_chat_with(
        &self,
        messages: &[ChatMessage],
        open_reply: bool,
    ) -> Result<String> {
        if let Some(jinja) = self.inner.template.jinja() {
            return jinja
                .render(messages, &[], open_reply)
                .map(|p| self.inner.template.strip_bos(p));
        }
        self.render_builtin(messages, open_reply)
    }

    /// llama.cpp's built-in template matcher: the fallback for templates Jinja cannot render.
    pub(crate) fn render_builtin(
        &self,
        messages: &[ChatMessage],
        open_reply: bool,
    ) -> Result<String> {
        let template = self.inner.model.chat_template(None).map_err(|_| {
            Error::invalid_input(
                "messages",
                format!(
                    "model {} has no chat template; use a completion",
                    self.inner.info.id
                ),
            )
        })?;
        let messages = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_owned(), m.content.clone()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| Error::invalid_input("messages", "content must not contain NUL bytes"))?;
        self.inner
            .model
            .apply_chat_template(&template, &messages, open_reply)
            .map_err(|err| Error::invalid_input("messages", format!("chat template failed: {err}")))
    }

    /// Tokens of a prompt as the model will see it (special tokens parsed, BOS per the model).
    pub fn tokenize_prompt(&self, prompt: &str) -> Vec<LlamaToken> {
        self.inner
            .model
            .vocab()
            .tokenize(prompt.as_bytes(), true, true)
    }

    /// Generates a continuation of `prompt`, streamed.
    pub fn complete_stream(&self, prompt: &str, sampling: &Sampling) -> Result<CompletionStream> {
        self.submit(prompt, sampling, Delivery::PerToken, None)
    }

    /// Queues a generation; its events arrive per `delivery`; `constraint` (if any) masks
    /// every token.
    pub(crate) fn submit(
        &self,
        prompt: &str,
        sampling: &Sampling,
        delivery: Delivery,
        constraint: Option<Constraint>,
    ) -> Result<CompletionStream> {
        self.submit_told(prompt, sampling, delivery, constraint, None)
    }

    /// [`submit`](Self::submit); `prefilled` is told when the prompt is in the cache.
    pub(crate) fn submit_told(
        &self,
        prompt: &str,
        sampling: &Sampling,
        delivery: Delivery,
        constraint: Option<Constraint>,
        prefilled: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<CompletionStream> {
        if prompt.is_empty() {
            return Err(Error::invalid_input("prompt", "must not be empty"));
        }
        let tokens = self.tokenize_prompt(prompt);
        self.submit_tokens(tokens, sampling, delivery, constraint, prefilled)
    }

    /// Queues a generation of an already tokenized prompt.
    pub(crate) fn submit_tokens(
        &self,
        tokens: Vec<LlamaToken>,
        sampling: &Sampling,
        delivery: Delivery,
        constraint: Option<Constraint>,
        prefilled: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<CompletionStream> {
        sampling.validate()?;
        let n_vocab = u32::try_from(self.inner.model.n_vocab()).unwrap_or(0);
        // The top-k buffer is sized by k: an unchecked k of 2^32 would ask for 32 GiB and
        // abort the process (security review H8).
        if sampling.top_k > n_vocab {
            return Err(Error::invalid_input(
                "top_k",
                format!(
                    "must be at most the vocabulary size ({n_vocab}), got {}",
                    sampling.top_k
                ),
            ));
        }
        if let Some((token, _)) = sampling.logit_bias.iter().find(|(t, _)| *t >= n_vocab) {
            return Err(Error::invalid_input(
                "logit_bias",
                format!("token {token} is not in the vocabulary (0..{n_vocab})"),
            ));
        }
        if tokens.is_empty() {
            return Err(Error::invalid_input("prompt", "must not be empty"));
        }
        let window = self.inner.config.context_per_slot as usize;
        let max_tokens = if sampling.max_tokens == Sampling::UNTIL_WINDOW {
            window.saturating_sub(tokens.len())
        } else {
            sampling.max_tokens as usize
        };
        if max_tokens == 0 || tokens.len() + max_tokens > window {
            return Err(Error::ContextLengthExceeded {
                prompt_tokens: tokens.len(),
                max_tokens: max_tokens.max(1),
                context_size: window,
            });
        }
        let span = tracing::info_span!(
            "model.call",
            kind = "generate",
            model = %self.model_name(),
            prompt_tokens = tokens.len(),
            max_tokens,
            completion_tokens = tracing::field::Empty,
            cached_tokens = tracing::field::Empty,
            error_code = tracing::field::Empty,
        );
        let (events, receiver) = unbounded_channel();
        let picker = TokenPicker::new(sampling, self.inner.model.n_vocab(), &tokens);
        let shaping = crate::shaping::Shaping::new(sampling, constraint);
        // Guesses are checked against the greedy pick, so only a greedy, unshaped request
        // can take them without changing its output.
        let speculate = self.inner.config.speculation
            && matches!(picker, TokenPicker::Greedy)
            && shaping.is_none();
        let job = Job {
            picker,
            shaping,
            speculate,
            decoder: TextDecoder::new(sampling.stop.clone()),
            max_tokens: u32::try_from(max_tokens).unwrap_or(u32::MAX),
            ignore_eos: sampling.ignore_eos,
            delivery,
            prompt: tokens,
            scope: sampling.cache_scope.as_deref().unwrap_or("").into(),
            owner: sampling.cache_owner.as_deref().map(Into::into),
            events,
            ticket: crate::stats::Ticket::queued(&self.inner.counters),
            prefilled,
        };
        match self.inner.jobs.try_send(job) {
            Ok(()) => Ok(CompletionStream { receiver, span }),
            Err(TrySendError::Full(_)) => Err(Error::Overloaded {
                waiting: self.inner.config.queue_capacity,
            }),
            Err(TrySendError::Disconnected(_)) => {
                Err(Error::Inference("the inference worker has stopped".into()))
            }
        }
    }

    /// Generates a continuation of `prompt`, whole.
    pub async fn complete(&self, prompt: &str, sampling: &Sampling) -> Result<Completion> {
        collect(self.submit(prompt, sampling, Delivery::Whole, None)?).await
    }

    /// `n` continuations of `prompt`; like [`chat_n`](Self::chat_n), the prompt is computed
    /// once and continuation `i` uses `seed + i`.
    pub async fn complete_n(
        &self,
        prompt: &str,
        sampling: &Sampling,
        n: usize,
    ) -> Result<Vec<Completion>> {
        let pending = submit_n(n, |i, told| {
            self.submit_told(prompt, &sampling.for_choice(i), Delivery::Whole, None, told)
        })
        .await?;
        let mut out = Vec::with_capacity(n);
        for stream in pending {
            out.push(collect(stream).await?);
        }
        Ok(out)
    }

    /// The next assistant turn, streamed.
    pub fn chat_stream(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
    ) -> Result<CompletionStream> {
        if messages.is_empty() {
            return Err(Error::invalid_input("messages", "must not be empty"));
        }
        let prompt = self.chat_prompt_tokens(&self.render_chat(messages)?, messages)?;
        self.submit_tokens(prompt, sampling, Delivery::PerToken, None, None)
    }

    /// The next assistant turn, whole.
    pub async fn chat(&self, messages: &[ChatMessage], sampling: &Sampling) -> Result<Completion> {
        self.chat_with(messages, sampling, &sp_core::chat::ChatOptions::default())
            .await
    }
}

fn new_generation_context<'m>(
    model: &'m LlamaModel,
    config: &EngineConfig,
) -> Result<PooledContext<'m>> {
    let threads = config.effective_threads();
    let threads_batch = config.threads_batch.unwrap_or(threads);
    let params = LlamaContextParams::default()
        .with_n_ctx(std::num::NonZeroU32::new(config.total_context()))
        .with_n_batch(config.batch_size)
        .with_n_ubatch(config.batch_size)
        .with_n_seq_max(config.slots)
        .with_n_threads(i32::try_from(threads).unwrap_or(1))
        .with_n_threads_batch(i32::try_from(threads_batch).unwrap_or(1));
    let _guard = crate::backend::CONTEXT_CREATION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ctx = model
        .new_context(crate::backend::backend()?, params)
        .map_err(|err| Error::Inference(format!("cannot create a context: {err}")))?;
    PooledContext::new(ctx, threads.max(threads_batch))
}
