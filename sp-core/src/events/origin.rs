//! Where a change came from, and the platform events the services record about their changes.

use std::sync::Arc;

use serde_json::Value;

use super::{EventLog, NewEvent};
use crate::knowledge::Namespace;

/// Who caused a change and the request it belongs to, carried into the platform events the
/// services emit (`data.by` and the event's `correlationid`). Every entry point — HTTP, Rust,
/// Python — passes what it knows; the default knows nothing.
///
/// ```
/// use sp_core::events::Origin;
///
/// let origin = Origin::default().by("key-1").correlated("req-7");
/// assert_eq!(origin.actor.as_deref(), Some("key-1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Origin {
    /// The caller (an API key id, a user), when known.
    pub actor: Option<String>,
    /// The request or run the change belongs to.
    pub correlation_id: Option<String>,
}

impl Origin {
    /// The same origin, caused by `actor`.
    pub fn by(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// The same origin, part of `correlation_id`.
    pub fn correlated(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// The same origin, part of `correlation_id` when there is one.
    pub fn correlated_opt(mut self, correlation_id: Option<String>) -> Self {
        self.correlation_id = correlation_id;
        self
    }
}

/// A platform event on `stream` of `namespace`, about `subject`, with the origin's actor as
/// `data.by` and its correlation id.
pub fn platform_event(
    namespace: &Namespace,
    stream: &str,
    event_type: &str,
    subject: String,
    origin: &Origin,
    mut data: Value,
) -> NewEvent {
    if let (Some(actor), Value::Object(map)) = (&origin.actor, &mut data) {
        map.insert("by".into(), Value::String(actor.clone()));
    }
    NewEvent {
        namespace: namespace.clone(),
        subject: Some(subject),
        correlationid: origin.correlation_id.clone(),
        ..NewEvent::new(stream, event_type, data)
    }
}

/// The optional event log a service records its changes in.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Option<Arc<EventLog>>);

impl Recorder {
    pub(crate) fn new(log: Arc<EventLog>) -> Self {
        Recorder(Some(log))
    }

    /// Records `event` when the service has a log (a failure is logged, see
    /// [`EventLog::emit`]).
    pub(crate) async fn record(&self, event: impl FnOnce() -> NewEvent) {
        if let Some(log) = &self.0 {
            log.emit(event()).await;
        }
    }
}
