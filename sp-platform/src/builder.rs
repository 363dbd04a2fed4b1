//! [`Platform`] and its builder.

use std::sync::Arc;
use std::time::Duration;

use sp_core::agents::{AgentModels, Agents, Builtins, OneModel, Toolbox};
use sp_core::auth::{AuditStore, KeyAdmin, KeyStore, RefreshStore};
use sp_core::context::Contexts;
use sp_core::events::EventLog;
use sp_core::facts::Facts;
use sp_core::hub::Hub;
use sp_core::knowledge::{
    HashEmbedder, KnowledgeBase, KnowledgeCacheTtl, KnowledgeConfig, SimpleTokenizer,
};
use sp_core::responses::Responses;
use sp_core::tenants::TenantStore;
use sp_core::usage::UsageMeter;
use sp_core::workflows::{PlatformActions, TenantCharger, Workflows};
use sp_core::{ChatModel, Config, Embedder, Error, Result, Tokenizer};
use sp_data::{Backends, Stores};

/// How long a key lookup is remembered: a revocation made by another process applies within
/// this.
pub const KEY_LOOKUP_TTL: Duration = Duration::from_secs(1);

/// How often the usage meter writes its sums (with background tasks on).
pub const USAGE_FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Dimension of the feature-hashing embedder used when no embedding model is given.
pub const HASH_DIMENSIONS: usize = 384;

/// Every service of Story Portal over one set of backends.
///
/// Built by [`Platform::builder`]; see the [crate] docs for an example.
#[derive(Clone)]
#[non_exhaustive]
pub struct Platform {
    /// The backends the services run on (database, cache, rate limiter).
    pub backends: Backends,
    /// The stores the services are built on, for composing services of one's own.
    pub stores: Stores,
    /// Documents and search.
    pub knowledge: Arc<KnowledgeBase>,
    /// Contexts, memory, assembly.
    pub contexts: Arc<Contexts>,
    /// API keys (lookups cached for [`KEY_LOOKUP_TTL`]).
    pub keys: Arc<dyn KeyStore>,
    /// Tenants (lookups cached for [`KEY_LOOKUP_TTL`]).
    pub tenants: Arc<dyn TenantStore>,
    /// Creating, listing and revoking keys, with their events (over `keys`).
    pub key_admin: Arc<KeyAdmin>,
    /// The audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Refresh tokens.
    pub refresh: Arc<dyn RefreshStore>,
    /// What every tenant, key and model used: model calls record here, the sums are written
    /// to `stores.usage` in batches (every [`USAGE_FLUSH_EVERY`] with background tasks, and
    /// whenever [`UsageMeter::flush`] is called).
    pub usage: Arc<UsageMeter>,
    /// The service registry and tool invocation.
    pub hub: Arc<Hub>,
    /// The event log and its live fan-out.
    pub events: Arc<EventLog>,
    /// Workflow definitions and runs.
    pub workflows: Arc<Workflows>,
    /// Agent definitions and their event-sourced runs.
    pub agents: Arc<Agents>,
    /// Stored, chained responses (the Responses API), kept in `contexts`.
    pub responses: Responses,
    /// The facts contexts learn (extracted in the background when `build` starts its tasks).
    pub facts: Arc<Facts>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("backends", &self.backends)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// A builder for the platform `config` describes.
    pub fn builder(config: Config) -> PlatformBuilder {
        PlatformBuilder {
            config,
            backends: None,
            chat: None,
            embedding: None,
            chat_tokenizer: None,
            agent_models: None,
            background: true,
            #[cfg(feature = "llm")]
            engine: None,
        }
    }
}

/// Configures and opens a [`Platform`].
///
/// Without a model the platform counts tokens with the simple tokenizer, embeds with the
/// feature-hashing embedder ([`HASH_DIMENSIONS`] wide) and has no chat model (context chats
/// and model workflow steps are refused with a coded error).
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct PlatformBuilder {
    config: Config,
    backends: Option<Backends>,
    chat: Option<Arc<dyn ChatModel>>,
    embedding: Option<(Arc<dyn Embedder>, Arc<dyn Tokenizer>)>,
    chat_tokenizer: Option<Arc<dyn Tokenizer>>,
    agent_models: Option<Arc<dyn AgentModels>>,
    background: bool,
    #[cfg(feature = "llm")]
    engine: Option<sp_llm::Engine>,
}

impl PlatformBuilder {
    /// Runs on `backends` instead of opening those the config selects.
    pub fn backends(mut self, backends: Backends) -> Self {
        self.backends = Some(backends);
        self
    }

    /// The model that answers context chats and workflow model steps.
    pub fn chat_model(mut self, model: Arc<dyn ChatModel>) -> Self {
        self.chat = Some(model);
        self
    }

    /// The embedder that indexes documents and embeds queries, with the tokenizer that sizes
    /// their sections (use the embedding model's own), and contexts' messages unless
    /// [`chat_tokenizer`](Self::chat_tokenizer) says otherwise.
    pub fn embedder(mut self, embedder: Arc<dyn Embedder>, tokenizer: Arc<dyn Tokenizer>) -> Self {
        self.embedding = Some((embedder, tokenizer));
        self
    }

    /// The tokenizer that sizes contexts' messages against the chat model's window (use the
    /// chat model's own when it is not the embedding model).
    pub fn chat_tokenizer(mut self, tokenizer: Arc<dyn Tokenizer>) -> Self {
        self.chat_tokenizer = Some(tokenizer);
        self
    }

    /// A loaded llama.cpp model for everything: chat, tokens and embeddings (unless
    /// [`chat_model`](Self::chat_model) or [`embedder`](Self::embedder) say otherwise).
    /// `build` fails when the model cannot embed.
    #[cfg(feature = "llm")]
    pub fn model(mut self, engine: sp_llm::Engine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Where agent runs get the model their agent names (a catalogue); by default every
    /// agent runs on the chat model, and agents are refused a model when there is none.
    pub fn agent_models(mut self, models: Arc<dyn AgentModels>) -> Self {
        self.agent_models = Some(models);
        self
    }

    /// Whether `build` starts the background tasks: the hub's health checks, the recovery of
    /// workflow runs whose process stopped, and (on PostgreSQL) following other processes'
    /// events. On by default; off suits short-lived tools and tests.
    pub fn background_tasks(mut self, run: bool) -> Self {
        self.background = run;
        self
    }

    /// Opens the backends (unless given), migrates once, opens every store and wires the
    /// services. A knowledge store made with another embedder's width is refused with a
    /// `Config` error that says what to do.
    pub async fn build(self) -> Result<Platform> {
        // The id workflow model steps are metered under (the server's requests use the same).
        #[cfg(feature = "llm")]
        let model_id = self
            .engine
            .as_ref()
            .map_or_else(|| "-".to_owned(), |engine| engine.info().id.clone());
        #[cfg(not(feature = "llm"))]
        let model_id = "-".to_owned();
        #[cfg(feature = "llm")]
        let (chat, embedding) = self.model_parts()?;
        // A chat model's messages are sized by its own tokens (and its template's overheads).
        #[cfg(feature = "llm")]
        let chat_tokenizer = self.chat_tokenizer.clone().or_else(|| {
            self.engine
                .clone()
                .map(|engine| Arc::new(engine) as Arc<dyn Tokenizer>)
        });
        #[cfg(not(feature = "llm"))]
        let chat_tokenizer = self.chat_tokenizer.clone();
        #[cfg(not(feature = "llm"))]
        let (chat, embedding) = (self.chat, self.embedding);
        let (embedder, tokenizer) = embedding.unwrap_or_else(|| {
            (
                Arc::new(HashEmbedder::new(HASH_DIMENSIONS)) as Arc<dyn Embedder>,
                Arc::new(SimpleTokenizer) as Arc<dyn Tokenizer>,
            )
        });
        let config = self.config;
        let backends = match self.backends {
            Some(backends) => backends,
            None => Backends::open(&config).await?,
        };
        let stores = backends
            .database
            .open_stores(embedder.dimensions())
            .await
            .map_err(explain_dimensions)?;
        stores
            .documents
            .adopt_embedder(embedder.model_id())
            .await
            .map_err(explain_dimensions)?;
        let ttl = KnowledgeCacheTtl {
            embedding: Duration::from_secs(config.cache.embedding_ttl_secs),
            search: Duration::from_secs(config.cache.search_ttl_secs),
        };
        let events = Arc::new(EventLog::new(stores.events.clone(), config.events.clone()));
        let tenants: Arc<dyn TenantStore> = Arc::new(sp_data::CachedTenantStore::new(
            stores.tenants.clone(),
            KEY_LOOKUP_TTL,
        ));
        let fact_embedder = embedder.clone();
        let knowledge = Arc::new(
            KnowledgeBase::new(
                stores.documents.clone(),
                embedder,
                tokenizer.clone(),
                KnowledgeConfig::default(),
            )?
            .with_cache(backends.cache.clone(), ttl)
            .with_events(events.clone())
            .with_tenants(tenants.clone()),
        );
        let chat_tokenizer = chat_tokenizer.unwrap_or(tokenizer);
        let mut contexts = Contexts::new(stores.contexts.clone(), chat_tokenizer.clone())
            .with_knowledge(knowledge.clone())
            .with_events(events.clone())
            .with_fact_extraction();
        if let Some(model) = &chat {
            contexts = contexts.with_model(model.clone());
        }
        let transport = Arc::new(sp_data::HttpTransport::with_policy(
            config.hub.max_response_bytes,
            config.hub.egress()?,
        )?);
        let hub = Arc::new(
            Hub::new(stores.registry.clone(), transport, config.hub.clone())
                .with_events(events.clone()),
        );
        let usage = UsageMeter::new(stores.usage.clone());
        let charger = TenantCharger::new(
            backends.rate_limiter.clone(),
            tenants.clone(),
            usage.clone(),
            model_id.clone(),
        );
        let agent_charger = TenantCharger::new(
            backends.rate_limiter.clone(),
            tenants.clone(),
            usage.clone(),
            model_id,
        );
        let contexts = Arc::new(contexts);
        let mut facts = Facts::new(stores.facts.clone(), contexts.clone())
            .with_embedder(fact_embedder)
            .with_events(events.clone());
        if let Some(model) = &chat {
            facts = facts.with_model(model.clone());
        }
        let facts = Arc::new(facts);
        let agent_models = self.agent_models.clone().unwrap_or_else(|| match &chat {
            Some(model) => Arc::new(OneModel::new(model.clone(), Some(chat_tokenizer.clone()))),
            None => Arc::new(sp_core::agents::NoModels),
        });
        let toolbox = Toolbox::new(
            Some(hub.clone()),
            Builtins {
                knowledge: Some(knowledge.clone()),
                contexts: Some(contexts.clone()),
                facts: Some(facts.clone()),
            },
        );
        let agents = Arc::new(
            Agents::new(
                stores.agents.clone(),
                agent_models,
                toolbox,
                config.workflows.clone(),
            )
            .with_events(events.clone())
            .with_charger(Arc::new(agent_charger)),
        );
        let actions = Arc::new(
            PlatformActions::new(hub.clone(), knowledge.clone(), chat)
                .with_charger(Arc::new(charger))
                .with_agents(agents.clone()),
        );
        let workflows = Arc::new(Workflows::new(
            stores.workflows.clone(),
            events.clone(),
            actions,
            config.workflows.clone(),
        ));
        if self.background {
            usage.spawn_flusher(USAGE_FLUSH_EVERY);
            hub.clone().spawn_health_checks();
            // Events other processes append reach this one's live subscribers.
            stores.follow_events(events.clone()).await?;
            workflows.clone().spawn_recovery();
            agents.clone().spawn_recovery();
            facts.clone().spawn_worker();
            sp_core::auth::spawn_refresh_pruning(stores.refresh.clone());
            // PostgreSQL's time partitions: the next days made ahead, rows that landed in
            // the default partition moved to theirs (before retention drops any).
            stores.start_partition_upkeep().await;
            let retention = sp_core::retention::Retention::default()
                .audit(stores.audit.clone(), config.auth.audit_retention_days)
                .events(stores.events.clone(), config.retention.events_days)
                .usage(stores.usage.clone(), config.retention.usage_days);
            if retention.any() {
                retention.spawn();
            }
        }
        let keys: Arc<dyn KeyStore> = Arc::new(sp_data::CachedKeyStore::new(
            stores.keys.clone(),
            KEY_LOOKUP_TTL,
        ));
        Ok(Platform {
            backends,
            knowledge,
            responses: Responses::new(contexts.clone()),
            facts,
            contexts,
            key_admin: Arc::new(
                KeyAdmin::new(keys.clone(), tenants.clone()).with_events(events.clone()),
            ),
            tenants,
            keys,
            audit: stores.audit.clone(),
            refresh: stores.refresh.clone(),
            usage,
            hub,
            events,
            workflows,
            agents,
            stores,
        })
    }

    /// The chat model and the embedder with its tokenizer: those set explicitly, else the
    /// engine's.
    #[cfg(feature = "llm")]
    #[allow(clippy::type_complexity)] // the two parts `build` takes apart at once
    fn model_parts(
        &self,
    ) -> Result<(
        Option<Arc<dyn ChatModel>>,
        Option<(Arc<dyn Embedder>, Arc<dyn Tokenizer>)>,
    )> {
        let Some(engine) = &self.engine else {
            return Ok((self.chat.clone(), self.embedding.clone()));
        };
        let chat = self
            .chat
            .clone()
            .unwrap_or_else(|| Arc::new(engine.clone()) as Arc<dyn ChatModel>);
        let embedding = match &self.embedding {
            Some(parts) => parts.clone(),
            None => (
                Arc::new(sp_llm::EmbeddingModel::new(engine)?) as Arc<dyn Embedder>,
                Arc::new(engine.clone()) as Arc<dyn Tokenizer>,
            ),
        };
        Ok((Some(chat), Some(embedding)))
    }
}

/// A store made by another embedder cannot be opened with this one: say what to do.
fn explain_dimensions(err: Error) -> Error {
    let advice = "serve with the embedding model the store was created with, re-embed the \
                  store with this one (`sp reindex`), or use another data_dir / database.schema";
    match err {
        Error::DimensionMismatch { expected, got } => Error::Config {
            key: "model.embedding_path".into(),
            reason: format!(
                "the knowledge store holds {expected}-dimensional vectors but this embedder makes \
                 {got} (the feature-hashing embedder makes {HASH_DIMENSIONS} when no model is \
                 loaded; without model.embedding_path the chat model embeds); {advice}"
            ),
        },
        Error::EmbedderMismatch { stored, got } => Error::Config {
            key: "model.embedding_path".into(),
            reason: format!(
                "the knowledge store's vectors were made by `{stored}` but this server embeds \
                 with `{got}`: vectors of two models cannot be compared; {advice}"
            ),
        },
        other => other,
    }
}
