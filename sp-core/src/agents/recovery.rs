//! Leases of the runs a process drives: kept alive, taken over from stopped processes, and
//! handed back at a planned stop — as workflow runs are.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::engine::Agents;
use crate::error::Result;
use crate::{Id, Timestamp};

impl Agents {
    /// Keeps this process's leases alive and takes over runs whose process stopped, every
    /// third of `lease_ms`, until the task is aborted.
    pub fn spawn_recovery(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        let every = Duration::from_millis((self.config.lease_ms / 3).max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = self.recover_once().await {
                    tracing::warn!(%err, "agent lease renewal or recovery failed");
                }
            }
        })
    }

    /// One round of [`spawn_recovery`](Self::spawn_recovery); returns the runs it resumed.
    pub async fn recover_once(self: &Arc<Self>) -> Result<Vec<Id>> {
        if self.handed_back.load(Ordering::SeqCst) {
            return Ok(Vec::new());
        }
        let lease = self.lease();
        let driving: Vec<Id> = self
            .driving
            .lock()
            .map(|d| d.keys().copied().collect())
            .unwrap_or_default();
        self.store
            .renew_leases(&self.owner, &driving, lease.until)
            .await?;
        let room = self.config.max_running.saturating_sub(driving.len() as u32);
        if room == 0 {
            return Ok(Vec::new());
        }
        let claimed = self
            .store
            .claim_lapsed(&lease, Timestamp::now(), room)
            .await?;
        for id in &claimed {
            tracing::info!(run = %id, "resuming an agent run whose process stopped");
            self.spawn_drive(*id);
        }
        Ok(claimed)
    }

    /// A planned stop: stops driving and lets this process's leases lapse now, so another
    /// process takes the runs over at once. Afterwards nothing starts here (`SP-GEN-002`).
    pub async fn hand_back(&self) -> Result<Vec<Id>> {
        self.handed_back.store(true, Ordering::SeqCst);
        let runs: Vec<Id> = match self.driving.lock() {
            Ok(driving) => driving
                .iter()
                .map(|(id, switch)| {
                    switch.send_replace(true);
                    *id
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        self.store
            .renew_leases(&self.owner, &runs, Timestamp::now())
            .await?;
        Ok(runs)
    }
}
