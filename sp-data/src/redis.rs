//! Redis, for a cache and limits shared by several `sp` processes: one server, or a Redis
//! Cluster (`redis.cluster_nodes`).

use async_trait::async_trait;
use fred::prelude::{ClientLike, Config as FredConfig, ReconnectPolicy, ServerConfig};
use fred::types::config::{ClusterDiscoveryPolicy, Server};
use sp_core::config::RedisConfig;
use sp_core::health::HealthCheck;
use sp_core::{Error, Result};

/// A Redis client that reconnects by itself, forever, with capped exponential backoff.
#[derive(Clone)]
pub struct RedisStore {
    client: fred::clients::Client,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Starts connecting to `url` in the background; fails only when the URL is malformed.
    /// Must be called inside a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// assert!(sp_data::RedisStore::connect("redis://127.0.0.1:1").is_ok());
    /// assert!(sp_data::RedisStore::connect("not a url").is_err());
    /// # });
    /// ```
    pub fn connect(url: &str) -> Result<Self> {
        Self::start(parse_url(url)?)
    }

    /// The Redis `config` names: a cluster when it has `cluster_nodes`, else the server of its
    /// URL; `None` when it names neither. Fails only on a malformed URL or node.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let mut config = sp_core::config::RedisConfig::default();
    /// assert!(sp_data::RedisStore::from_config(&config).unwrap().is_none());
    /// config.cluster_nodes = vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()];
    /// assert!(sp_data::RedisStore::from_config(&config).unwrap().is_some());
    /// config.cluster_nodes = vec!["no-port".into()];
    /// assert!(sp_data::RedisStore::from_config(&config).is_err());
    /// # });
    /// ```
    pub fn from_config(config: &RedisConfig) -> Result<Option<Self>> {
        if config.cluster_nodes.is_empty() {
            return config.url.as_deref().map(Self::connect).transpose();
        }
        // The URL, when given, brings the credentials and TLS; its host is one more seed.
        let (mut fred, mut hosts) = match &config.url {
            Some(url) => {
                let fred = parse_url(url)?;
                let hosts = fred.server.hosts();
                (fred, hosts)
            }
            None => (FredConfig::default(), Vec::new()),
        };
        for node in &config.cluster_nodes {
            hosts.push(parse_node(node)?);
        }
        fred.server = ServerConfig::Clustered {
            hosts,
            // A seed that died is not the only way back in: the last slot map's nodes are
            // tried too, so a master failover that takes a seed down is survived.
            policy: ClusterDiscoveryPolicy::UseCache,
        };
        Self::start(fred).map(Some)
    }

    fn start(mut config: FredConfig) -> Result<Self> {
        // Keep retrying a server that is down at start instead of failing the process.
        config.fail_fast = false;
        let client = fred::types::Builder::from_config(config)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(|err| Error::internal(format!("redis client: {err}")))?;
        // The connection task runs for the client's lifetime and reconnects on its own.
        drop(client.connect());
        Ok(RedisStore { client })
    }

    /// Whether this client speaks the cluster protocol.
    pub fn is_cluster(&self) -> bool {
        self.client.is_clustered()
    }

    /// Waits up to `timeout` for the first connection; false when it did not come (the
    /// client keeps trying in the background either way).
    pub async fn wait_connected(&self, timeout: std::time::Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.client.wait_for_connect()).await,
            Ok(Ok(()))
        )
    }

    /// The underlying client, for the stores built on this connection.
    pub fn client(&self) -> &fred::clients::Client {
        &self.client
    }
}

fn parse_url(url: &str) -> Result<FredConfig> {
    FredConfig::from_url(url).map_err(|err| Error::Config {
        key: "redis.url".into(),
        reason: format!("not a valid Redis URL: {err}"),
    })
}

fn parse_node(node: &str) -> Result<Server> {
    let parsed = node
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .filter(|(host, port)| !host.is_empty() && *port > 0);
    match parsed {
        Some((host, port)) => Ok(Server::new(host, port)),
        None => Err(Error::Config {
            key: "redis.cluster_nodes".into(),
            reason: format!("`{node}` is not host:port"),
        }),
    }
}

#[async_trait]
impl HealthCheck for RedisStore {
    fn name(&self) -> &str {
        "redis"
    }

    async fn check(&self) -> Result<()> {
        if !self.client.is_connected() {
            return Err(Error::unavailable("redis", "not connected"));
        }
        self.client
            .ping::<String>(None)
            .await
            .map(|_| ())
            .map_err(|err| Error::unavailable("redis", err))
    }
}
