//! The event log's knobs (`[events]` in the configuration).

use serde::{Deserialize, Serialize};

/// Limits of the event log and its live fan-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// The largest `data` an event may carry, serialized (bytes).
    pub max_data_bytes: usize,
    /// Events a live subscriber may fall behind by before it is told to catch up from the
    /// log (it then replays from its last offset).
    pub live_buffer: usize,
    /// Bytes of serialized events a live subscriber may fall behind by (each subscriber has
    /// a buffer of its own; one that stops reading costs only this).
    pub live_buffer_bytes: usize,
    /// Live feeds (SSE and WebSocket followers) one key may hold open at once.
    pub max_followers_per_key: usize,
    /// Callers' live feeds one process holds open at once.
    pub max_followers: usize,
    /// Seconds a live feed stays open (review finding M10): then it ends with `expired`
    /// (SSE) or close code 4001 (WebSocket), and the client resumes from its last offset.
    /// 0: no limit.
    pub max_follow_secs: u64,
    /// Deliveries of one event to a consumer group's handler before it goes to the
    /// dead-letter queue.
    pub max_attempts: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            max_data_bytes: 256 * 1024,
            live_buffer: 4096,
            live_buffer_bytes: 8 * 1024 * 1024,
            max_followers_per_key: 16,
            max_followers: 1024,
            max_follow_secs: 3600,
            max_attempts: 5,
        }
    }
}
