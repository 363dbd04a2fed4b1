//! The cache backends: in-process (always compiled) and Redis (feature `redis`).

mod memory;
#[cfg(feature = "redis")]
pub(crate) mod outage;
#[cfg(feature = "redis")]
mod redis;

pub use memory::MemoryCache;
#[cfg(feature = "redis")]
pub use redis::RedisCache;
