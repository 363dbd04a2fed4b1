//! `Workflows`: define DAG workflows of tool / model / search / condition steps and run them,
//! persisted step by step (resumed by a live process after a crash), cancellable.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use serde_json::Value;
use sp_core::events::{EventBackend, EventLog, EventsConfig};
use sp_core::knowledge::Namespace;
use sp_core::workflows::{
    NewRun, NewWorkflow, PlatformActions, WorkflowStore, Workflows as Engine, WorkflowsConfig,
};
use sp_core::{ChatModel, Id};

use crate::convert::{block, serialized, to_json};
use crate::errors::{invalid, to_py};
use crate::knowledge::KnowledgeStore;
use crate::model::Model;
use crate::registry::Registry;
use crate::stores::{self, Database};

fn run_id(raw: &str) -> PyResult<Id> {
    Id::parse_field("run_id", raw).map_err(to_py)
}

/// Workflows and their runs at a location, driven by this process.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct Workflows {
    engine: Arc<Engine>,
    namespace: Namespace,
}

#[pymethods]
impl Workflows {
    /// Opens workflows at `location` (a directory or a `postgres://` URL). Tool steps call
    /// through `registry`, search steps search `knowledge`, model steps ask `model`; runs
    /// left unfinished by a stopped process are resumed here. Step events go to the
    /// location's event log.
    #[staticmethod]
    #[pyo3(signature = (location, *, registry, knowledge, model=None, namespace=None, schema=None))]
    fn open(
        py: Python<'_>,
        location: String,
        registry: PyRef<'_, Registry>,
        knowledge: PyRef<'_, KnowledgeStore>,
        model: Option<PyRef<'_, Model>>,
        namespace: Option<String>,
        schema: Option<String>,
    ) -> PyResult<Self> {
        let namespace = match namespace {
            Some(name) => Namespace::new(name).map_err(to_py)?,
            None => Namespace::default(),
        };
        let (store, events): (Arc<dyn WorkflowStore>, Arc<dyn EventBackend>) =
            block(py, async move {
                Ok(match stores::open(location, schema).await? {
                    Database::Embedded(db) => (
                        Arc::new(sp_data::SqliteWorkflowStore::new(&db)) as Arc<dyn WorkflowStore>,
                        Arc::new(sp_data::SqliteEventStore::new(&db)) as Arc<dyn EventBackend>,
                    ),
                    Database::Postgres(pg) => (
                        Arc::new(sp_data::PgWorkflowStore::open(&pg).await?)
                            as Arc<dyn WorkflowStore>,
                        Arc::new(sp_data::PgEventStore::open(&pg).await?) as Arc<dyn EventBackend>,
                    ),
                })
            })?;
        let model = model.map(|m| Arc::new(m.engine.clone()) as Arc<dyn ChatModel>);
        let actions = PlatformActions::new(registry.hub.clone(), knowledge.base.clone(), model);
        let engine = Arc::new(Engine::new(
            store,
            Arc::new(EventLog::new(events, EventsConfig::default())),
            Arc::new(actions),
            WorkflowsConfig::default(),
        ));
        {
            // The recovery loop lives on the library's runtime, as long as the process.
            let _guard = crate::convert::runtime().enter();
            engine.clone().spawn_recovery();
        }
        Ok(Workflows { engine, namespace })
    }

    /// Defines a workflow (a dict as `POST /v1/workflows` takes) or its next version.
    fn define<'py>(
        &self,
        py: Python<'py>,
        workflow: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut json = to_json("workflow", workflow)?;
        if let Value::Object(map) = &mut json {
            map.entry("namespace")
                .or_insert_with(|| Value::String(self.namespace.as_str().to_owned()));
        }
        let new: NewWorkflow = serde_json::from_value(json).map_err(|e| invalid("workflow", e))?;
        let engine = self.engine.clone();
        let stored = block(py, async move { engine.define(&new).await })?;
        serialized(py, &stored)
    }

    /// Starts a run of `name` with `input` (a dict); returns it at once (`running`).
    #[pyo3(signature = (name, input=None, *, correlation_id=None))]
    fn start<'py>(
        &self,
        py: Python<'py>,
        name: String,
        input: Option<&Bound<'py, PyAny>>,
        correlation_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let new = NewRun {
            input: input
                .map(|i| to_json("input", i))
                .transpose()?
                .unwrap_or(Value::Null),
            correlation_id,
        };
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        let run = block(
            py,
            async move { engine.start(&namespace, &name, new).await },
        )?;
        serialized(py, &run)
    }

    /// A run with its steps.
    fn run<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = self::run_id(run_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        let run = block(py, async move { engine.run(&namespace, id).await })?;
        serialized(py, &run)
    }

    /// The run once it ended, or as it is after `timeout` seconds.
    #[pyo3(signature = (run_id, timeout=60.0))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = self::run_id(run_id)?;
        let timeout = Duration::try_from_secs_f64(timeout).map_err(|e| invalid("timeout", e))?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        let run = block(
            py,
            async move { engine.wait(&namespace, id, timeout).await },
        )?;
        serialized(py, &run)
    }

    /// Cancels a running run (`ConflictError` when it already ended).
    fn cancel<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = self::run_id(run_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        let run = block(py, async move { engine.cancel(&namespace, id).await })?;
        serialized(py, &run)
    }
}
