//! The native part of the `story_portal` Python package: the in-process engine of the Rust
//! SDK — models, the knowledge store, contexts, the service registry, the event log, the
//! reference server — with blocking calls that release the GIL, asyncio
//! variants (`a…`) that run on a shared tokio runtime, and errors as exceptions carrying the
//! stable code. `python/story_portal/__init__.pyi` documents the Python API.

mod agents;
mod bench;
mod contexts;
mod convert;
mod errors;
mod events;
mod facts;
mod knowledge;
mod model;
mod models;
mod platform;
mod registry;
mod respond;
mod server;
mod stores;
mod stream;
mod workflows;

use pyo3::prelude::*;

/// The registry of stable error codes as `(code, http_status, meaning)` tuples.
#[pyfunction]
fn error_codes() -> Vec<(&'static str, u16, &'static str)> {
    sp_core::ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.http_status(), c.meaning()))
        .collect()
}

/// The native part of `story_portal`.
#[pymodule]
fn _story_portal(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", sp_core::VERSION)?;
    module.add_function(wrap_pyfunction!(error_codes, module)?)?;
    errors::register(module)?;
    module.add_class::<model::Model>()?;
    module.add_class::<model::PyCompletion>()?;
    module.add_class::<stream::TokenStream>()?;
    module.add_class::<stream::AsyncTokenStream>()?;
    module.add_class::<knowledge::KnowledgeStore>()?;
    module.add_class::<contexts::Contexts>()?;
    module.add_class::<registry::Registry>()?;
    module.add_class::<events::Events>()?;
    module.add_class::<server::Server>()?;
    module.add_class::<workflows::Workflows>()?;
    module.add_class::<agents::Agents>()?;
    module.add_class::<agents::RunEvents>()?;
    module.add_class::<platform::Platform>()?;
    module.add_class::<models::Models>()?;
    module.add_function(wrap_pyfunction!(server::serve, module)?)?;
    module.add_class::<knowledge::Hit>()?;
    module.add_class::<knowledge::Ingested>()?;
    module.add_function(wrap_pyfunction!(bench::_rust_count_tokens, module)?)?;
    module.add_function(wrap_pyfunction!(bench::_rust_search, module)?)?;
    module.add_function(wrap_pyfunction!(bench::_rust_generation, module)?)?;
    Ok(())
}
