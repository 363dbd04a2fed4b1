//! The auth stores (API keys, the audit log, refresh tokens) on the embedded SQLite database
//! and on PostgreSQL, each written once, and the rate limiter Redis shares between processes.

mod audit;
mod cached_keys;
mod cached_tenants;
mod keys;
#[cfg(feature = "redis")]
mod rate_limit;
mod refresh;
mod tenants;

#[cfg(feature = "postgres")]
pub use audit::PgAuditStore;
pub use audit::{SqlAuditStore, SqliteAuditStore};
pub use cached_keys::CachedKeyStore;
pub use cached_tenants::CachedTenantStore;
#[cfg(feature = "postgres")]
pub use keys::PgKeyStore;
pub use keys::{SqlKeyStore, SqliteKeyStore};
#[cfg(feature = "redis")]
pub use rate_limit::RedisRateLimiter;
#[cfg(feature = "postgres")]
pub use refresh::PgRefreshStore;
pub use refresh::{SqlRefreshStore, SqliteRefreshStore};
#[cfg(feature = "postgres")]
pub use tenants::PgTenantStore;
pub use tenants::{SqlTenantStore, SqliteTenantStore};
