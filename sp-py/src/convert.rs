//! JSON values between Rust (`serde_json`) and Python (dict, list, str, int, float, bool,
//! None), and the runtime that blocking and async calls run on.

use std::future::Future;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::errors::{invalid, to_py};

/// The process's tokio runtime (shared with asyncio awaitables).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `work` to completion with the GIL released, so other Python threads run meanwhile.
pub fn block<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: Future<Output = sp_core::Result<T>> + Send,
{
    py.detach(|| runtime().block_on(work)).map_err(to_py)
}

/// Runs `work` with the GIL released and returns its value as Python (through JSON).
pub fn block_json<'py, T, F>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    T: serde::Serialize + Send,
    F: Future<Output = sp_core::Result<T>> + Send,
{
    let value = block(py, work)?;
    serialized(py, &value)
}

/// `work` as an asyncio awaitable on the library's runtime, its value as Python (through
/// JSON).
pub fn awaitable<'py, T, F>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    T: serde::Serialize + Send + 'static,
    F: Future<Output = sp_core::Result<T>> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let value = work.await.map_err(to_py)?;
        Python::attach(|py| serialized(py, &value).map(Bound::unbind))
    })
}

/// A Python object as JSON; `field` names it in the error for anything JSON cannot hold.
pub fn to_json(field: &str, object: &Bound<'_, PyAny>) -> PyResult<Value> {
    if object.is_none() {
        return Ok(Value::Null);
    }
    if object.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(object.extract()?));
    }
    if object.is_instance_of::<PyInt>() {
        if let Ok(n) = object.extract::<i64>() {
            return Ok(Value::from(n));
        }
        return Ok(Value::from(
            object
                .extract::<u64>()
                .map_err(|_| invalid(field, "an integer beyond 64 bits"))?,
        ));
    }
    if object.is_instance_of::<PyFloat>() {
        let x: f64 = object.extract()?;
        return Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| invalid(field, "NaN or infinity is not JSON"));
    }
    if let Ok(text) = object.cast::<PyString>() {
        return Ok(Value::String(text.to_cow()?.into_owned()));
    }
    if let Ok(dict) = object.cast::<PyDict>() {
        let mut map = Map::with_capacity(dict.len());
        for (key, value) in dict.iter() {
            let key: String = key
                .extract()
                .map_err(|_| invalid(field, "object keys must be strings"))?;
            map.insert(key, to_json(field, &value)?);
        }
        return Ok(Value::Object(map));
    }
    if object.is_instance_of::<PyList>() || object.is_instance_of::<PyTuple>() {
        let items = object
            .try_iter()?
            .map(|item| to_json(field, &item?))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Value::Array(items));
    }
    Err(invalid(
        field,
        format!(
            "a {} is not JSON",
            object
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ),
    ))
}

/// JSON as a Python object.
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_python(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A serializable Rust value as a Python object (through JSON).
pub fn serialized<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value).map_err(|e| to_py(sp_core::Error::internal(e)))?;
    to_python(py, &json)
}
