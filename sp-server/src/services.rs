//! The library services the routes adapt to HTTP, built on the configured backends.

use std::sync::Arc;
use std::time::Duration;

use sp_core::auth::{AuditStore, KeyStore, RefreshStore};
use sp_core::context::Contexts;
use sp_core::events::EventLog;
use sp_core::hub::Hub;
use sp_core::knowledge::{
    HashEmbedder, KnowledgeBase, KnowledgeCacheTtl, KnowledgeConfig, SimpleTokenizer,
};
use sp_core::workflows::{PlatformActions, Workflows};
use sp_core::{ChatModel, Config, Embedder, Result, Tokenizer};
use sp_data::Backends;
use sp_llm::{EmbeddingModel, Engine};

/// How long a key lookup is remembered: a revocation made by another process applies within
/// this.
pub const KEY_LOOKUP_TTL: Duration = Duration::from_secs(1);

/// Dimension of the feature-hashing embedder used when no model is loaded.
pub const HASH_DIMENSIONS: usize = 384;

/// Knowledge, contexts, keys and the audit log over one database.
#[derive(Clone)]
pub struct Services {
    /// Documents and search.
    pub knowledge: Arc<KnowledgeBase>,
    /// Contexts, memory, assembly.
    pub contexts: Arc<Contexts>,
    /// API keys.
    pub keys: Arc<dyn KeyStore>,
    /// The audit log.
    pub audit: Arc<dyn AuditStore>,
    /// Refresh tokens.
    pub refresh: Arc<dyn RefreshStore>,
    /// The service registry and tool invocation (its health checks run in the background).
    pub hub: Arc<Hub>,
    /// The event log and its live fan-out.
    pub events: Arc<EventLog>,
    /// Workflow definitions and runs (runs whose process stopped are resumed in the
    /// background).
    pub workflows: Arc<Workflows>,
}

impl Services {
    /// Opens the stores on `backends` (running PostgreSQL migrations) and wires the model in
    /// when one is loaded: its tokenizer counts, its embeddings index documents, it answers
    /// context chats. Without a model: the simple tokenizer and the feature-hashing embedder.
    pub async fn open(
        config: &Config,
        backends: &Backends,
        engine: Option<&Engine>,
        embedding: Option<&Arc<EmbeddingModel>>,
    ) -> Result<Self> {
        let (embedder, tokenizer): (Arc<dyn Embedder>, Arc<dyn Tokenizer>) =
            match (engine, embedding) {
                (Some(engine), Some(embedding)) => (embedding.clone(), Arc::new(engine.clone())),
                _ => (
                    Arc::new(HashEmbedder::new(HASH_DIMENSIONS)),
                    Arc::new(SimpleTokenizer),
                ),
            };
        let dims = embedder.dimensions();
        let stores = backends
            .database
            .open_stores(dims)
            .await
            .map_err(explain_dimensions)?;
        let ttl = KnowledgeCacheTtl {
            embedding: Duration::from_secs(config.cache.embedding_ttl_secs),
            search: Duration::from_secs(config.cache.search_ttl_secs),
        };
        let knowledge = Arc::new(
            KnowledgeBase::new(
                stores.documents.clone(),
                embedder,
                tokenizer.clone(),
                KnowledgeConfig::default(),
            )?
            .with_cache(backends.cache.clone(), ttl),
        );
        let model: Option<Arc<dyn ChatModel>> =
            engine.map(|engine| Arc::new(engine.clone()) as Arc<dyn ChatModel>);
        let mut contexts =
            Contexts::new(stores.contexts.clone(), tokenizer).with_knowledge(knowledge.clone());
        if let Some(model) = &model {
            contexts = contexts.with_model(model.clone());
        }
        let transport = Arc::new(sp_data::HttpTransport::new()?);
        let hub = Arc::new(Hub::new(
            stores.registry.clone(),
            transport,
            config.hub.clone(),
        ));
        hub.clone().spawn_health_checks();
        let events = Arc::new(EventLog::new(stores.events.clone(), config.events.clone()));
        // Events other `sp` processes append reach this one's live subscribers.
        stores.follow_events(events.clone()).await?;
        let actions = Arc::new(PlatformActions::new(hub.clone(), knowledge.clone(), model));
        let workflows = Arc::new(Workflows::new(
            stores.workflows.clone(),
            events.clone(),
            actions,
            config.workflows.clone(),
        ));
        workflows.clone().spawn_recovery();
        Ok(Services {
            hub,
            events,
            workflows,
            knowledge,
            contexts: Arc::new(contexts),
            keys: Arc::new(sp_data::CachedKeyStore::new(
                stores.keys.clone(),
                KEY_LOOKUP_TTL,
            )),
            audit: stores.audit.clone(),
            refresh: stores.refresh.clone(),
        })
    }
}

/// A store made by another embedder cannot be opened with this one: say what to do.
fn explain_dimensions(err: sp_core::Error) -> sp_core::Error {
    match err {
        sp_core::Error::DimensionMismatch { expected, got } => sp_core::Error::Config {
            key: "model.path".into(),
            reason: format!(
                "the knowledge store holds {expected}-dimensional vectors but this embedder makes \
                 {got} (the feature-hashing embedder makes {HASH_DIMENSIONS} when no model is \
                 loaded); serve with the model the store was created with, or use another \
                 data_dir / database.schema"
            ),
        },
        other => other,
    }
}
