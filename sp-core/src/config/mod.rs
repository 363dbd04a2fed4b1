//! Configuration shared by the server, the CLI and embedding applications.
//!
//! Sources, lowest precedence first: built-in defaults, an optional TOML file, `SP_*`
//! environment variables (`__` separates sections: `SP_SERVER__LISTEN`), and the conventional
//! `DATABASE_URL` / `REDIS_URL`; each secret setting may instead name a file holding it
//! (`SP_ADMIN_KEY_FILE`, `DATABASE_URL_FILE`, …: [`secret_files`]). [`Config::load`] merges and validates them; every error names
//! the offending key and where its value came from.

mod cluster;
mod load;
mod otel;
mod retention;
mod secrets;
mod validate;
pub use cluster::{ClusterConfig, MissingModel};
pub use load::ConfigSources;
pub use otel::OtelConfig;
pub use retention::RetentionConfig;
pub use secrets::{REDACTED, redact_url, secret_files};

mod root;
pub use root::{
    AuthConfig, CacheConfig, Config, DatabaseConfig, Eviction, HealthConfig, JwtConfig, LogConfig,
    LogFormat, ModelConfig, RedisConfig, ServerConfig, default_data_dir,
};
