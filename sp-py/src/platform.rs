//! `Platform`: every service of one location, wired once by `sp_platform::Platform` — the
//! same composition the server runs, so events, caches and background work match it.

use std::sync::Arc;

use pyo3::prelude::*;
use sp_core::{ChatModel, Config, Embedder, Tokenizer};

use crate::contexts::Contexts;
use crate::convert::block;
use crate::events::Events;
use crate::knowledge::KnowledgeStore;
use crate::model::Model;
use crate::registry::Registry;
use crate::stores;
use crate::workflows::Workflows;

/// Knowledge, contexts, the registry, the event log and workflows of one location, opened
/// together (one migration) and wired to each other: contexts search the knowledge store,
/// workflows call the registry's tools, every change is an event in the log.
#[pyclass(module = "story_portal", frozen)]
pub struct Platform {
    platform: sp_platform::Platform,
    namespace: sp_core::knowledge::Namespace,
    window: usize,
    /// The chat model it was opened with, for `respond`.
    engine: Option<sp_llm::Engine>,
}

/// The configuration of `location`: a `postgres://` URL (tables in `schema`) or a directory.
fn config_for(location: String, schema: Option<String>, cache: bool) -> Config {
    let mut config = Config::default();
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        config.database.url = Some(location);
        if let Some(schema) = schema {
            config.database.schema = schema;
        }
    } else {
        config.data_dir = location.into();
    }
    config.cache.enabled = cache;
    config
}

#[pymethods]
impl Platform {
    /// Opens every service at `location` (a directory or a `postgres://` URL). With `model`,
    /// it embeds documents, counts tokens and answers chats; without, documents use the
    /// feature-hashing embedder. Health checks of registered services and the recovery of
    /// interrupted workflow runs run in the background while the platform is open.
    #[staticmethod]
    #[pyo3(signature = (location, *, model=None, namespace=None, schema=None, cache=true))]
    fn open(
        py: Python<'_>,
        location: String,
        model: Option<PyRef<'_, Model>>,
        namespace: Option<String>,
        schema: Option<String>,
        cache: bool,
    ) -> PyResult<Self> {
        let namespace = stores::namespace(namespace)?;
        let mut builder = sp_platform::Platform::builder(config_for(location, schema, cache));
        let mut window = 0;
        let chat = model.as_ref().map(|m| m.engine.clone());
        if let Some(model) = &model {
            let engine = model.engine.clone();
            window = engine.config().context_per_slot as usize;
            let embedder: Arc<dyn Embedder> = model.embedder()?;
            builder = builder
                .chat_model(Arc::new(engine.clone()) as Arc<dyn ChatModel>)
                .embedder(embedder, Arc::new(engine) as Arc<dyn Tokenizer>);
        }
        let platform = block(py, builder.build())?;
        Ok(Platform {
            platform,
            namespace,
            window,
            engine: chat,
        })
    }

    /// Documents and hybrid search.
    #[getter]
    fn knowledge(&self) -> KnowledgeStore {
        KnowledgeStore::from_parts(self.platform.knowledge.clone(), self.namespace.clone())
    }

    /// Agent contexts, searching this platform's knowledge for each user turn.
    #[getter]
    fn contexts(&self) -> Contexts {
        Contexts::from_parts(
            self.platform.contexts.clone(),
            self.platform.facts.clone(),
            self.namespace.clone(),
            self.window,
        )
    }

    /// The service registry and its tools.
    #[getter]
    fn registry(&self) -> Registry {
        Registry::from_parts(self.platform.hub.clone(), self.namespace.clone())
    }

    /// The event log, with the platform's own events in it.
    #[getter]
    fn events(&self) -> Events {
        Events::from_parts(self.platform.events.clone(), self.namespace.clone())
    }

    /// Agents over this platform's model, registry, knowledge and memory.
    #[getter]
    fn agents(&self) -> crate::agents::Agents {
        crate::agents::Agents::from_parts(self.platform.agents.clone(), self.namespace.clone())
    }

    /// A stored, chainable response to `input` (a string, or `[{"role", "content"}, …]`)
    /// from the platform's model: OpenAI's Responses model, in process. It continues
    /// `previous_response_id` (the chain is a context, so it survives restarts and is the same
    /// chain `POST /v1/responses` serves); `instructions` are this response's system message;
    /// `tools`, `tool_choice` and `response_format` take OpenAI's chat shapes and are
    /// enforced; sampling keywords as `Model.chat`. Returns the response object
    /// (`{"id", "output", "usage", …}`); unless `store=False`, it is kept.
    #[pyo3(signature = (input, *, previous_response_id=None, instructions=None, store=true, tools=None, tool_choice=None, response_format=None, **sampling))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn respond<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
        previous_response_id: Option<String>,
        instructions: Option<String>,
        store: bool,
        tools: Option<&Bound<'py, PyAny>>,
        tool_choice: Option<&Bound<'py, PyAny>>,
        response_format: Option<&Bound<'py, PyAny>>,
        sampling: Option<&Bound<'py, pyo3::types::PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let chain = (input, previous_response_id, instructions, store);
        let shape = (tools, tool_choice, response_format, sampling);
        let respond = crate::respond::Respond::grouped(
            self.engine.clone(),
            self.platform.responses.clone(),
            self.namespace.clone(),
            chain,
            shape,
        )?;
        crate::convert::block_json(py, respond.run())
    }

    /// `respond` as an awaitable.
    #[pyo3(signature = (input, *, previous_response_id=None, instructions=None, store=true, tools=None, tool_choice=None, response_format=None, **sampling))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn arespond<'py>(
        &self,
        py: Python<'py>,
        input: &Bound<'py, PyAny>,
        previous_response_id: Option<String>,
        instructions: Option<String>,
        store: bool,
        tools: Option<&Bound<'py, PyAny>>,
        tool_choice: Option<&Bound<'py, PyAny>>,
        response_format: Option<&Bound<'py, PyAny>>,
        sampling: Option<&Bound<'py, pyo3::types::PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let chain = (input, previous_response_id, instructions, store);
        let shape = (tools, tool_choice, response_format, sampling);
        let respond = crate::respond::Respond::grouped(
            self.engine.clone(),
            self.platform.responses.clone(),
            self.namespace.clone(),
            chain,
            shape,
        )?;
        crate::convert::awaitable(py, respond.run())
    }

    /// A stored response by id (`NotFoundError` when this namespace has none).
    fn response<'py>(&self, py: Python<'py>, id: String) -> PyResult<Bound<'py, PyAny>> {
        let responses = self.platform.responses.clone();
        let namespace = self.namespace.clone();
        crate::convert::block_json(py, async move { responses.get(&namespace, &id).await })
    }

    /// Workflows over this platform's registry, knowledge and model.
    #[getter]
    fn workflows(&self) -> Workflows {
        Workflows::from_parts(self.platform.workflows.clone(), self.namespace.clone())
    }
}
