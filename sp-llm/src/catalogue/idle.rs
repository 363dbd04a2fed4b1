//! Keep-alive: a model's idle clock starts when its last request ends; past its keep-alive
//! (at once for `0`) it is unloaded.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sp_core::catalogue::KeepAlive;

use super::events::ModelEventKind;
use super::runtime::{Shared, Slot, lock};

impl Shared {
    /// A lease ended: the model's idle clock starts; keep-alive 0 unloads it now.
    pub(super) fn release(&self, slot: &Slot, keep_alive: Option<KeepAlive>) {
        let unloaded = {
            let mut state = lock(&slot.state);
            state.in_use = state.in_use.saturating_sub(1);
            state.last_used = Instant::now();
            if let Some(keep_alive) = keep_alive {
                state.keep_alive = keep_alive;
            }
            let expire_now = state.in_use == 0 && state.keep_alive.is_zero() && !slot.entry.pinned;
            if expire_now {
                state.loaded.take()
            } else {
                None
            }
        };
        if unloaded.is_some() {
            tracing::info!(model = %slot.entry.name, "model unloaded (keep_alive 0)");
            self.emit(
                slot,
                ModelEventKind::Unloaded {
                    reason: "keep_alive",
                },
            );
        } else {
            self.idle.notify_one();
        }
    }

    /// Unloads every idle model past its keep-alive; returns how long until the next expires.
    fn expire(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next: Option<Duration> = None;
        for slot in self.slots() {
            let unloaded = {
                let mut state = lock(&slot.state);
                let KeepAlive::For(keep) = state.keep_alive else {
                    continue;
                };
                if state.loaded.is_none() || state.in_use > 0 || slot.entry.pinned {
                    continue;
                }
                let idle = now.saturating_duration_since(state.last_used);
                if idle < keep {
                    let left = keep - idle;
                    next = Some(next.map_or(left, |n| n.min(left)));
                    continue;
                }
                state.loaded.take()
            };
            if unloaded.is_some() {
                tracing::info!(model = %slot.entry.name, "model unloaded (idle past keep_alive)");
                self.emit(
                    &slot,
                    ModelEventKind::Unloaded {
                        reason: "keep_alive",
                    },
                );
            }
        }
        next
    }
}

/// Sleeps until the next keep-alive expires or a model goes idle; ends with the runtime.
pub(super) async fn reap(shared: Weak<Shared>, idle: Arc<tokio::sync::Notify>) {
    loop {
        let next = match shared.upgrade() {
            Some(shared) => shared.expire(),
            None => return,
        };
        tokio::select! {
            () = tokio::time::sleep(next.unwrap_or(Duration::from_secs(60))) => {}
            () = idle.notified() => {}
        }
    }
}
