//! Checks that serde cannot express: URL schemes, ranges, files that must exist.

use super::Config;
use crate::error::{Error, Result};

fn invalid(key: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl Config {
    /// Treats empty URLs (`DATABASE_URL=`) as unset.
    pub(super) fn normalize(&mut self) {
        for url in [
            &mut self.database.url,
            &mut self.database.read_url,
            &mut self.redis.url,
        ] {
            if url.as_deref().is_some_and(|u| u.trim().is_empty()) {
                *url = None;
            }
        }
    }

    /// Validates values whose type alone does not guarantee they make sense.
    ///
    /// ```
    /// let mut config = sp_core::Config::default();
    /// config.redis.url = Some("http://localhost:6379".into());
    /// let err = config.validate().unwrap_err();
    /// assert_eq!(err.code(), sp_core::ErrorCode::InvalidConfig);
    /// assert!(err.to_string().contains("redis.url"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        self.hub.egress()?;
        if self.server.max_body_bytes < 1024 {
            return Err(invalid(
                "server.max_body_bytes",
                format!("must be at least 1024, got {}", self.server.max_body_bytes),
            ));
        }
        if let Some(url) = &self.database.url {
            check_scheme("database.url", url, &["postgres", "postgresql"])?;
        }
        if let Some(url) = &self.database.read_url {
            check_scheme("database.read_url", url, &["postgres", "postgresql"])?;
            if self.database.url.is_none() {
                return Err(invalid(
                    "database.read_url",
                    "needs database.url (the primary it is a standby of)",
                ));
            }
        }
        if let Some(url) = &self.otel.endpoint {
            check_scheme("otel.endpoint", url, &["http", "https"])?;
        }
        if let Some(url) = &self.cluster.advertise_url {
            check_scheme("cluster.advertise_url", url, &["http", "https"])?;
        }
        if !(100..=60_000).contains(&self.cluster.heartbeat_ms) {
            return Err(invalid(
                "cluster.heartbeat_ms",
                format!("must be 100..=60000, got {}", self.cluster.heartbeat_ms),
            ));
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return Err(invalid(
                "database.max_connections",
                format!("must be 1..=1000, got {}", self.database.max_connections),
            ));
        }
        for origin in &self.server.cors_allowed_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(invalid(
                    "server.cors_allowed_origins",
                    format!("`{origin}` is not `*` or an http(s):// origin"),
                ));
            }
        }
        for (key, value) in [
            ("events.max_data_bytes", self.events.max_data_bytes),
            ("events.live_buffer", self.events.live_buffer),
            ("events.live_buffer_bytes", self.events.live_buffer_bytes),
            (
                "events.max_followers_per_key",
                self.events.max_followers_per_key,
            ),
            ("events.max_followers", self.events.max_followers),
            ("events.max_attempts", self.events.max_attempts as usize),
            ("workflows.max_running", self.workflows.max_running as usize),
            (
                "hub.max_instances_per_service",
                self.hub.max_instances_per_service,
            ),
            (
                "hub.max_instances_per_tenant",
                self.hub.max_instances_per_tenant,
            ),
            ("hub.max_probes_per_round", self.hub.max_probes_per_round),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if !(30..=3_600_000).contains(&self.workflows.lease_ms) {
            return Err(invalid(
                "workflows.lease_ms",
                format!("must be 30..=3600000, got {}", self.workflows.lease_ms),
            ));
        }
        if self.server.tls_cert_path.is_some() != self.server.tls_key_path.is_some() {
            return Err(invalid(
                "server.tls_key_path",
                "TLS needs both server.tls_cert_path and server.tls_key_path",
            ));
        }
        let jwt = &self.auth.jwt;
        if jwt.hs256_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(invalid(
                "auth.jwt.hs256_secret",
                "must be at least 32 bytes",
            ));
        }
        if jwt.rs256_private_key.is_some() != jwt.rs256_public_key.is_some() {
            return Err(invalid(
                "auth.jwt.rs256_public_key",
                "RS256 needs both rs256_private_key and rs256_public_key",
            ));
        }
        if jwt.hs256_secret.is_some() && jwt.rs256_private_key.is_some() {
            return Err(invalid(
                "auth.jwt",
                "set hs256_secret or the RS256 keys, not both",
            ));
        }
        if jwt.access_ttl_secs == 0 || jwt.refresh_ttl_secs == 0 {
            return Err(invalid(
                "auth.jwt.access_ttl_secs",
                "lifetimes must be positive",
            ));
        }
        if self.auth.admin_key.as_ref().is_some_and(|k| k.len() < 24) {
            return Err(invalid("auth.admin_key", "must be at least 24 characters"));
        }
        for (key, value) in [
            (
                "server.request_timeout_secs",
                self.server.request_timeout_secs,
            ),
            (
                "server.max_concurrent_requests",
                self.server.max_concurrent_requests as u64,
            ),
            ("server.max_connections", self.server.max_connections as u64),
            (
                "server.tls_handshake_timeout_secs",
                self.server.tls_handshake_timeout_secs,
            ),
            ("cache.max_entries", self.cache.max_entries),
            ("cache.max_bytes", self.cache.max_bytes),
            ("cache.redis_timeout_ms", self.cache.redis_timeout_ms),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be positive"));
            }
        }
        if self.database.acquire_timeout_secs == 0 {
            return Err(invalid("database.acquire_timeout_secs", "must be positive"));
        }
        if !(1..=1000).contains(&self.database.hnsw_ef_search) {
            return Err(invalid("database.hnsw_ef_search", "must be 1–1000"));
        }
        // pgvector's own limits; checked here so a bad value fails at start, not at the
        // first store's CREATE INDEX.
        if !(2..=100).contains(&self.database.hnsw_m) {
            return Err(invalid("database.hnsw_m", "must be 2–100"));
        }
        let ef_construction = self.database.hnsw_ef_construction;
        if !(4..=1000).contains(&ef_construction) || ef_construction < 2 * self.database.hnsw_m {
            return Err(invalid(
                "database.hnsw_ef_construction",
                "must be 4–1000 and at least 2 × database.hnsw_m",
            ));
        }
        let schema = &self.database.schema;
        let schema_ok = (1..=63).contains(&schema.len())
            && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !schema_ok {
            return Err(invalid(
                "database.schema",
                format!(
                    "`{schema}` must be 1-63 characters of a-z, 0-9, `_`, not starting with a digit"
                ),
            ));
        }
        if let Some(url) = &self.redis.url {
            check_scheme("redis.url", url, &["redis", "rediss"])?;
        }
        for node in &self.redis.cluster_nodes {
            let port = node
                .rsplit_once(':')
                .map(|(host, port)| (host, port.parse::<u16>()));
            if !matches!(port, Some((host, Ok(port))) if !host.is_empty() && port > 0) {
                return Err(invalid(
                    "redis.cluster_nodes",
                    format!("`{node}` is not host:port"),
                ));
            }
        }
        if let Some(path) = &self.model.path
            && !path.is_file()
        {
            return Err(invalid(
                "model.path",
                format!("{} does not exist or is not a file", path.display()),
            ));
        }
        if self.log.level.trim().is_empty() {
            return Err(invalid("log.level", "must not be empty"));
        }
        if !(10..=60_000).contains(&self.health.check_timeout_ms) {
            return Err(invalid(
                "health.check_timeout_ms",
                format!("must be 10..=60000, got {}", self.health.check_timeout_ms),
            ));
        }
        Ok(())
    }
}

fn check_scheme(key: &str, url: &str, schemes: &[&str]) -> Result<()> {
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some(scheme) if schemes.contains(&scheme) => Ok(()),
        _ => Err(invalid(
            key,
            format!(
                "must be a URL starting with {}://",
                schemes.join("://, or ")
            ),
        )),
    }
}

#[cfg(test)]
// figment's Jail closures return its (large) error type; that is its API, not our choice.
#[allow(clippy::result_large_err)]
mod tests {
    use crate::{Config, ConfigSources, ErrorCode};
    use figment::Jail;

    fn load_err(jail_setup: impl FnOnce(&mut Jail)) -> String {
        let mut message = String::new();
        Jail::expect_with(|jail| {
            jail_setup(jail);
            let err = Config::load(&ConfigSources::default().file("sp.toml"))
                .expect_err("config should be refused");
            assert_eq!(err.code(), ErrorCode::InvalidConfig);
            message = err.to_string();
            Ok(())
        });
        message
    }

    #[test]
    fn file_then_env_then_overrides() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "sp.toml",
                "data_dir = \"/tmp/sp-a\"\n[server]\nlisten = \"127.0.0.1:7000\"\nmax_body_bytes = 4096\n",
            )?;
            jail.set_env("SP_SERVER__LISTEN", "127.0.0.1:7001");
            jail.set_env("DATABASE_URL", "postgres://u@localhost/db");
            jail.set_env("SP_CONFIG", "ignored: belongs to the CLI");
            let config =
                Config::load(&ConfigSources::default().file("sp.toml")).expect("valid config");
            assert_eq!(config.server.listen.port(), 7001, "env beats file");
            assert_eq!(config.server.max_body_bytes, 4096, "file beats default");
            assert_eq!(
                config.database.url.as_deref(),
                Some("postgres://u@localhost/db")
            );

            let flagged = Config::load(
                &ConfigSources::default()
                    .file("sp.toml")
                    .set("server.listen", "127.0.0.1:7002"),
            )
            .expect("valid config");
            assert_eq!(flagged.server.listen.port(), 7002, "flags beat env");
            Ok(())
        });
    }

    #[test]
    fn bad_env_value_names_key_and_variable() {
        let message = load_err(|jail| {
            jail.create_file("sp.toml", "").expect("file");
            jail.set_env("SP_SERVER__MAX_BODY_BYTES", "lots");
        });
        assert!(message.contains("server.max_body_bytes"), "{message}");
        assert!(message.contains("SP_SERVER__MAX_BODY_BYTES"), "{message}");
    }

    #[test]
    fn a_read_url_is_a_postgres_standby_of_a_configured_primary_and_never_shown() {
        let mut config = Config::default();
        config.database.read_url = Some("postgres://sp:hidden@standby/sp".into());
        let alone = config.validate().unwrap_err();
        assert!(alone.to_string().contains("database.read_url"), "{alone}");
        config.database.url = Some("postgres://sp:hidden@primary/sp".into());
        config.validate().expect("a standby of the primary");
        let shown = serde_json::to_string(&config.redacted()).expect("json");
        assert!(!shown.contains("hidden"), "{shown}");
        assert!(!format!("{:?}", config.database).contains("hidden"));
        config.database.read_url = Some("redis://standby".into());
        assert!(config.validate().is_err(), "not a PostgreSQL URL");
    }

    #[test]
    fn redis_cluster_seeds_load_from_env_and_must_be_host_and_port() {
        Jail::expect_with(|jail| {
            jail.create_file("sp.toml", "")?;
            jail.set_env(
                "SP_REDIS__CLUSTER_NODES",
                "[\"10.0.0.1:7000\", \"cache-b:7001\"]",
            );
            let config =
                Config::load(&ConfigSources::default().file("sp.toml")).expect("valid config");
            assert_eq!(
                config.redis.cluster_nodes,
                ["10.0.0.1:7000", "cache-b:7001"]
            );
            assert!(config.redis.configured());
            Ok(())
        });
        let message = load_err(|jail| {
            jail.create_file("sp.toml", "[redis]\ncluster_nodes = [\"cache-b\"]\n")
                .expect("file");
        });
        assert!(message.contains("redis.cluster_nodes"), "{message}");
        assert!(message.contains("cache-b"), "{message}");
    }

    #[test]
    fn unknown_file_key_is_refused() {
        let message = load_err(|jail| {
            jail.create_file("sp.toml", "[server]\nlisen = \"127.0.0.1:1\"\n")
                .expect("file");
        });
        assert!(message.contains("lisen"), "{message}");
        assert!(message.contains("sp.toml"), "{message}");
    }

    #[test]
    fn semantic_checks_name_the_key() {
        let message = load_err(|jail| {
            jail.create_file("sp.toml", "").expect("file");
            jail.set_env("DATABASE_URL", "mysql://x");
        });
        assert!(message.contains("database.url"), "{message}");

        let message = load_err(|jail| {
            jail.create_file("sp.toml", "[model]\npath = \"/nonexistent/m.gguf\"\n")
                .expect("file");
        });
        assert!(message.contains("model.path"), "{message}");

        let message = load_err(|jail| {
            jail.create_file("sp.toml", "").expect("file");
            jail.set_env("SP_DATABASE__HNSW_EF_SEARCH", "0");
        });
        assert!(message.contains("database.hnsw_ef_search"), "{message}");

        let message = load_err(|jail| {
            jail.create_file("sp.toml", "[database]\nhnsw_m = 1\n")
                .expect("file");
        });
        assert!(message.contains("database.hnsw_m"), "{message}");

        let message = load_err(|jail| {
            jail.create_file(
                "sp.toml",
                "[database]\nhnsw_m = 24\nhnsw_ef_construction = 40\n",
            )
            .expect("file");
        });
        assert!(
            message.contains("database.hnsw_ef_construction"),
            "{message}"
        );
    }

    #[test]
    fn empty_database_url_means_embedded() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "");
            let config = Config::load(&ConfigSources::default()).expect("valid");
            assert!(config.database.url.is_none());
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Config::load(
            &ConfigSources::default()
                .without_env()
                .file("/nonexistent.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent.toml"), "{err}");
    }
}
