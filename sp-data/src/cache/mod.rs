//! The cache backends: in-process (always compiled) and Redis (feature `redis`), and the
//! rate limiter Redis shares between processes.

mod memory;
#[cfg(feature = "redis")]
mod outage;
#[cfg(feature = "redis")]
mod rate_limit;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryCache;
#[cfg(feature = "redis")]
pub use rate_limit::RedisRateLimiter;
#[cfg(feature = "redis")]
pub use redis::RedisCache;
