//! Model loads and unloads, written to the event log (stream `models` of the operator's
//! namespace, where key and tenant changes go: readable by admins).

use serde_json::json;
use sp_core::Namespace;
use sp_core::events::NewEvent;
use sp_llm::{ModelEvent, ModelEventKind};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::state::WeakAppState;

/// Appends every event the model runtime reports until the server state is gone (holding it
/// only weakly: the state owns the runtime whose events these are).
pub(crate) async fn record(state: WeakAppState, mut events: UnboundedReceiver<ModelEvent>) {
    while let Some(event) = events.recv().await {
        let Some(state) = state.upgrade() else { return };
        let (event_type, data) = match &event.kind {
            ModelEventKind::Loaded { seconds, bytes } => (
                "model.loaded",
                json!({"model": event.model, "seconds": seconds, "memory_bytes": bytes}),
            ),
            ModelEventKind::Unloaded { reason } => (
                "model.unloaded",
                json!({"model": event.model, "reason": reason}),
            ),
            ModelEventKind::LoadFailed { reason } => (
                "model.load_failed",
                json!({"model": event.model, "reason": reason}),
            ),
        };
        let Ok(platform) = state.platform().await else {
            tracing::warn!(model = %event.model, event_type, "stores down: model event not recorded");
            continue;
        };
        let mut new = NewEvent::new("models", event_type, data);
        new.namespace = Namespace::operator();
        new.subject = Some(format!("models/{}", event.model));
        platform.events.emit(new).await;
    }
}
