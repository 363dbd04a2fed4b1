//! The `story_portal` Python module. This first layer exposes the version and the registry of
//! stable error codes; the engine's bindings arrive with the Python-bindings issue.

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
    Ok(())
}
