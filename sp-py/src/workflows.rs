//! `Workflows`: define DAG workflows of tool / model / search / condition steps and run them,
//! persisted step by step (resumed by a live process after a crash), cancellable.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use serde_json::Value;
use sp_core::events::{EventLog, EventsConfig};
use sp_core::knowledge::Namespace;
use sp_core::workflows::{
    NewRun, NewWorkflow, PlatformActions, Run, Workflow, Workflows as CoreWorkflows,
    WorkflowsConfig,
};
use sp_core::{ChatModel, Id};

use crate::convert::{awaitable, block, block_json, to_json};
use crate::errors::{invalid, to_py};
use crate::knowledge::KnowledgeStore;
use crate::model::Model;
use crate::registry::Registry;
use crate::stores;

fn run_id(raw: &str) -> PyResult<Id> {
    Id::parse_field("run_id", raw).map_err(to_py)
}

/// Workflows and their runs at a location, driven by this process.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct Workflows {
    engine: Arc<CoreWorkflows>,
    namespace: Namespace,
}

/// The work of each call, shared by its blocking and awaitable forms.
impl Workflows {
    pub(crate) fn from_parts(engine: Arc<CoreWorkflows>, namespace: Namespace) -> Self {
        Workflows { engine, namespace }
    }

    fn defining(
        &self,
        workflow: &Bound<'_, PyAny>,
    ) -> PyResult<impl Future<Output = sp_core::Result<Workflow>> + Send + 'static> {
        let mut json = to_json("workflow", workflow)?;
        stores::default_namespace(&mut json, &self.namespace);
        let new: NewWorkflow = serde_json::from_value(json).map_err(|e| invalid("workflow", e))?;
        let engine = self.engine.clone();
        Ok(async move { engine.define(&new).await })
    }

    fn starting(
        &self,
        name: String,
        input: Option<&Bound<'_, PyAny>>,
        correlation_id: Option<String>,
    ) -> PyResult<impl Future<Output = sp_core::Result<Run>> + Send + 'static> {
        let new = NewRun {
            input: input
                .map(|i| to_json("input", i))
                .transpose()?
                .unwrap_or(Value::Null),
            correlation_id,
        };
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move { engine.start(&namespace, &name, new).await })
    }

    /// The run now (`timeout` `None`) or once ended (at most `timeout` seconds from now).
    fn reading(
        &self,
        run_id: &str,
        timeout: Option<f64>,
    ) -> PyResult<impl Future<Output = sp_core::Result<Run>> + Send + 'static> {
        let id = self::run_id(run_id)?;
        let timeout = timeout
            .map(|t| Duration::try_from_secs_f64(t).map_err(|e| invalid("timeout", e)))
            .transpose()?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move {
            match timeout {
                Some(timeout) => engine.wait(&namespace, id, timeout).await,
                None => engine.run(&namespace, id).await,
            }
        })
    }

    fn cancelling(
        &self,
        run_id: &str,
    ) -> PyResult<impl Future<Output = sp_core::Result<Run>> + Send + 'static> {
        let id = self::run_id(run_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move { engine.cancel(&namespace, id).await })
    }

    fn handing_back(&self) -> impl Future<Output = sp_core::Result<Vec<String>>> + Send + 'static {
        let engine = self.engine.clone();
        async move {
            let runs = engine.hand_back().await?;
            Ok(runs.iter().map(Id::to_string).collect())
        }
    }
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
        let namespace = stores::namespace(namespace)?;
        let (store, events) = block(py, async move {
            let database = stores::open(location, schema).await?;
            Ok((database.workflow_store(), database.event_store()))
        })?;
        let model = model.map(|m| Arc::new(m.engine.clone()) as Arc<dyn ChatModel>);
        let actions = PlatformActions::new(registry.hub.clone(), knowledge.base.clone(), model);
        let engine = Arc::new(CoreWorkflows::new(
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
        block_json(py, self.defining(workflow)?)
    }

    /// `define` as an awaitable.
    fn adefine<'py>(
        &self,
        py: Python<'py>,
        workflow: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.defining(workflow)?)
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
        block_json(py, self.starting(name, input, correlation_id)?)
    }

    /// `start` as an awaitable.
    #[pyo3(signature = (name, input=None, *, correlation_id=None))]
    fn astart<'py>(
        &self,
        py: Python<'py>,
        name: String,
        input: Option<&Bound<'py, PyAny>>,
        correlation_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.starting(name, input, correlation_id)?)
    }

    /// A run with its steps.
    fn run<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.reading(run_id, None)?)
    }

    /// `run` as an awaitable.
    fn arun<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.reading(run_id, None)?)
    }

    /// The run once it ended, or as it is after `timeout` seconds.
    #[pyo3(signature = (run_id, timeout=60.0))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.reading(run_id, Some(timeout))?)
    }

    /// `wait` as an awaitable.
    #[pyo3(signature = (run_id, timeout=60.0))]
    fn await_run<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.reading(run_id, Some(timeout))?)
    }

    /// Cancels a running run (`ConflictError` when it already ended).
    fn cancel<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.cancelling(run_id)?)
    }

    /// `cancel` as an awaitable.
    fn acancel<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.cancelling(run_id)?)
    }

    /// A planned stop: hands the runs this object drives back (their leases lapse now), so
    /// the next process takes them over at once instead of after the lease; returns their ids.
    /// Afterwards it takes nothing over and starts no run (`UnavailableError`).
    fn hand_back<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.handing_back())
    }

    /// `hand_back` as an awaitable.
    fn ahand_back<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.handing_back())
    }
}
