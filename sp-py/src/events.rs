//! `Events`: the event log — append typed events to ordered streams, query and replay them.

use std::sync::Arc;

use pyo3::prelude::*;
use sp_core::PageRequest;
use sp_core::events::{EventBackend, EventLog, EventQuery, EventsConfig, NewEvent};
use sp_core::knowledge::Namespace;

use crate::convert::{block, serialized, to_json};
use crate::errors::to_py;
use crate::stores::{self, Database};

/// The event log of a location.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct Events {
    log: Arc<EventLog>,
    namespace: Namespace,
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
        let namespace = match namespace {
            Some(name) => Namespace::new(name).map_err(to_py)?,
            None => Namespace::default(),
        };
        let store: Arc<dyn EventBackend> = block(py, async move {
            Ok(match stores::open(location, schema).await? {
                Database::Embedded(db) => {
                    Arc::new(sp_data::SqliteEventStore::new(&db)) as Arc<dyn EventBackend>
                }
                Database::Postgres(pg) => Arc::new(sp_data::PgEventStore::open(&pg).await?),
            })
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
        let stored = block(py, async move { log.append(event).await })?;
        serialized(py, &stored)
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
        let found = block(py, async move { log.query(&query, &page).await })?;
        serialized(py, &found.items)
    }
}
