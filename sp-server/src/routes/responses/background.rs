//! Background responses: generated after the request has been answered (`status: "queued"`),
//! polled with `GET /v1/responses/{id}` and stopped with `POST /v1/responses/{id}/cancel`.
//! The finished response is stored like any other; while it runs — and once it failed or was
//! cancelled — this process's table answers for it. (A response running when its process
//! stops is not finished by another: `GET` then finds nothing, `404`.)

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Value, json};
use sp_core::knowledge::Namespace;
use tokio::sync::Notify;

/// Responses this process runs in the background, or ran and did not store.
static RUNNING: LazyLock<Mutex<HashMap<String, Running>>> = LazyLock::new(Default::default);

/// Most finished-but-unstored entries (failed, cancelled) kept for polling.
const KEPT: usize = 1024;

struct Running {
    /// The namespace of its chain: only callers reaching it see the entry.
    namespace: Namespace,
    /// The response as a poll shows it.
    shell: Value,
    /// Wakes the task to stop.
    stop: Arc<Notify>,
}

fn table() -> std::sync::MutexGuard<'static, HashMap<String, Running>> {
    RUNNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers `id` as queued with `shell`; the returned signal asks its task to stop.
pub fn register(id: &str, namespace: &Namespace, shell: &Value) -> Arc<Notify> {
    let stop = Arc::new(Notify::new());
    let mut table = table();
    if table.len() >= KEPT {
        // Forget finished entries first (their status was `failed` or `cancelled`).
        table.retain(|_, r| matches!(r.shell["status"].as_str(), Some("queued" | "in_progress")));
    }
    table.insert(
        id.to_owned(),
        Running {
            namespace: namespace.clone(),
            shell: shell.clone(),
            stop: stop.clone(),
        },
    );
    stop
}

/// Sets what a poll of `id` shows.
pub fn update(id: &str, change: impl FnOnce(&mut Value)) {
    if let Some(running) = table().get_mut(id) {
        change(&mut running.shell);
    }
}

/// The response is stored: polls read the store from now on.
pub fn stored(id: &str) {
    table().remove(id);
}

/// Forgets `id` when it has stopped (failed or cancelled); `Some(true)` when it did,
/// `Some(false)` while it still runs, `None` when this process does not know it.
pub fn forget(id: &str, namespace: &Namespace) -> Option<bool> {
    let mut table = table();
    let running = table.get(id).filter(|r| r.namespace == *namespace)?;
    if matches!(
        running.shell["status"].as_str(),
        Some("queued" | "in_progress")
    ) {
        return Some(false);
    }
    table.remove(id);
    Some(true)
}

/// What a poll of `id` in `namespace` shows, when this process knows it.
pub fn poll(id: &str, namespace: &Namespace) -> Option<Value> {
    table()
        .get(id)
        .filter(|r| r.namespace == *namespace)
        .map(|r| r.shell.clone())
}

/// Asks `id` to stop and marks it cancelled; the response as it now is. `None` when this
/// process does not run it.
pub fn cancel(id: &str, namespace: &Namespace) -> Option<Value> {
    let mut table = table();
    let running = table.get_mut(id).filter(|r| r.namespace == *namespace)?;
    if matches!(
        running.shell["status"].as_str(),
        Some("queued" | "in_progress")
    ) {
        running.shell["status"] = "cancelled".into();
        running.stop.notify_one();
    }
    Some(running.shell.clone())
}

/// Marks `id` failed with `error`.
pub fn failed(id: &str, error: &crate::error::ApiError) {
    update(id, |shell| {
        shell["status"] = "failed".into();
        shell["error"] = json!({"code": error.code.as_str(), "message": error.message});
    });
}
