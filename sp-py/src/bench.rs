//! The Rust side of the bindings benchmark (`sp-py/bench/overhead.py`): the same calls the
//! Python side makes, timed in a Rust loop in this very library, so the difference is the
//! bindings' own cost. Not part of the public API (underscored).

use std::time::Instant;

use pyo3::prelude::*;
use sp_core::Tokenizer;
use sp_core::chat::{ChatMessage, Sampling};
use sp_core::knowledge::SearchQuery;

use crate::convert::block;
use crate::errors::to_py;
use crate::knowledge::KnowledgeStore;
use crate::model::Model;

/// Seconds per `count_tokens(text)` call over `calls` calls, made from Rust.
#[pyfunction]
pub fn _rust_count_tokens(model: PyRef<'_, Model>, text: &str, calls: u32) -> PyResult<f64> {
    let started = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(model.engine.count_tokens(text).map_err(to_py)?);
    }
    Ok(started.elapsed().as_secs_f64() / f64::from(calls.max(1)))
}

/// Seconds per `search(query, k)` call (cached after the first) over `calls`, made from Rust.
#[pyfunction]
pub fn _rust_search(
    py: Python<'_>,
    store: PyRef<'_, KnowledgeStore>,
    query: String,
    k: usize,
    calls: u32,
) -> PyResult<f64> {
    let base = store.base.clone();
    block(py, async move {
        let query = SearchQuery {
            k,
            ..SearchQuery::new(query)
        };
        base.search(&query).await?;
        let started = Instant::now();
        for _ in 0..calls {
            std::hint::black_box(base.search(&query).await?);
        }
        Ok(started.elapsed().as_secs_f64() / f64::from(calls.max(1)))
    })
}

/// Generated tokens per second of one greedy chat of exactly `tokens` tokens, from Rust.
#[pyfunction]
pub fn _rust_generation(
    py: Python<'_>,
    model: PyRef<'_, Model>,
    prompt: String,
    tokens: u32,
) -> PyResult<f64> {
    let engine = model.engine.clone();
    block(py, async move {
        let sampling = Sampling {
            ignore_eos: true,
            ..Sampling::greedy(tokens)
        };
        let started = Instant::now();
        let done = engine.chat(&[ChatMessage::user(prompt)], &sampling).await?;
        Ok(f64::from(done.usage.completion_tokens) / started.elapsed().as_secs_f64())
    })
}
