//! Replicas that know what each other serves (`[cluster]`): every `cluster.heartbeat_ms` this
//! replica writes its models and queue into the shared database and reads everyone else's;
//! the routing layer ([`route_by_model`]) sends a request for a model held only elsewhere to a
//! replica that holds it, and a context's turns to the replica its id hashes to.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use sp_core::config::MissingModel;
use sp_core::replicas::{Replica, ReplicaStore, choose};
use sp_core::{Config, Embedder as _, Result, Timestamp};

use crate::state::{AppState, WeakAppState};

/// Set on a request one replica forwards to another: that one serves it or refuses it, and
/// never forwards it again (no loops, whatever the heartbeats say).
pub const FORWARDED_BY: &str = "x-sp-forwarded-by";

/// Set on a relayed answer: the replica that produced it.
pub const SERVED_BY: &str = "x-sp-served-by";

/// This replica's part in the cluster.
pub(crate) struct Cluster {
    id: String,
    url: String,
    heartbeat: Duration,
    pub(crate) missing_model: MissingModel,
    spill_over: u32,
    store: Arc<dyn ReplicaStore>,
    /// The live replicas as of the last heartbeat (this one included).
    view: RwLock<Vec<Replica>>,
    pub(crate) client: reqwest::Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// The cluster part `config` asks for (`None` without `cluster.advertise_url`).
    pub(crate) fn new(config: &Config, store: Arc<dyn ReplicaStore>) -> Option<Arc<Self>> {
        let url = config.cluster.advertise_url.clone()?;
        // reqwest is built without a default crypto provider; an `https://` replica needs one
        // (an application's own choice, installed first, is kept).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .ok()?;
        Some(Arc::new(Cluster {
            id: sp_core::Id::new().to_string(),
            url,
            heartbeat: Duration::from_millis(config.cluster.heartbeat_ms),
            missing_model: config.cluster.missing_model,
            spill_over: config.cluster.spill_over,
            store,
            view: RwLock::new(Vec::new()),
            client,
        }))
    }

    /// This replica's id (new at every start).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// What this replica says about itself now.
    fn describe(&self, state: &AppState) -> Replica {
        let now = Timestamp::now();
        // Three missed heartbeats and it is gone.
        let ttl = self.heartbeat.as_micros().saturating_mul(3) as i64;
        let expires_at =
            Timestamp::from_unix_micros(now.unix_micros().saturating_add(ttl)).unwrap_or(now);
        let (mut models, mut resident) = (Vec::new(), Vec::new());
        let mut queue_depth = 0usize;
        if let Some(engine) = state.engine() {
            models.push(engine.info().id.clone());
            resident.push(engine.info().id.clone());
            let stats = engine.stats();
            queue_depth += stats.waiting + stats.active;
        }
        if let Some(runtime) = state.models() {
            for model in runtime.list() {
                if model.state == sp_llm::ModelState::Loaded {
                    resident.push(model.name.clone());
                    if let Some(engine) = runtime.resident_engine(&model.name) {
                        let stats = engine.stats();
                        queue_depth += stats.waiting + stats.active;
                    }
                }
                models.push(model.name);
                models.extend(model.aliases);
            }
        }
        if let Some(embedder) = state.embedder() {
            models.push(embedder.model_id().to_owned());
        }
        models.sort();
        models.dedup();
        resident.sort();
        resident.dedup();
        Replica {
            id: self.id.clone(),
            url: self.url.clone(),
            models,
            resident,
            queue_depth: u32::try_from(queue_depth).unwrap_or(u32::MAX),
            seen_at: now,
            expires_at,
        }
    }

    /// One heartbeat: write ours, read everyone's.
    async fn beat(&self, state: &AppState) -> Result<()> {
        self.store.heartbeat(&self.describe(state)).await?;
        let live = self.store.live(Timestamp::now()).await?;
        if let Ok(mut view) = self.view.write() {
            *view = live;
        }
        Ok(())
    }

    /// The replicas as of the last heartbeat.
    pub(crate) fn replicas(&self) -> Vec<Replica> {
        self.view.read().map(|v| v.clone()).unwrap_or_default()
    }

    /// Another replica to serve `model`, if one holds it (see [`choose`]).
    pub(crate) fn elsewhere(&self, model: &str, affinity: Option<&str>) -> Option<Replica> {
        let view = self.view.read().ok()?;
        choose(&view, model, &self.id, affinity, self.spill_over).cloned()
    }

    /// The replica a context's turns with `model` belong on, counting this one: `None` when it
    /// is this one (or nobody else holds the model).
    pub(crate) fn home_of_context(&self, model: &str, context: &str) -> Option<Replica> {
        let view = self.view.read().ok()?;
        // Ask as a replica that is none of them, so this one is a candidate too.
        let home = choose(&view, model, "", Some(context), self.spill_over)?;
        (home.id != self.id).then(|| home.clone())
    }

    /// Says this replica is gone (on a graceful stop), so nobody forwards to it meanwhile.
    pub(crate) async fn leave(&self) {
        if let Err(err) = self.store.leave(&self.id).await {
            tracing::warn!(%err, "could not remove this replica's heartbeat");
        }
    }
}

/// Heartbeats until the state is dropped. The first one goes out at once, so the replica is
/// routable as soon as it serves.
pub(crate) async fn run(state: WeakAppState) {
    let mut failing = false;
    loop {
        let Some(strong) = state.upgrade() else {
            return;
        };
        let Some(cluster) = strong.cluster().cloned() else {
            return;
        };
        // The replicas table exists once the platform has migrated the database.
        let beat = match strong.platform().await {
            Ok(_) => cluster.beat(&strong).await,
            Err(err) => Err(err),
        };
        match beat {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("replica heartbeats are back");
            }
            Ok(()) => {}
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(%err, "replica heartbeat failed; routing on the last view");
            }
            Err(_) => {}
        }
        let every = cluster.heartbeat;
        drop(strong);
        tokio::time::sleep(every).await;
    }
}
