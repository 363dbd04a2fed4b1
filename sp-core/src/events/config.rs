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
    /// Deliveries of one event to a consumer group's handler before it goes to the
    /// dead-letter queue.
    pub max_attempts: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            max_data_bytes: 256 * 1024,
            live_buffer: 4096,
            max_attempts: 5,
        }
    }
}
