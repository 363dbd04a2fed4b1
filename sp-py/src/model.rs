//! `Model`: a GGUF model loaded in process — chat, completion, streaming, embeddings,
//! tokenization — and what its calls return.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use sp_core::chat::{ChatMessage, Completion, Sampling};
use sp_core::{Embedder, Tokenizer};
use sp_llm::{EmbeddingModel, Engine, EngineConfig};

use crate::convert::{block, serialized, to_json};
use crate::errors::{invalid, to_py};
use crate::stream::{AsyncTokenStream, TokenStream};

/// A finished generation.
#[pyclass(module = "story_portal", name = "Completion", frozen)]
pub struct PyCompletion {
    /// The generated text (a stop sequence excluded; empty when the reply is tool calls).
    #[pyo3(get)]
    text: String,
    /// `"stop"`, `"length"`, `"tool_calls"` or `"cancelled"`.
    #[pyo3(get)]
    finish_reason: String,
    /// Tokens in the prompt.
    #[pyo3(get)]
    prompt_tokens: u32,
    /// Tokens generated.
    #[pyo3(get)]
    completion_tokens: u32,
    /// Prompt tokens served from the prompt cache.
    #[pyo3(get)]
    cached_tokens: u32,
    calls: Vec<sp_core::chat::ToolCall>,
    token_logprobs: Option<Vec<sp_core::chat::TokenLogprob>>,
}

impl From<Completion> for PyCompletion {
    fn from(done: Completion) -> Self {
        PyCompletion {
            text: done.text,
            finish_reason: finish_reason(done.finish_reason),
            prompt_tokens: done.usage.prompt_tokens,
            completion_tokens: done.usage.completion_tokens,
            cached_tokens: done.usage.cached_tokens,
            calls: done.tool_calls,
            token_logprobs: done.logprobs,
        }
    }
}

#[pymethods]
impl PyCompletion {
    /// The calls the model made: `[{"id", "name", "arguments"}]`, `arguments` a JSON text
    /// that validates against the tool's parameters.
    #[getter]
    fn tool_calls<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialized(py, &self.calls)
    }

    /// Per generated token `{"token", "bytes", "logprob", "top_logprobs"}` when `logprobs`
    /// was asked for, else `None`.
    #[getter]
    fn logprobs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialized(py, &self.token_logprobs)
    }

    fn __repr__(&self) -> String {
        format!(
            "Completion(text={:?}, finish_reason={:?}, prompt_tokens={}, completion_tokens={})",
            self.text, self.finish_reason, self.prompt_tokens, self.completion_tokens
        )
    }
}

pub(crate) fn finish_reason(reason: sp_core::chat::FinishReason) -> String {
    serde_json::to_value(reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Sampling from keyword arguments (`temperature`, `top_k`, `top_p`, `min_p`,
/// `repeat_penalty`, `repeat_last_n`, `seed`, `max_tokens`, `stop`); an unknown or bad one is
/// `InvalidInputError`.
pub(crate) fn sampling(options: Option<&Bound<'_, PyDict>>) -> PyResult<Sampling> {
    let Some(options) = options else {
        return Ok(Sampling::default());
    };
    // `logit_bias={token_id: bias}` as in OpenAI's API: integer keys, which JSON lacks.
    let options = options.copy()?;
    let mut bias = None;
    if let Some(given) = options.get_item("logit_bias")? {
        options.del_item("logit_bias")?;
        let map: std::collections::HashMap<u32, f32> = given
            .extract()
            .map_err(|_| invalid("logit_bias", "must map token ids to numbers"))?;
        bias = Some(map.into_iter().collect::<Vec<_>>());
    }
    let json = to_json("sampling", options.as_any())?;
    let mut sampling: Sampling =
        serde_json::from_value(json).map_err(|e| invalid("sampling", e))?;
    if let Some(bias) = bias {
        sampling.logit_bias = bias;
    }
    sampling.validate().map_err(to_py)?;
    Ok(sampling)
}

pub(crate) fn messages(list: &Bound<'_, PyAny>) -> PyResult<Vec<ChatMessage>> {
    let json = to_json("messages", list)?;
    let messages: Vec<ChatMessage> =
        serde_json::from_value(json).map_err(|e| invalid("messages", e))?;
    if messages.is_empty() {
        return Err(invalid("messages", "must not be empty"));
    }
    Ok(messages)
}

/// Chat options from OpenAI-shaped Python values.
pub(crate) fn chat_options(
    tools: Option<&Bound<'_, PyAny>>,
    tool_choice: Option<&Bound<'_, PyAny>>,
    parallel_tool_calls: Option<bool>,
    response_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<sp_core::chat::ChatOptions> {
    let json =
        |name: &str, value: Option<&Bound<'_, PyAny>>| value.map(|v| to_json(name, v)).transpose();
    sp_core::chat::openai::options(
        json("tools", tools)?.as_ref(),
        json("tool_choice", tool_choice)?.as_ref(),
        parallel_tool_calls,
        json("response_format", response_format)?.as_ref(),
    )
    .map_err(to_py)
}

/// A GGUF model loaded in this process: its weights, a generation worker with continuous
/// batching over `slots` sequences, and (on first use) an embedding worker.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct Model {
    pub(crate) engine: Engine,
    embedder: OnceLock<Arc<EmbeddingModel>>,
    /// `respond`'s chains: in this process only (`Platform.respond` keeps them in a store).
    responses: OnceLock<sp_core::responses::Responses>,
    /// For a model taken from a `Models` catalogue: holds it loaded while this object lives.
    _lease: Option<sp_llm::ModelLease>,
}

impl Model {
    /// The chains `respond` keeps: contexts in memory, counted in the model's tokens.
    pub(crate) fn responses(&self) -> sp_core::responses::Responses {
        self.responses
            .get_or_init(|| {
                let store = Arc::new(sp_core::context::MemoryContextStore::default());
                let tokenizer: Arc<dyn Tokenizer> = Arc::new(self.engine.clone());
                let contexts = sp_core::context::Contexts::new(store, tokenizer);
                sp_core::responses::Responses::new(Arc::new(contexts))
            })
            .clone()
    }

    /// A chat model held from a catalogue by `lease`.
    pub(crate) fn leased(engine: Engine, lease: sp_llm::ModelLease) -> Self {
        Model {
            engine,
            embedder: OnceLock::new(),
            responses: OnceLock::new(),
            _lease: Some(lease),
        }
    }

    /// The embedding worker, started on first use.
    pub(crate) fn embedder(&self) -> PyResult<Arc<EmbeddingModel>> {
        if let Some(ready) = self.embedder.get() {
            return Ok(ready.clone());
        }
        let made = Arc::new(EmbeddingModel::new(&self.engine).map_err(to_py)?);
        Ok(self.embedder.get_or_init(|| made).clone())
    }
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (path, *, slots=None, context_per_slot=None, threads=None, gpu_layers=None, batch_size=None, queue_capacity=None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn new(
        py: Python<'_>,
        path: PathBuf,
        slots: Option<u32>,
        context_per_slot: Option<u32>,
        threads: Option<u32>,
        gpu_layers: Option<u32>,
        batch_size: Option<u32>,
        queue_capacity: Option<usize>,
    ) -> PyResult<Self> {
        let mut config = EngineConfig::new(path);
        if let Some(slots) = slots {
            config = config.with_slots(slots);
        }
        if let Some(tokens) = context_per_slot {
            config = config.with_context_per_slot(tokens);
        }
        if let Some(threads) = threads {
            config = config.with_threads(threads);
        }
        if let Some(layers) = gpu_layers {
            config.gpu_layers = layers;
        }
        if let Some(batch) = batch_size {
            config.batch_size = batch;
        }
        if let Some(capacity) = queue_capacity {
            config = config.with_queue_capacity(capacity);
        }
        let engine = py.detach(|| Engine::load(config)).map_err(to_py)?;
        Ok(Model {
            engine,
            embedder: OnceLock::new(),
            responses: OnceLock::new(),
            _lease: None,
        })
    }

    /// The model's metadata: id, architecture, name, trained_context, embedding_size,
    /// vocab_size, parameters, size_bytes, chat_template.
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialized(py, self.engine.info())
    }

    /// The next assistant turn of `messages` (`[{"role", "content"}, …]`), whole. `tools`,
    /// `tool_choice`, `parallel_tool_calls` and `response_format` take OpenAI's shapes and
    /// are enforced while decoding (see docs/inference.md).
    #[pyo3(signature = (messages, *, tools=None, tool_choice=None, parallel_tool_calls=None, response_format=None, **sampling))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn chat(
        &self,
        py: Python<'_>,
        messages: &Bound<'_, PyAny>,
        tools: Option<&Bound<'_, PyAny>>,
        tool_choice: Option<&Bound<'_, PyAny>>,
        parallel_tool_calls: Option<bool>,
        response_format: Option<&Bound<'_, PyAny>>,
        sampling: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyCompletion> {
        let (messages, sampling) = (self::messages(messages)?, self::sampling(sampling)?);
        let options = chat_options(tools, tool_choice, parallel_tool_calls, response_format)?;
        let engine = self.engine.clone();
        block(py, async move {
            engine.chat_with(&messages, &sampling, &options).await
        })
        .map(Into::into)
    }

    /// `chat` as an awaitable.
    #[pyo3(signature = (messages, *, tools=None, tool_choice=None, parallel_tool_calls=None, response_format=None, **sampling))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn achat<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
        tools: Option<&Bound<'py, PyAny>>,
        tool_choice: Option<&Bound<'py, PyAny>>,
        parallel_tool_calls: Option<bool>,
        response_format: Option<&Bound<'py, PyAny>>,
        sampling: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (messages, sampling) = (self::messages(messages)?, self::sampling(sampling)?);
        let options = chat_options(tools, tool_choice, parallel_tool_calls, response_format)?;
        let engine = self.engine.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let done = engine
                .chat_with(&messages, &sampling, &options)
                .await
                .map_err(to_py)?;
            Ok(PyCompletion::from(done))
        })
    }

    /// A continuation of `prompt` (no chat template), whole.
    #[pyo3(signature = (prompt, **sampling))]
    fn complete(
        &self,
        py: Python<'_>,
        prompt: String,
        sampling: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyCompletion> {
        let sampling = self::sampling(sampling)?;
        let engine = self.engine.clone();
        block(py, async move { engine.complete(&prompt, &sampling).await }).map(Into::into)
    }

    /// `complete` as an awaitable.
    #[pyo3(signature = (prompt, **sampling))]
    fn acomplete<'py>(
        &self,
        py: Python<'py>,
        prompt: String,
        sampling: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sampling = self::sampling(sampling)?;
        let engine = self.engine.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let done = engine.complete(&prompt, &sampling).await.map_err(to_py)?;
            Ok(PyCompletion::from(done))
        })
    }

    /// The next assistant turn as an iterator of text deltas (whole characters). Leaving the
    /// loop early (or `close()`) stops the generation and frees its slot.
    #[pyo3(signature = (messages, **sampling))]
    fn stream(
        &self,
        messages: &Bound<'_, PyAny>,
        sampling: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<TokenStream> {
        let (messages, sampling) = (self::messages(messages)?, self::sampling(sampling)?);
        let stream = self
            .engine
            .chat_stream(&messages, &sampling)
            .map_err(to_py)?;
        Ok(TokenStream::new(stream))
    }

    /// `stream` as an async iterator.
    #[pyo3(signature = (messages, **sampling))]
    fn astream(
        &self,
        messages: &Bound<'_, PyAny>,
        sampling: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<AsyncTokenStream> {
        let (messages, sampling) = (self::messages(messages)?, self::sampling(sampling)?);
        let stream = self
            .engine
            .chat_stream(&messages, &sampling)
            .map_err(to_py)?;
        Ok(AsyncTokenStream::new(stream))
    }

    /// One L2-normalised vector per text.
    fn embed(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<Vec<f32>>> {
        let embedder = self.embedder()?;
        block(py, async move { embedder.embed(&texts).await })
    }

    /// `embed` as an awaitable.
    fn aembed<'py>(&self, py: Python<'py>, texts: Vec<String>) -> PyResult<Bound<'py, PyAny>> {
        let embedder = self.embedder()?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            embedder.embed(&texts).await.map_err(to_py)
        })
    }

    /// The token ids of `text` (no special tokens added).
    fn tokenize(&self, text: &str) -> PyResult<Vec<u32>> {
        self.engine.tokenize(text).map_err(to_py)
    }

    /// How many tokens `text` is.
    fn count_tokens(&self, text: &str) -> PyResult<usize> {
        self.engine.count_tokens(text).map_err(to_py)
    }

    fn __repr__(&self) -> String {
        format!("Model({:?})", self.engine.info().id)
    }

    /// A response in OpenAI's Responses shape, as `Platform.respond` makes it, but with its
    /// chain kept in this process only (lost when the model is): `previous_response_id`
    /// continues a response this object made. Returns the response object.
    #[pyo3(signature = (input, *, previous_response_id=None, instructions=None, store=true, tools=None, tool_choice=None, response_format=None, **sampling))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn respond<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
        previous_response_id: Option<String>,
        instructions: Option<String>,
        store: bool,
        tools: Option<&Bound<'py, PyAny>>,
        tool_choice: Option<&Bound<'py, PyAny>>,
        response_format: Option<&Bound<'py, PyAny>>,
        sampling: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let chain = (input, previous_response_id, instructions, store);
        let shape = (tools, tool_choice, response_format, sampling);
        let respond = crate::respond::Respond::grouped(
            Some(self.engine.clone()),
            self.responses(),
            sp_core::knowledge::Namespace::default(),
            chain,
            shape,
        )?;
        crate::convert::block_json(py, respond.run())
    }

    /// `respond` as an awaitable.
    #[pyo3(signature = (input, *, previous_response_id=None, instructions=None, store=true, tools=None, tool_choice=None, response_format=None, **sampling))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn arespond<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
        previous_response_id: Option<String>,
        instructions: Option<String>,
        store: bool,
        tools: Option<&Bound<'py, PyAny>>,
        tool_choice: Option<&Bound<'py, PyAny>>,
        response_format: Option<&Bound<'py, PyAny>>,
        sampling: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let chain = (input, previous_response_id, instructions, store);
        let shape = (tools, tool_choice, response_format, sampling);
        let respond = crate::respond::Respond::grouped(
            Some(self.engine.clone()),
            self.responses(),
            sp_core::knowledge::Namespace::default(),
            chain,
            shape,
        )?;
        crate::convert::awaitable(py, respond.run())
    }
}
