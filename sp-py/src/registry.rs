//! `Registry`: the service hub — register services and their tools, discover them, call a
//! tool (arguments checked against its schema; timeouts, retries, circuit breakers).

use std::future::Future;
use std::sync::Arc;

use pyo3::prelude::*;
use serde_json::Value;
use sp_core::hub::{Discovery, Hub, HubConfig, NewService, Service, ToolInvocation};
use sp_core::knowledge::Namespace;

use crate::convert::{awaitable, block, block_json, to_json};
use crate::errors::{invalid, to_py};
use crate::stores;

/// The service registry and tool calls.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct Registry {
    pub(crate) hub: Arc<Hub>,
    namespace: Namespace,
}

/// The work of each call, shared by its blocking and awaitable forms.
impl Registry {
    pub(crate) fn from_parts(hub: Arc<Hub>, namespace: Namespace) -> Self {
        Registry { hub, namespace }
    }

    fn registering(
        &self,
        service: &Bound<'_, PyAny>,
    ) -> PyResult<impl Future<Output = sp_core::Result<Service>> + Send + 'static> {
        let mut json = to_json("service", service)?;
        stores::default_namespace(&mut json, &self.namespace);
        let new: NewService = serde_json::from_value(json).map_err(|e| invalid("service", e))?;
        let hub = self.hub.clone();
        Ok(async move { Ok(hub.register(new).await?.0) })
    }

    fn discovering(
        &self,
        name: Option<String>,
        tag: Option<String>,
        capability: Option<String>,
        tool: Option<String>,
        version: Option<String>,
    ) -> impl Future<Output = sp_core::Result<Vec<Service>>> + Send + 'static {
        let query = Discovery {
            namespace: self.namespace.clone(),
            name,
            tag,
            capability,
            tool,
            version,
            health: None,
        };
        let hub = self.hub.clone();
        async move { hub.discover(&query).await }
    }

    fn invoking(
        &self,
        tool: String,
        arguments: Option<&Bound<'_, PyAny>>,
        service: Option<String>,
    ) -> PyResult<impl Future<Output = sp_core::Result<Value>> + Send + 'static> {
        let arguments = match arguments {
            Some(arguments) => to_json("arguments", arguments)?,
            None => Value::Object(Default::default()),
        };
        let call = ToolInvocation {
            namespace: self.namespace.clone(),
            service,
            ..ToolInvocation::new(tool, arguments)
        };
        let hub = self.hub.clone();
        Ok(async move { Ok(hub.invoke(call).await?.output) })
    }

    fn deregistering(
        &self,
        name: String,
        version: String,
    ) -> impl Future<Output = sp_core::Result<()>> + Send + 'static {
        let (hub, namespace) = (self.hub.clone(), self.namespace.clone());
        async move { hub.deregister(&namespace, &name, &version).await }
    }
}

#[pymethods]
impl Registry {
    /// Opens the registry at `location` (a directory or a `postgres://` URL). Its tool calls
    /// reach public addresses only, unless `allowed_networks` lists more (`["127.0.0.1"]`,
    /// `["10.0.0.0/8"]`).
    #[staticmethod]
    #[pyo3(signature = (location, *, namespace=None, schema=None, allowed_networks=None))]
    fn open(
        py: Python<'_>,
        location: String,
        namespace: Option<String>,
        schema: Option<String>,
        allowed_networks: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let namespace = stores::namespace(namespace)?;
        let store = block(py, async move {
            Ok(stores::open(location, schema).await?.registry_store())
        })?;
        let config = HubConfig {
            allowed_networks: allowed_networks.unwrap_or_default(),
            ..HubConfig::default()
        };
        let transport = Arc::new(
            sp_data::HttpTransport::with_policy(
                config.max_response_bytes,
                config.egress().map_err(to_py)?,
            )
            .map_err(to_py)?,
        );
        Ok(Registry {
            hub: Arc::new(Hub::new(store, transport, config)),
            namespace,
        })
    }

    /// Registers a service version (a dict as `POST /v1/services` takes: name, version,
    /// base_url, tools, tags, …); returns it as stored.
    fn register<'py>(
        &self,
        py: Python<'py>,
        service: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.registering(service)?)
    }

    /// `register` as an awaitable.
    fn aregister<'py>(
        &self,
        py: Python<'py>,
        service: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.registering(service)?)
    }

    /// Services matching every filter given, as dicts.
    #[pyo3(signature = (*, name=None, tag=None, capability=None, tool=None, version=None))]
    fn discover<'py>(
        &self,
        py: Python<'py>,
        name: Option<String>,
        tag: Option<String>,
        capability: Option<String>,
        tool: Option<String>,
        version: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.discovering(name, tag, capability, tool, version))
    }

    /// `discover` as an awaitable.
    #[pyo3(signature = (*, name=None, tag=None, capability=None, tool=None, version=None))]
    fn adiscover<'py>(
        &self,
        py: Python<'py>,
        name: Option<String>,
        tag: Option<String>,
        capability: Option<String>,
        tool: Option<String>,
        version: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.discovering(name, tag, capability, tool, version))
    }

    /// Calls a tool; returns its JSON answer. `service` picks one when several offer it.
    #[pyo3(signature = (tool, arguments=None, *, service=None))]
    fn invoke<'py>(
        &self,
        py: Python<'py>,
        tool: String,
        arguments: Option<&Bound<'py, PyAny>>,
        service: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.invoking(tool, arguments, service)?)
    }

    /// `invoke` as an awaitable.
    #[pyo3(signature = (tool, arguments=None, *, service=None))]
    fn ainvoke<'py>(
        &self,
        py: Python<'py>,
        tool: String,
        arguments: Option<&Bound<'py, PyAny>>,
        service: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.invoking(tool, arguments, service)?)
    }

    /// Removes a service version.
    fn deregister(&self, py: Python<'_>, name: String, version: String) -> PyResult<()> {
        block(py, self.deregistering(name, version))
    }

    /// `deregister` as an awaitable.
    fn aderegister<'py>(
        &self,
        py: Python<'py>,
        name: String,
        version: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.deregistering(name, version))
    }
}
