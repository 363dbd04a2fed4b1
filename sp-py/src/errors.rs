//! Story Portal errors as Python exceptions: `story_portal.Error` and a subclass per kind of
//! failure, each carrying the stable code (`.code`, e.g. `"SP-KB-002"`) and HTTP status.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use sp_core::ErrorCode;

pyo3::create_exception!(
    story_portal,
    Error,
    PyException,
    "A Story Portal error; `.code` is its stable code (docs/errors.md), `.status` the HTTP status it maps to."
);
pyo3::create_exception!(
    story_portal,
    InvalidInputError,
    Error,
    "Bad input: a field's value, a malformed filter, a vector of the wrong dimension or with NaN."
);
pyo3::create_exception!(story_portal, NotFoundError, Error, "No such resource.");
pyo3::create_exception!(
    story_portal,
    ConflictError,
    Error,
    "The request conflicts with the resource's state."
);
pyo3::create_exception!(
    story_portal,
    TooLargeError,
    Error,
    "A document, message or event over its size limit."
);
pyo3::create_exception!(
    story_portal,
    ContextLengthExceededError,
    Error,
    "The prompt plus max_tokens do not fit the model's context window."
);
pyo3::create_exception!(
    story_portal,
    OverloadedError,
    Error,
    "The inference queue is full; retry shortly."
);
pyo3::create_exception!(
    story_portal,
    ModelLoadError,
    Error,
    "The model file is missing, unreadable or not a GGUF model."
);
pyo3::create_exception!(
    story_portal,
    UnavailableError,
    Error,
    "A backend (database, model, service) is unavailable; retry later."
);

/// The exception for `err`, with `.code` and `.status` set.
pub fn to_py(err: sp_core::Error) -> PyErr {
    let code = err.code();
    let message = err.to_string();
    let exception = match code {
        ErrorCode::ContextLengthExceeded => ContextLengthExceededError::new_err(message),
        ErrorCode::Overloaded => OverloadedError::new_err(message),
        ErrorCode::ModelLoad => ModelLoadError::new_err(message),
        ErrorCode::Conflict => ConflictError::new_err(message),
        ErrorCode::DocumentTooLarge
        | ErrorCode::MessageTooLarge
        | ErrorCode::EventTooLarge
        | ErrorCode::PayloadTooLarge
        | ErrorCode::MemoryBlockTooLarge => TooLargeError::new_err(message),
        _ if code.http_status() == 404 => NotFoundError::new_err(message),
        _ if code.http_status() == 503 => UnavailableError::new_err(message),
        _ if code.http_status() == 400 => InvalidInputError::new_err(message),
        _ => Error::new_err(message),
    };
    Python::attach(|py| {
        let value = exception.value(py);
        // Setting attributes on a fresh exception instance cannot fail but for memory.
        let _ = value.setattr("code", code.as_str());
        let _ = value.setattr("status", code.http_status());
    });
    exception
}

/// `InvalidInputError` (`SP-VAL-001`) about `field`.
pub fn invalid(field: &str, reason: impl std::fmt::Display) -> PyErr {
    to_py(sp_core::Error::invalid_input(field, reason.to_string()))
}

/// Adds the exception types to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("Error", py.get_type::<Error>())?;
    module.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    module.add("NotFoundError", py.get_type::<NotFoundError>())?;
    module.add("ConflictError", py.get_type::<ConflictError>())?;
    module.add("TooLargeError", py.get_type::<TooLargeError>())?;
    module.add(
        "ContextLengthExceededError",
        py.get_type::<ContextLengthExceededError>(),
    )?;
    module.add("OverloadedError", py.get_type::<OverloadedError>())?;
    module.add("ModelLoadError", py.get_type::<ModelLoadError>())?;
    module.add("UnavailableError", py.get_type::<UnavailableError>())?;
    Ok(())
}
