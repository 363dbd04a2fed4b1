//! Streamed generation as a Python iterator and an async iterator of text deltas.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt as _;
use pyo3::exceptions::{PyStopAsyncIteration, PyStopIteration};
use pyo3::prelude::*;
use sp_core::chat::StreamEvent;
use sp_llm::CompletionStream;

use crate::convert::runtime;
use crate::errors::to_py;
use crate::model::finish_reason;

/// Where a stream is: generating, or done with its finish reason and usage.
#[derive(Default)]
struct Progress {
    finish_reason: Option<String>,
    prompt_tokens: u32,
    completion_tokens: u32,
    cached_tokens: u32,
}

/// The next delta, or `None` once done (recording how it ended).
async fn next_delta(
    stream: &mut Option<CompletionStream>,
    progress: &Mutex<Progress>,
) -> sp_core::Result<Option<String>> {
    let Some(live) = stream.as_mut() else {
        return Ok(None);
    };
    let mut next = live.next().await;
    // Log-probabilities and tool calls are not asked for by a text stream.
    while let Some(Ok(StreamEvent::Logprobs { .. } | StreamEvent::ToolCalls { .. })) = next {
        next = live.next().await;
    }
    match next {
        Some(Ok(StreamEvent::Delta { text })) => Ok(Some(text)),
        Some(Ok(StreamEvent::Logprobs { .. } | StreamEvent::ToolCalls { .. })) => Ok(None),
        Some(Ok(StreamEvent::Done {
            finish_reason: reason,
            usage,
        })) => {
            *stream = None;
            if let Ok(mut progress) = progress.lock() {
                progress.finish_reason = Some(finish_reason(reason));
                progress.prompt_tokens = usage.prompt_tokens;
                progress.completion_tokens = usage.completion_tokens;
                progress.cached_tokens = usage.cached_tokens;
            }
            Ok(None)
        }
        Some(Err(err)) => {
            *stream = None;
            Err(err)
        }
        None => {
            *stream = None;
            Ok(None)
        }
    }
}

impl Progress {
    fn finish_reason(progress: &Mutex<Progress>) -> Option<String> {
        progress.lock().ok().and_then(|p| p.finish_reason.clone())
    }

    fn usage(progress: &Mutex<Progress>) -> Option<HashMap<&'static str, u32>> {
        let progress = progress.lock().ok()?;
        progress.finish_reason.as_ref()?;
        Some(HashMap::from([
            ("prompt_tokens", progress.prompt_tokens),
            ("completion_tokens", progress.completion_tokens),
            ("cached_tokens", progress.cached_tokens),
        ]))
    }
}

/// Text deltas of a generation, as they come.
#[pyclass(module = "story_portal", frozen)]
pub struct TokenStream {
    stream: Mutex<Option<CompletionStream>>,
    progress: Mutex<Progress>,
}

impl TokenStream {
    pub fn new(stream: CompletionStream) -> Self {
        TokenStream {
            stream: Mutex::new(Some(stream)),
            progress: Mutex::new(Progress::default()),
        }
    }
}

#[pymethods]
impl TokenStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// `"stop"`, `"length"` or `"cancelled"` once the stream is exhausted; else `None`.
    #[getter]
    fn finish_reason(&self) -> Option<String> {
        Progress::finish_reason(&self.progress)
    }

    /// `{"prompt_tokens", "completion_tokens", "cached_tokens"}` once exhausted; else `None`.
    #[getter]
    fn usage(&self) -> Option<HashMap<&'static str, u32>> {
        Progress::usage(&self.progress)
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<String> {
        let next = py.detach(|| {
            let mut stream = self
                .stream
                .lock()
                .map_err(|_| sp_core::Error::internal("stream lock poisoned"))?;
            runtime().block_on(next_delta(&mut stream, &self.progress))
        });
        match next.map_err(to_py)? {
            Some(text) => Ok(text),
            None => Err(PyStopIteration::new_err(())),
        }
    }

    /// Stops the generation now and frees its slot.
    fn close(&self) {
        if let Ok(mut stream) = self.stream.lock() {
            stream.take();
        }
    }
}

/// Text deltas of a generation, for `async for`.
#[pyclass(module = "story_portal", frozen)]
pub struct AsyncTokenStream {
    stream: Arc<tokio::sync::Mutex<Option<CompletionStream>>>,
    progress: Arc<Mutex<Progress>>,
}

impl AsyncTokenStream {
    pub fn new(stream: CompletionStream) -> Self {
        AsyncTokenStream {
            stream: Arc::new(tokio::sync::Mutex::new(Some(stream))),
            progress: Arc::new(Mutex::new(Progress::default())),
        }
    }
}

#[pymethods]
impl AsyncTokenStream {
    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// `"stop"`, `"length"` or `"cancelled"` once the stream is exhausted; else `None`.
    #[getter]
    fn finish_reason(&self) -> Option<String> {
        Progress::finish_reason(&self.progress)
    }

    /// `{"prompt_tokens", "completion_tokens", "cached_tokens"}` once exhausted; else `None`.
    #[getter]
    fn usage(&self) -> Option<HashMap<&'static str, u32>> {
        Progress::usage(&self.progress)
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (stream, progress) = (self.stream.clone(), self.progress.clone());
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let mut stream = stream.lock().await;
            match next_delta(&mut stream, &progress).await.map_err(to_py)? {
                Some(text) => Ok(text),
                None => Err(PyStopAsyncIteration::new_err(())),
            }
        })
    }

    /// Stops the generation now and frees its slot.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            stream.lock().await.take();
            Ok(())
        })
    }
}
