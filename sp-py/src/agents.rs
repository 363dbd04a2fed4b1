//! `Agents`: define agents and run them — model ↔ tool loops whose every step is recorded
//! before it is acted on, so runs resume after a crash, pause for approval, replay and fork.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use sp_core::Id;
use sp_core::agents::{
    AgentRun, AgentRunStatus, Agents as CoreAgents, NewAgent, NewAgentRun, RecordedEvent, RunEvent,
};
use sp_core::knowledge::Namespace;

use crate::convert::{awaitable, block, block_json, to_json, to_python};
use crate::errors::{invalid, to_py};
use crate::stores;

fn run_id(raw: &str) -> PyResult<Id> {
    Id::parse_field("run_id", raw).map_err(to_py)
}

fn seconds(timeout: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(timeout).map_err(|e| invalid("timeout", e))
}

/// Agents and their runs at a platform's location, driven by this process.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct Agents {
    engine: Arc<CoreAgents>,
    namespace: Namespace,
}

/// The work of each call, shared by its blocking and awaitable forms.
impl Agents {
    pub(crate) fn from_parts(engine: Arc<CoreAgents>, namespace: Namespace) -> Self {
        Agents { engine, namespace }
    }

    fn defining(
        &self,
        agent: &Bound<'_, PyAny>,
    ) -> PyResult<impl Future<Output = sp_core::Result<sp_core::agents::Agent>> + Send + 'static>
    {
        let mut json = to_json("agent", agent)?;
        stores::default_namespace(&mut json, &self.namespace);
        let new: NewAgent = serde_json::from_value(json).map_err(|e| invalid("agent", e))?;
        let engine = self.engine.clone();
        Ok(async move { engine.define(&new).await })
    }

    /// Starts a run; with `timeout`, waits until it is no longer running (at most that long).
    fn starting(
        &self,
        name: String,
        input: String,
        correlation_id: Option<String>,
        context_id: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<impl Future<Output = sp_core::Result<AgentRun>> + Send + 'static> {
        let timeout = timeout.map(seconds).transpose()?;
        let context_id = context_id
            .as_deref()
            .map(|raw| Id::parse_field("context_id", raw))
            .transpose()
            .map_err(to_py)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        let new = NewAgentRun {
            input,
            correlation_id,
            context_id,
            // In process there is no key: the tenant's quotas apply.
            charge_to: None,
        };
        Ok(async move {
            let run = engine.start(&namespace, &name, new).await?;
            match timeout {
                Some(timeout) => engine.wait(&namespace, run.id, timeout).await,
                None => Ok(run),
            }
        })
    }

    fn reading(
        &self,
        run_id: &str,
        timeout: Option<f64>,
    ) -> PyResult<impl Future<Output = sp_core::Result<AgentRun>> + Send + 'static> {
        let id = self::run_id(run_id)?;
        let timeout = timeout.map(seconds).transpose()?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move {
            match timeout {
                Some(timeout) => engine.wait(&namespace, id, timeout).await,
                None => engine.run(&namespace, id).await,
            }
        })
    }

    fn deciding(
        &self,
        run_id: &str,
        call_id: String,
        approved: bool,
        reason: Option<String>,
    ) -> PyResult<impl Future<Output = sp_core::Result<AgentRun>> + Send + 'static> {
        let id = self::run_id(run_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move {
            if approved {
                engine.approve(&namespace, id, &call_id).await
            } else {
                engine.reject(&namespace, id, &call_id, reason).await
            }
        })
    }
}

#[pymethods]
impl Agents {
    /// Defines an agent (a dict as `POST /v1/agents` takes) or its next version.
    fn define<'py>(
        &self,
        py: Python<'py>,
        agent: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.defining(agent)?)
    }

    /// `define` as an awaitable.
    fn adefine<'py>(
        &self,
        py: Python<'py>,
        agent: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.defining(agent)?)
    }

    /// Starts a run of agent `name` on `input` and returns it at once (`running`).
    #[pyo3(signature = (name, input, *, correlation_id=None, context_id=None))]
    fn start<'py>(
        &self,
        py: Python<'py>,
        name: String,
        input: String,
        correlation_id: Option<String>,
        context_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(
            py,
            self.starting(name, input, correlation_id, context_id, None)?,
        )
    }

    /// `start` as an awaitable.
    #[pyo3(signature = (name, input, *, correlation_id=None, context_id=None))]
    fn astart<'py>(
        &self,
        py: Python<'py>,
        name: String,
        input: String,
        correlation_id: Option<String>,
        context_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.starting(name, input, correlation_id, context_id, None)?,
        )
    }

    /// Runs agent `name` on `input`: the run once it ended or waits for approval (or as it is
    /// after `timeout` seconds).
    #[pyo3(signature = (name, input, *, timeout=120.0, correlation_id=None, context_id=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        name: String,
        input: String,
        timeout: f64,
        correlation_id: Option<String>,
        context_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(
            py,
            self.starting(name, input, correlation_id, context_id, Some(timeout))?,
        )
    }

    /// `run` as an awaitable.
    #[pyo3(signature = (name, input, *, timeout=120.0, correlation_id=None, context_id=None))]
    fn arun<'py>(
        &self,
        py: Python<'py>,
        name: String,
        input: String,
        timeout: f64,
        correlation_id: Option<String>,
        context_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.starting(name, input, correlation_id, context_id, Some(timeout))?,
        )
    }

    /// A run's summary now.
    fn get<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.reading(run_id, None)?)
    }

    /// The run once it ended or waits for approval, or as it is after `timeout` seconds.
    #[pyo3(signature = (run_id, timeout=120.0))]
    fn wait<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.reading(run_id, Some(timeout))?)
    }

    /// `wait` as an awaitable.
    #[pyo3(signature = (run_id, timeout=120.0))]
    fn await_run<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.reading(run_id, Some(timeout))?)
    }

    /// The run's recorded events after `after`, in order (dicts as `/events` returns them).
    #[pyo3(signature = (run_id, after=0, limit=1000))]
    fn events<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        after: u64,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = self::run_id(run_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        block_json(py, async move {
            engine.events(&namespace, id, after, limit).await
        })
    }

    /// The run's events as they are recorded: an iterator of dicts that ends after
    /// `finished` or `approval_requested`.
    fn stream(&self, run_id: &str) -> PyResult<RunEvents> {
        Ok(RunEvents {
            engine: self.engine.clone(),
            namespace: self.namespace.clone(),
            id: self::run_id(run_id)?,
            state: std::sync::Mutex::new((0, false)),
        })
    }

    /// Approves a call waiting for approval; the run goes on (`ConflictError` when it does
    /// not wait for that call).
    fn approve<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        call_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.deciding(run_id, call_id, true, None)?)
    }

    /// `approve` as an awaitable.
    fn aapprove<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        call_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.deciding(run_id, call_id, true, None)?)
    }

    /// Rejects a waiting call; the model is told, with `reason`, and the run goes on.
    #[pyo3(signature = (run_id, call_id, reason=None))]
    fn reject<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        call_id: String,
        reason: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.deciding(run_id, call_id, false, reason)?)
    }

    /// `reject` as an awaitable.
    #[pyo3(signature = (run_id, call_id, reason=None))]
    fn areject<'py>(
        &self,
        py: Python<'py>,
        run_id: &str,
        call_id: String,
        reason: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.deciding(run_id, call_id, false, reason)?)
    }

    /// Cancels a run that has not ended (`ConflictError` when it has).
    fn cancel<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = self::run_id(run_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        block_json(py, async move { engine.cancel(&namespace, id).await })
    }

    /// Rebuilds the run from its events alone and checks it reaches its recorded state.
    fn replay<'py>(&self, py: Python<'py>, run_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = self::run_id(run_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        block_json(py, async move { engine.replay(&namespace, id).await })
    }

    /// A new run with this run's events before model call `step`, run live from there.
    fn fork<'py>(&self, py: Python<'py>, run_id: &str, step: u32) -> PyResult<Bound<'py, PyAny>> {
        let id = self::run_id(run_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        block_json(py, async move { engine.fork(&namespace, id, step).await })
    }
}

/// A run's events as they are recorded (`Agents.stream`).
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct RunEvents {
    engine: Arc<CoreAgents>,
    namespace: Namespace,
    id: Id,
    /// The last event handed out, and whether the run's end (or a wait) was reached.
    state: std::sync::Mutex<(u64, bool)>,
}

impl RunEvents {
    /// The next event, polling the store (the run may be driven by another process).
    async fn next_event(
        engine: Arc<CoreAgents>,
        namespace: Namespace,
        id: Id,
        after: u64,
    ) -> sp_core::Result<RecordedEvent> {
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(event) = engine.events(&namespace, id, after, 1).await?.pop() {
                return Ok(event);
            }
            let run = engine.run(&namespace, id).await?;
            if run.status != AgentRunStatus::Running && run.events <= after {
                return Err(sp_core::Error::Conflict(format!(
                    "run {id} has no event after {after}"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

#[pymethods]
impl RunEvents {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (after, over) = *self
            .state
            .lock()
            .map_err(|_| invalid("stream", "poisoned"))?;
        if over {
            return Err(PyStopIteration::new_err(()));
        }
        let work = Self::next_event(self.engine.clone(), self.namespace.clone(), self.id, after);
        let event = block(py, work)?;
        let ends = matches!(
            event.event,
            RunEvent::Finished { .. } | RunEvent::ApprovalRequested { .. }
        );
        if let Ok(mut state) = self.state.lock() {
            *state = (event.seq, ends);
        }
        let json = serde_json::to_value(&event).map_err(|e| invalid("event", e))?;
        to_python(py, &json)
    }
}
