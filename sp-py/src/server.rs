//! `serve()`: the reference server (the `sp serve` router) in this process, for notebooks
//! and tests; stopped by `Server.stop()` or leaving its `with` block.

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use sp_core::{Config, ConfigSources};
use tokio::sync::oneshot;

use crate::convert::{runtime, to_json};
use crate::errors::to_py;

/// A running server.
#[pyclass(module = "story_portal", frozen)]
pub struct Server {
    /// Its base URL, e.g. `http://127.0.0.1:54321`.
    #[pyo3(get)]
    url: String,
    /// The admin key it accepts (`Authorization: Bearer …`).
    #[pyo3(get)]
    admin_key: String,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
}

/// Starts the reference server on `listen` (a free port by default) over `data_dir` (a
/// temporary one when not given) — the embedded default, or `database_url` — with the model
/// at `model` if given. The environment is not read (no `SP_*`, `DATABASE_URL`): what runs is
/// what the call says; `settings` sets any other key (`{"hub.call_timeout_ms": 2000}`).
#[pyfunction]
#[pyo3(signature = (data_dir=None, *, listen="127.0.0.1:0", model=None, admin_key=None, database_url=None, settings=None))]
pub fn serve(
    py: Python<'_>,
    data_dir: Option<PathBuf>,
    listen: &str,
    model: Option<String>,
    admin_key: Option<String>,
    database_url: Option<String>,
    settings: Option<std::collections::HashMap<String, Bound<'_, PyAny>>>,
) -> PyResult<Server> {
    let admin_key = match admin_key {
        Some(key) => key,
        None => format!("sp_admin_{}", sp_core::auth::random_hex(24).map_err(to_py)?),
    };
    let data_dir = match data_dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("story-portal-{}", sp_core::Id::new())),
    };
    let mut sources = ConfigSources::default()
        .without_env()
        .set("data_dir", data_dir.display().to_string())
        .set("server.listen", listen)
        .set("auth.admin_key", admin_key.clone());
    if let Some(path) = model {
        sources = sources.set("model.path", path);
    }
    if let Some(url) = database_url {
        sources = sources.set("database.url", url);
    }
    for (key, value) in settings.unwrap_or_default() {
        sources = sources.set(&key, setting(&key, &value)?);
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let (url, task) = py
        .detach(|| {
            runtime().block_on(async move {
                let config = Config::load(&sources)?;
                let listener = tokio::net::TcpListener::bind(config.server.listen)
                    .await
                    .map_err(|e| sp_core::Error::invalid_input("listen", e.to_string()))?;
                let address = listener
                    .local_addr()
                    .map_err(|e| sp_core::Error::internal(e.to_string()))?;
                let state = sp_server::AppState::open(config).await?;
                let scheme = if state.tls().is_some() {
                    "https"
                } else {
                    "http"
                };
                let task = tokio::spawn(sp_server::serve(listener, state, async move {
                    let _ = stopped.await;
                }));
                Ok::<_, sp_core::Error>((format!("{scheme}://{address}"), task))
            })
        })
        .map_err(to_py)?;
    Ok(Server {
        url,
        admin_key,
        stop: Mutex::new(Some(stop)),
        task: Mutex::new(Some(task)),
    })
}

/// A setting's value as the configuration takes it.
pub(crate) fn setting(key: &str, value: &Bound<'_, PyAny>) -> PyResult<figment::value::Value> {
    let json = to_json(key, value)?;
    serde_json::from_value(json).map_err(|e| crate::errors::invalid(key, e))
}

#[pymethods]
impl Server {
    /// Stops accepting, lets requests under way finish, and returns once it is down.
    fn stop(&self, py: Python<'_>) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            py.detach(|| {
                let _ = runtime().block_on(task);
            });
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.stop(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("Server({:?})", self.url)
    }
}
