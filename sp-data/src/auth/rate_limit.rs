//! The rate limiter on Redis: every `sp` process on the same Redis spends one budget per key.
//!
//! One atomic script per request, the same GCRA arithmetic as `sp_core::auth::gcra_decide`,
//! on the Redis server's clock (so replicas with skewed clocks agree). When Redis cannot
//! answer, the process falls back to its own in-process limiter — requests are still
//! limited, per replica — and logs once per outage.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{ClientLike, LuaInterface, Options};
use sp_core::auth::{Decision, LocalRateLimiter, Quota, RateLimiter};

use crate::RedisStore;
use crate::cache::outage::Outage;

/// GCRA in microseconds. KEYS[1]: the key's arrival time; ARGV: interval, period (µs),
/// cost, force (1: spend past the budget). Returns {allowed, remaining, reset_after_us,
/// retry_after_us}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local force = ARGV[4] == '1'
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * cost
local ahead = new_tat - now
local fits = ahead <= period
if fits or force then
  if cost > 0 then
    redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil(ahead / 1000) + 1)
  end
  local remaining = 0
  if fits then remaining = math.floor((period - ahead) / interval) end
  local retry = 0
  if not fits then retry = ahead - period end
  return {fits and 1 or 0, remaining, ahead, retry}
end
return {0, 0, tat - now, ahead - period}
";

/// Gives back `ARGV[2]` units of `ARGV[1]` microseconds each, never past now (full).
const REFUND: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new_tat = tat - tonumber(ARGV[1]) * tonumber(ARGV[2])
if new_tat <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 1
";

/// The Redis key of `key`'s budget. The `{…}` hash tag pins every Redis key of one API key
/// to one Redis Cluster slot, so a script that touches several of them (a budget and a quota,
/// say) stays legal on a cluster; different API keys still spread over the masters.
fn budget_key(key: &str) -> String {
    format!("sp:ratelimit:{{{key}}}")
}

/// Per-key rate limits shared through Redis.
pub struct RedisRateLimiter {
    client: fred::clients::Client,
    options: Options,
    fallback: LocalRateLimiter,
    outage: Outage,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter").finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limiter on `redis`; a call slower than `timeout` falls back to the local limiter.
    pub fn new(redis: &RedisStore, timeout: Duration) -> Self {
        RedisRateLimiter {
            client: redis.client().clone(),
            options: Options {
                timeout: Some(timeout),
                max_attempts: Some(1),
                ..Options::default()
            },
            fallback: LocalRateLimiter::default(),
            outage: Outage::new("redis rate limiter", "limiting per process"),
        }
    }

    async fn shared(
        &self,
        key: &str,
        quota: &Quota,
        cost: u32,
        force: bool,
    ) -> Result<Decision, String> {
        if !self.client.is_connected() {
            return Err("not connected".into());
        }
        let interval = quota.interval().as_micros().max(1) as i64;
        let period = interval * i64::from(quota.count.max(1));
        let reply: Vec<i64> = self
            .client
            .with_options(&self.options)
            .eval(
                GCRA,
                vec![budget_key(key)],
                vec![interval, period, i64::from(cost), i64::from(force)],
            )
            .await
            .map_err(|err| err.to_string())?;
        let [allowed, remaining, reset, retry] = reply[..] else {
            return Err(format!("unexpected script reply {reply:?}"));
        };
        let micros = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_after: micros(reset),
            retry_after: micros(retry),
            tat_nanos: 0,
        })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn spend(&self, key: &str, quota: &Quota, cost: u32, force: bool) -> Decision {
        match self.shared(key, quota, cost, force).await {
            Ok(decision) => {
                self.outage.succeeded();
                decision
            }
            Err(reason) => {
                self.outage.failed(reason);
                self.fallback.spend_now(key, quota, cost, force)
            }
        }
    }

    async fn refund(&self, key: &str, quota: &Quota, units: u32) {
        let interval = quota.interval().as_micros().max(1) as i64;
        let refunded: Result<i64, _> = self
            .client
            .with_options(&self.options)
            .eval(
                REFUND,
                vec![budget_key(key)],
                vec![interval, i64::from(units)],
            )
            .await;
        match refunded {
            Ok(_) => self.outage.succeeded(),
            Err(err) => {
                self.outage.failed(err.to_string());
                self.fallback.refund_now(key, quota, units);
            }
        }
    }
}
