//! `Events`: the event log — append typed events to ordered streams, query and replay them.

use std::future::Future;
use std::sync::Arc;

use pyo3::prelude::*;
use sp_core::PageRequest;
use sp_core::events::{Event, EventLog, EventQuery, EventsConfig, NewEvent};
use sp_core::knowledge::Namespace;

use crate::convert::{awaitable, block, block_json, to_json};
use crate::errors::to_py;
use crate::stores;

/// The event log of a location.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct Events {
    log: Arc<EventLog>,
    namespace: Namespace,
}

/// The work of each call, shared by its blocking and awaitable forms.
impl Events {
    pub(crate) fn from_parts(log: Arc<EventLog>, namespace: Namespace) -> Self {
        Events { log, namespace }
    }

    fn appending(
        &self,
        stream: String,
        event_type: String,
        data: Option<&Bound<'_, PyAny>>,
        subject: Option<String>,
        correlation_id: Option<String>,
    ) -> PyResult<impl Future<Output = sp_core::Result<Event>> + Send + 'static> {
        let data = match data {
            Some(data) => to_json("data", data)?,
            None => serde_json::Value::Null,
        };
        let event = NewEvent {
            namespace: self.namespace.clone(),
            subject,
            correlationid: correlation_id,
            ..NewEvent::new(stream, event_type, data)
        };
        let log = self.log.clone();
        Ok(async move { log.append(event).await })
    }

    fn querying(
        &self,
        stream: Option<String>,
        event_type: Option<String>,
        subject: Option<String>,
        correlation_id: Option<String>,
        from_offset: Option<u64>,
        limit: u32,
    ) -> PyResult<impl Future<Output = sp_core::Result<Vec<Event>>> + Send + 'static> {
        let query = EventQuery {
            namespace: self.namespace.clone(),
            stream,
            event_type,
            subject,
            correlationid: correlation_id,
            from_offset,
            ..Default::default()
        };
        let page = PageRequest::new(Some(limit), None).map_err(to_py)?;
        let log = self.log.clone();
        Ok(async move { Ok(log.query(&query, &page).await?.items) })
    }
}

#[pymethods]
impl Events {
    /// Opens the log at `location` (a directory or a `postgres://` URL).
    #[staticmethod]
    #[pyo3(signature = (location, *, namespace=None, schema=None))]
    fn open(
        py: Python<'_>,
        location: String,
        namespace: Option<String>,
        schema: Option<String>,
    ) -> PyResult<Self> {
        let namespace = stores::namespace(namespace)?;
        let store = block(py, async move {
            Ok(stores::open(location, schema).await?.event_store())
        })?;
        Ok(Events {
            log: Arc::new(EventLog::new(store, EventsConfig::default())),
            namespace,
        })
    }

    /// Appends an event to `stream`; returns it stored (a CloudEvents dict with its `offset`).
    #[pyo3(signature = (stream, event_type, data=None, *, subject=None, correlation_id=None))]
    fn append<'py>(
        &self,
        py: Python<'py>,
        stream: String,
        event_type: String,
        data: Option<&Bound<'py, PyAny>>,
        subject: Option<String>,
        correlation_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(
            py,
            self.appending(stream, event_type, data, subject, correlation_id)?,
        )
    }

    /// `append` as an awaitable.
    #[pyo3(signature = (stream, event_type, data=None, *, subject=None, correlation_id=None))]
    fn aappend<'py>(
        &self,
        py: Python<'py>,
        stream: String,
        event_type: String,
        data: Option<&Bound<'py, PyAny>>,
        subject: Option<String>,
        correlation_id: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.appending(stream, event_type, data, subject, correlation_id)?,
        )
    }

    /// Events matching every filter given, oldest first; `from_offset` replays `stream` from
    /// there.
    #[pyo3(signature = (*, stream=None, event_type=None, subject=None, correlation_id=None, from_offset=None, limit=100))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn query<'py>(
        &self,
        py: Python<'py>,
        stream: Option<String>,
        event_type: Option<String>,
        subject: Option<String>,
        correlation_id: Option<String>,
        from_offset: Option<u64>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let work = self.querying(
            stream,
            event_type,
            subject,
            correlation_id,
            from_offset,
            limit,
        )?;
        block_json(py, work)
    }

    /// `query` as an awaitable.
    #[pyo3(signature = (*, stream=None, event_type=None, subject=None, correlation_id=None, from_offset=None, limit=100))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn aquery<'py>(
        &self,
        py: Python<'py>,
        stream: Option<String>,
        event_type: Option<String>,
        subject: Option<String>,
        correlation_id: Option<String>,
        from_offset: Option<u64>,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let work = self.querying(
            stream,
            event_type,
            subject,
            correlation_id,
            from_offset,
            limit,
        )?;
        awaitable(py, work)
    }
}
