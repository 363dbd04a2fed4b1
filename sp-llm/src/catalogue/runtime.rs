//! The model runtime: loading, single flight, keep-alive, eviction and admission.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
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
    /// Grows when a pulled model is registered; entries are never removed.
    pub(super) catalogue: RwLock<Catalogue>,
    pub(super) slots: RwLock<Vec<Arc<Slot>>>,
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
            .field("models", &self.shared.slots().len())
            .field("budget", &self.shared.budget)
            .finish_non_exhaustive()
    }
}

pub(super) fn lock(state: &Mutex<SlotState>) -> MutexGuard<'_, SlotState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slot {
    /// A slot for `entry`, its GGUF header read (an unreadable one fails only its own loads).
    pub(super) fn new(entry: &CatalogueEntry) -> Self {
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
    }
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
            .map(|entry| Arc::new(Slot::new(entry)))
            .collect();
        let runtime = ModelRuntime {
            shared: Arc::new(Shared {
                catalogue: RwLock::new(catalogue),
                slots: RwLock::new(slots),
                budget,
                admission: tokio::sync::Mutex::new(()),
                observer,
                idle: Arc::default(),
            }),
        };
        for slot in runtime.shared.slots() {
            if slot.entry.pinned {
                runtime.shared.ensure_loaded(&slot).await?;
            }
        }
        tokio::spawn(reap(
            Arc::downgrade(&runtime.shared),
            Arc::clone(&runtime.shared.idle),
        ));
        Ok(runtime)
    }

    /// The catalogue it serves (a copy: pulled models join it while it runs).
    pub fn catalogue(&self) -> Catalogue {
        self.shared
            .catalogue
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The memory budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.shared.budget
    }

    /// Holds the model `name` (or alias) for one request, loading it first if needed;
    /// `keep_alive` replaces the model's own from the end of this request.
    pub async fn acquire(&self, name: &str, keep_alive: Option<KeepAlive>) -> Result<ModelLease> {
        let slot = self.shared.slot(name)?;
        self.shared.lease(&slot, keep_alive).await
    }

    /// Holds the default model of `kind` (`None` when the catalogue has none).
    pub async fn acquire_default(
        &self,
        kind: ModelKind,
        keep_alive: Option<KeepAlive>,
    ) -> Option<Result<ModelLease>> {
        let name = self.catalogue().default_for(kind)?.name.clone();
        Some(match self.shared.slot(&name) {
            Ok(slot) => self.shared.lease(&slot, keep_alive).await,
            Err(err) => Err(err),
        })
    }

    /// The loaded chat engine or embedding worker of a pinned entry, without a lease (the
    /// platform's stores hold these for the server's life).
    pub fn resident_engine(&self, name: &str) -> Option<Engine> {
        let slot = self.shared.slot(name).ok()?;
        match &lock(&slot.state).loaded {
            Some(Loaded::Chat(engine)) => Some(engine.clone()),
            _ => None,
        }
    }

    /// Like [`resident_engine`](Self::resident_engine), for an embedding model.
    pub fn resident_embedder(&self, name: &str) -> Option<EmbeddingModel> {
        let slot = self.shared.slot(name).ok()?;
        match &lock(&slot.state).loaded {
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
        let slot = self.shared.slot(name)?;
        let entry = &slot.entry;
        let catalogue = self.catalogue();
        let backs_platform = [ModelKind::Chat, ModelKind::Embedding].iter().any(|kind| {
            catalogue
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
        let _load = slot.load_lock.lock().await;
        let unloaded = {
            let mut state = lock(&slot.state);
            state.keep_alive = KeepAlive::For(Duration::ZERO);
            if state.in_use == 0 {
                state.loaded.take()
            } else {
                None
            }
        };
        if unloaded.is_some() {
            self.shared
                .emit(&slot, ModelEventKind::Unloaded { reason: "request" });
        }
        drop(unloaded);
        self.status(&entry.name)
    }

    /// Every entry's state, in catalogue order.
    pub fn list(&self) -> Vec<ModelStatus> {
        self.shared
            .slots()
            .iter()
            .map(|slot| Shared::status(slot))
            .collect()
    }

    /// One entry's state.
    pub fn status(&self, name: &str) -> Result<ModelStatus> {
        Ok(Shared::status(self.shared.slot(name)?.as_ref()))
    }

    /// Bytes the loaded models are estimated to take together.
    pub fn resident_bytes(&self) -> u64 {
        self.shared.resident_bytes()
    }

    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl Shared {
    /// Every slot, in catalogue order (a snapshot).
    pub(super) fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The slot `name` (or an alias) routes to.
    pub(super) fn slot(&self, name: &str) -> Result<Arc<Slot>> {
        let name = self
            .catalogue
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .resolve(name)?
            .name
            .clone();
        self.slots()
            .into_iter()
            .find(|slot| slot.entry.name == name)
            .ok_or_else(|| Error::internal(format!("catalogue entry `{name}` has no slot")))
    }

    async fn lease(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        keep_alive: Option<KeepAlive>,
    ) -> Result<ModelLease> {
        loop {
            if let Some(lease) = self.try_lease(slot, keep_alive) {
                return Ok(lease);
            }
            self.ensure_loaded(slot).await?;
        }
    }

    fn try_lease(
        self: &Arc<Self>,
        slot: &Arc<Slot>,
        keep_alive: Option<KeepAlive>,
    ) -> Option<ModelLease> {
        let mut state = lock(&slot.state);
        let model = state.loaded.clone()?;
        state.in_use += 1;
        Some(ModelLease {
            shared: Arc::clone(self),
            slot: Arc::clone(slot),
            model,
            keep_alive,
        })
    }

    /// Loads the model unless it is loaded (single flight: one load, the others wait).
    async fn ensure_loaded(self: &Arc<Self>, slot: &Arc<Slot>) -> Result<()> {
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
        self.make_room(slot, needed)?;
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
                    slot,
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
                    slot,
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
    fn make_room(&self, loading: &Slot, needed: u64) -> Result<()> {
        loop {
            let slots = self.slots();
            let residents: Vec<Resident> = slots
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
                        let Some(at) = slots.iter().find(|s| s.entry.name == victim) else {
                            continue;
                        };
                        let evicted = {
                            let mut state = lock(&at.state);
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
                        model: loading.entry.name.clone(),
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

    pub(super) fn emit(&self, slot: &Slot, kind: ModelEventKind) {
        if let Some(observer) = &self.observer {
            observer(ModelEvent {
                model: slot.entry.name.clone(),
                kind,
            });
        }
    }

    fn resident_bytes(&self) -> u64 {
        self.slots()
            .iter()
            .filter(|slot| lock(&slot.state).loaded.is_some())
            .map(|slot| slot.estimate.map_or(0, |e| e.total))
            .sum()
    }

    pub(super) fn status(slot: &Slot) -> ModelStatus {
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
