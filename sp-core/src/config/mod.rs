//! Configuration shared by the server, the CLI and embedding applications.
//!
//! Sources, lowest precedence first: built-in defaults, an optional TOML file, `SP_*`
//! environment variables (`__` separates sections: `SP_SERVER__LISTEN`), and the conventional
//! `DATABASE_URL` / `REDIS_URL`. [`Config::load`] merges and validates them; every error names
//! the offending key and where its value came from.

mod load;
mod validate;
pub use load::ConfigSources;

mod root;
pub use root::{
    AuthConfig, CacheConfig, Config, DatabaseConfig, Eviction, HealthConfig, JwtConfig, LogConfig,
    LogFormat, ModelConfig, RedisConfig, ServerConfig, default_data_dir,
};
