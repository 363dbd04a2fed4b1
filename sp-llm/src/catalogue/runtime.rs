//! The model runtime: loading, single flight, keep-alive, eviction and admission.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sp_core::catalogue::{
    Admission, Catalogue, CatalogueEntry, KeepAlive, ModelKind, Resident, plan_admission,
};
use sp_core::{Error, Result};

use super::estimate::{GgufSummary, MemoryEstimate};
use super::events::{ModelEvent, ModelEventKind, ModelObserver};
use super::idle::reap;
use super::load::load_blocking;
use super::status::{ModelState, ModelStatus};
use super::{Loaded, ModelLease};
use crate::{EmbeddingModel, Engine};

/// Seconds a refused load suggests waiting when busy models stand in the way, and otherwise.
const RETRY_WHEN_BUSY: u64 = 2;
const RETRY_OTHERWISE: u64 = 30;

pub(super) struct Slot {
    pub(super) entry: CatalogueEntry,
    pub(super) summary: std::result::Result<GgufSummary, String>,
    pub(super) estimate: Option<MemoryEstimate>,
    pub(super) size_bytes: u64,
    pub(super) state: Mutex<SlotState>,
    /// Held while this model loads: concurrent first requests wait for one load.
    pub(super) load_lock: tokio::sync::Mutex<()>,
}

pub(super) struct SlotState {
    pub(super) loaded: Option<Loaded>,
    pub(super) loading: bool,
    pub(super) in_use: usize,
    pub(super) last_used: Instant,
    /// The keep-alive the last request asked for, which replaces the entry's until the next.
    pub(super) keep_alive: KeepAlive,
    pub(super) loads: u64,
}

pub(super) struct Shared {
    catalogue: Catalogue,
    pub(super) slots: Vec<Slot>,
    budget: u64,
    /// Held from admission to the end of a load, so two loads never both count on the same
    /// free memory.
    admission: tokio::sync::Mutex<()>,
    observer: Option<ModelObserver>,
    /// Wakes the keep-alive reaper when a model goes idle (shared with it, so that it never
    /// holds the runtime itself while it sleeps).
    pub(super) idle: Arc<tokio::sync::Notify>,
}

/// Every catalogue model, loaded on demand under a memory budget. Cheap to clone.
#[derive(Clone)]
pub struct ModelRuntime {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ModelRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRuntime")
            .field("models", &self.shared.slots.len())
            .field("budget", &self.shared.budget)
            .finish_non_exhaustive()
    }
}

pub(super) fn lock(state: &Mutex<SlotState>) -> MutexGuard<'_, SlotState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

const MIB: u64 = 1 << 20;

impl ModelRuntime {
    /// Reads every entry's GGUF header (an unreadable one fails only its own requests), loads
    /// the pinned entries — a pinned model that cannot load, or that does not fit `budget`
    /// bytes, stops the start — and starts the keep-alive reaper. Needs a Tokio runtime.
    pub async fn start(
        catalogue: Catalogue,
        budget: u64,
        observer: Option<ModelObserver>,
    ) -> Result<Self> {
        let slots = catalogue
            .entries()
            .iter()
            .map(|entry| {
                let summary = GgufSummary::read(&entry.path).map_err(|err| err.to_string());
                let estimate = summary.as_ref().ok().map(|s| s.estimate(entry));
                Slot {
                    entry: entry.clone(),
                    size_bytes: std::fs::metadata(&entry.path).map_or(0, |m| m.len()),
                    summary,
                    estimate,
                    state: Mutex::new(SlotState {
                        loaded: None,
                        loading: false,
                        in_use: 0,
                        last_used: Instant::now(),
                        keep_alive: entry.keep_alive,
                        loads: 0,
                    }),
                    load_lock: tokio::sync::Mutex::new(()),
                }
            })
            .collect();
        let runtime = ModelRuntime {
            shared: Arc::new(Shared {
                catalogue,
                slots,
                budget,
                admission: tokio::sync::Mutex::new(()),
                observer,
                idle: Arc::default(),
            }),
        };
        for index in 0..runtime.shared.slots.len() {
            if runtime.shared.slots[index].entry.pinned {
                runtime.shared.ensure_loaded(index).await?;
            }
        }
        tokio::spawn(reap(
            Arc::downgrade(&runtime.shared),
            Arc::clone(&runtime.shared.idle),
        ));
        Ok(runtime)
    }

    /// The catalogue it serves.
    pub fn catalogue(&self) -> &Catalogue {
        &self.shared.catalogue
    }

    /// The memory budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.shared.budget
    }

    /// Holds the model `name` (or alias) for one request, loading it first if needed;
    /// `keep_alive` replaces the model's own from the end of this request.
    pub async fn acquire(&self, name: &str, keep_alive: Option<KeepAlive>) -> Result<ModelLease> {
        let entry = self.shared.catalogue.resolve(name)?;
        let index = self.index_of(&entry.name);
        self.shared.lease(index, keep_alive).await
    }

    /// Holds the default model of `kind` (`None` when the catalogue has none).
    pub async fn acquire_default(
        &self,
        kind: ModelKind,
        keep_alive: Option<KeepAlive>,
    ) -> Option<Result<ModelLease>> {
        let entry = self.shared.catalogue.default_for(kind)?;
        let index = self.index_of(&entry.name);
        Some(self.shared.lease(index, keep_alive).await)
    }

    /// The loaded chat engine or embedding worker of a pinned entry, without a lease (the
    /// platform's stores hold these for the server's life).
    pub fn resident_engine(&self, name: &str) -> Option<Engine> {
        let entry = self.shared.catalogue.resolve(name).ok()?;
        match &lock(&self.shared.slots[self.index_of(&entry.name)].state).loaded {
            Some(Loaded::Chat(engine)) => Some(engine.clone()),
            _ => None,
        }
    }

    /// Like [`resident_engine`](Self::resident_engine), for an embedding model.
    pub fn resident_embedder(&self, name: &str) -> Option<EmbeddingModel> {
        let entry = self.shared.catalogue.resolve(name).ok()?;
        match &lock(&self.shared.slots[self.index_of(&entry.name)].state).loaded {
            Some(Loaded::Embedding(embedder)) => Some(embedder.clone()),
            _ => None,
        }
    }

    /// Loads `name` now (admin `load`); a loaded model only has its idle clock restarted.
    pub async fn load(&self, name: &str) -> Result<ModelStatus> {
        drop(self.acquire(name, None).await?);
        self.status(name)
    }

    /// Unloads `name` now, or when its running requests end. The default chat and
    /// embedding models back the platform's stores and are refused.
    pub async fn unload(&self, name: &str) -> Result<ModelStatus> {
        let entry = self.shared.catalogue.resolve(name)?;
        let backs_platform = [ModelKind::Chat, ModelKind::Embedding].iter().any(|kind| {
            self.shared
                .catalogue
                .default_for(*kind)
                .is_some_and(|default| default.name == entry.name)
        });
        if backs_platform {
            return Err(Error::Conflict(format!(
                "`{}` is the default {} model: the platform's stores are built on it",
                entry.name,
                entry.kind.as_str()
            )));
        }
        let index = self.index_of(&entry.name);
        let _load = self.shared.slots[index].load_lock.lock().await;
        let unloaded = {
            let mut state = lock(&self.shared.slots[index].state);
            state.keep_alive = KeepAlive::For(Duration::ZERO);
            if state.in_use == 0 {
                state.loaded.take()
            } else {
                None
            }
        };
        if unloaded.is_some() {
            self.shared
                .emit(index, ModelEventKind::Unloaded { reason: "request" });
        }
        drop(unloaded);
        self.status(&entry.name)
    }

    /// Every entry's state, in catalogue order.
    pub fn list(&self) -> Vec<ModelStatus> {
        (0..self.shared.slots.len())
            .map(|index| self.shared.status(index))
            .collect()
    }

    /// One entry's state.
    pub fn status(&self, name: &str) -> Result<ModelStatus> {
        let entry = self.shared.catalogue.resolve(name)?;
        Ok(self.shared.status(self.index_of(&entry.name)))
    }

    /// Bytes the loaded models are estimated to take together.
    pub fn resident_bytes(&self) -> u64 {
        self.shared.resident_bytes()
    }

    fn index_of(&self, name: &str) -> usize {
        self.shared
            .slots
            .iter()
            .position(|slot| slot.entry.name == name)
            .unwrap_or(0)
    }
}

impl Shared {
    async fn lease(
        self: &Arc<Self>,
        index: usize,
        keep_alive: Option<KeepAlive>,
    ) -> Result<ModelLease> {
        loop {
            if let Some(lease) = self.try_lease(index, keep_alive) {
                return Ok(lease);
            }
            self.ensure_loaded(index).await?;
        }
    }

    fn try_lease(
        self: &Arc<Self>,
        index: usize,
        keep_alive: Option<KeepAlive>,
    ) -> Option<ModelLease> {
        let mut state = lock(&self.slots[index].state);
        let model = state.loaded.clone()?;
        state.in_use += 1;
        Some(ModelLease {
            shared: Arc::clone(self),
            index,
            model,
            keep_alive,
        })
    }

    /// Loads the model unless it is loaded (single flight: one load, the others wait).
    async fn ensure_loaded(self: &Arc<Self>, index: usize) -> Result<()> {
        let slot = &self.slots[index];
        let _load = slot.load_lock.lock().await;
        if lock(&slot.state).loaded.is_some() {
            return Ok(());
        }
        if let Err(reason) = &slot.summary {
            return Err(Error::ModelLoad {
                path: slot.entry.path.display().to_string(),
                reason: reason.clone(),
            });
        }
        let needed = slot.estimate.map_or(0, |e| e.total);
        let _admission = self.admission.lock().await;
        self.make_room(index, needed)?;
        lock(&slot.state).loading = true;
        let started = Instant::now();
        let loaded = load_blocking(&slot.entry).await;
        let mut state = lock(&slot.state);
        state.loading = false;
        match loaded {
            Ok(model) => {
                state.loaded = Some(model);
                state.loads += 1;
                state.last_used = Instant::now();
                state.keep_alive = slot.entry.keep_alive;
                drop(state);
                let seconds = started.elapsed().as_secs_f64();
                tracing::info!(model = %slot.entry.name, seconds, mib = needed / MIB, "model loaded");
                self.emit(
                    index,
                    ModelEventKind::Loaded {
                        seconds,
                        bytes: needed,
                    },
                );
                self.idle.notify_one();
                Ok(())
            }
            Err(err) => {
                drop(state);
                tracing::warn!(model = %slot.entry.name, %err, "model failed to load");
                self.emit(
                    index,
                    ModelEventKind::LoadFailed {
                        reason: err.to_string(),
                    },
                );
                Err(err)
            }
        }
    }

    /// Unloads idle, unpinned models (least recently used first) until `needed` bytes fit,
    /// or refuses. Called with the admission lock held.
    fn make_room(&self, index: usize, needed: u64) -> Result<()> {
        loop {
            let residents: Vec<Resident> = self
                .slots
                .iter()
                .filter_map(|slot| {
                    let state = lock(&slot.state);
                    state.loaded.as_ref()?;
                    Some(Resident {
                        name: slot.entry.name.clone(),
                        bytes: slot.estimate.map_or(0, |e| e.total),
                        last_used: state.last_used,
                        pinned: slot.entry.pinned,
                        busy: state.in_use > 0,
                    })
                })
                .collect();
            match plan_admission(self.budget, needed, &residents) {
                Admission::Fits => return Ok(()),
                Admission::Evict(victims) => {
                    // A victim that picked up a request since the plan stays; plan again.
                    for victim in victims {
                        let Some(at) = self.slots.iter().position(|s| s.entry.name == victim)
                        else {
                            continue;
                        };
                        let evicted = {
                            let mut state = lock(&self.slots[at].state);
                            if state.in_use == 0 {
                                state.loaded.take()
                            } else {
                                None
                            }
                        };
                        if evicted.is_some() {
                            tracing::info!(model = %victim, "model unloaded to make room");
                            self.emit(at, ModelEventKind::Unloaded { reason: "evicted" });
                        }
                    }
                }
                Admission::Refuse { busy_in_the_way } => {
                    return Err(Error::ModelMemory {
                        model: self.slots[index].entry.name.clone(),
                        needed_mib: needed.div_ceil(MIB),
                        budget_mib: self.budget / MIB,
                        resident_mib: residents.iter().map(|r| r.bytes).sum::<u64>() / MIB,
                        busy_in_the_way,
                        retry_after_secs: if busy_in_the_way {
                            RETRY_WHEN_BUSY
                        } else {
                            RETRY_OTHERWISE
                        },
                    });
                }
            }
        }
    }

    pub(super) fn emit(&self, index: usize, kind: ModelEventKind) {
        if let Some(observer) = &self.observer {
            observer(ModelEvent {
                model: self.slots[index].entry.name.clone(),
                kind,
            });
        }
    }

    fn resident_bytes(&self) -> u64 {
        self.slots
            .iter()
            .filter(|slot| lock(&slot.state).loaded.is_some())
            .map(|slot| slot.estimate.map_or(0, |e| e.total))
            .sum()
    }

    fn status(&self, index: usize) -> ModelStatus {
        let slot = &self.slots[index];
        let state = lock(&slot.state);
        ModelStatus {
            name: slot.entry.name.clone(),
            aliases: slot.entry.aliases.clone(),
            kind: slot.entry.kind,
            state: match (&state.loaded, state.loading) {
                (Some(_), _) => ModelState::Loaded,
                (None, true) => ModelState::Loading,
                (None, false) => ModelState::Unloaded,
            },
            pinned: slot.entry.pinned,
            keep_alive: state.keep_alive,
            context_length: match (&state.loaded, slot.entry.kind) {
                (Some(Loaded::Embedding(embedder)), _) => embedder.window(),
                (_, ModelKind::Chat) => slot.entry.context_per_slot,
                _ => slot.summary.as_ref().map_or(0, |s| s.trained_context),
            },
            size_bytes: slot.size_bytes,
            memory: slot.estimate,
            error: slot.summary.as_ref().err().cloned(),
            in_use: state.in_use,
            loads: state.loads,
        }
    }
}
