//! What a person or a program does to a run from outside its loop: cancel it, decide on a
//! call waiting for approval, replay it from its events, fork it from a step.

use std::sync::Arc;

use super::engine::{Agents, ReplayReport};
use super::journal::{AgentRun, AgentRunStatus, RecordedEvent, RunEvent};
use super::state::RunState;
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::workflows::Lease;
use crate::{ErrorCode, Id};

/// How often an outside write is retried when the run moved on meanwhile.
const OUTSIDE_WRITE_ATTEMPTS: usize = 8;

impl Agents {
    /// Cancels a run that has not ended: nothing more of it is recorded, and a step under
    /// way in this process is stopped at once (one in another process finishes, but its
    /// result is not kept). `SP-RES-002` when it already ended.
    pub async fn cancel(&self, namespace: &Namespace, id: Id) -> Result<AgentRun> {
        let run = self
            .outside_write(namespace, id, None, |_| {
                Ok(RunEvent::Finished {
                    status: AgentRunStatus::Cancelled,
                    output: None,
                    error: None,
                })
            })
            .await?;
        if let Ok(driving) = self.driving.lock()
            && let Some(switch) = driving.get(&id)
        {
            let _ = switch.send(true);
        }
        Ok(run)
    }

    /// Approves call `call_id` of a run waiting for approval, and drives the run on here.
    /// `SP-RES-002` when the run does not wait for a decision on that call.
    pub async fn approve(
        self: &Arc<Self>,
        namespace: &Namespace,
        id: Id,
        call_id: &str,
    ) -> Result<AgentRun> {
        self.decide(namespace, id, call_id, true, None).await
    }

    /// Rejects call `call_id`; the model is told, with `reason`, and the run goes on.
    pub async fn reject(
        self: &Arc<Self>,
        namespace: &Namespace,
        id: Id,
        call_id: &str,
        reason: Option<String>,
    ) -> Result<AgentRun> {
        if let Some(reason) = &reason {
            crate::nul::refuse_nul("reason", reason)?;
            if reason.len() > 4096 {
                return Err(Error::invalid_input("reason", "at most 4096 bytes"));
            }
        }
        self.decide(namespace, id, call_id, false, reason).await
    }

    async fn decide(
        self: &Arc<Self>,
        namespace: &Namespace,
        id: Id,
        call_id: &str,
        approved: bool,
        reason: Option<String>,
    ) -> Result<AgentRun> {
        let lease = self.lease();
        let run = self
            .outside_write(namespace, id, Some(&lease), |state| {
                if state.status() != AgentRunStatus::WaitingApproval || !state.awaits(call_id) {
                    return Err(Error::Conflict(format!(
                        "run {id} does not wait for a decision on call `{call_id}`"
                    )));
                }
                Ok(RunEvent::ApprovalDecided {
                    call_id: call_id.to_owned(),
                    approved,
                    reason: reason.clone(),
                })
            })
            .await?;
        // The driver that asked may still be finishing here (it stops right after recording
        // the question): drive on once it has, rather than leave the run to its lease.
        let engine = self.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                let busy = engine
                    .driving
                    .lock()
                    .map(|driving| driving.contains_key(&id))
                    .unwrap_or(false);
                if !busy {
                    engine.spawn_drive(id);
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        });
        Ok(run)
    }

    /// Appends the event `make` builds from the run's current state, retrying when another
    /// event was recorded meanwhile.
    async fn outside_write(
        &self,
        namespace: &Namespace,
        id: Id,
        lease: Option<&Lease>,
        make: impl Fn(&RunState) -> Result<RunEvent>,
    ) -> Result<AgentRun> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let events = self.all_events(namespace, id).await?;
            let state = RunState::fold(&events)?;
            if state.status().is_final() {
                return Err(Error::Conflict(format!(
                    "run {id} already ended ({})",
                    state.status().as_str()
                )));
            }
            let event = make(&state)?;
            let mut next = state.clone();
            next.apply(&event)?;
            let written = self
                .store
                .append_unleased(
                    namespace,
                    id,
                    state.events(),
                    &event,
                    &next.progress(),
                    lease,
                )
                .await;
            match written {
                Ok(run) => {
                    let recorded = RecordedEvent {
                        seq: next.events(),
                        at: run.updated_at,
                        event,
                    };
                    self.publish(&run, &recorded).await;
                    return Ok(run);
                }
                Err(err)
                    if err.code() == ErrorCode::Conflict && attempt < OUTSIDE_WRITE_ATTEMPTS =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(5 * attempt as u64)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn all_events(&self, namespace: &Namespace, id: Id) -> Result<Vec<RecordedEvent>> {
        let mut events = Vec::new();
        loop {
            let page = self
                .store
                .events(namespace, id, events.len() as u64, 1000)
                .await?;
            if page.is_empty() {
                return Ok(events);
            }
            events.extend(page);
        }
    }

    /// Rebuilds the run from its events alone — no model, no tool — and checks that they
    /// reach the state recorded for it (`SP-AGT-004` where they part).
    pub async fn replay(&self, namespace: &Namespace, id: Id) -> Result<ReplayReport> {
        let (run, events) = self.snapshot(namespace, id).await?;
        let mismatch = |reason: String| Error::AgentReplayMismatch {
            run: id.to_string(),
            reason,
        };
        let state = RunState::fold(&events).map_err(|err| mismatch(err.to_string()))?;
        let progress = state.progress();
        let checks = [
            ("status", progress.status == run.status),
            ("output", progress.output == run.output),
            (
                "error",
                progress.error.as_ref().map(|e| &e.code) == run.error.as_ref().map(|e| &e.code),
            ),
            ("steps", progress.steps == run.steps),
            ("usage", progress.usage == run.usage),
            ("event count", state.events() == run.events),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, same)| !same) {
            return Err(mismatch(format!("the events give another {field}")));
        }
        Ok(ReplayReport {
            run: id,
            events: state.events(),
            steps: state.steps(),
            status: progress.status,
            output: progress.output,
            usage: progress.usage,
            matches: true,
        })
    }

    /// The run's summary and its events as of one moment: a run still going may append
    /// between the two reads, so they are read until the summary counts exactly the events
    /// read (`SP-RES-002` when it keeps changing).
    async fn snapshot(
        &self,
        namespace: &Namespace,
        id: Id,
    ) -> Result<(super::journal::AgentRun, Vec<super::journal::RecordedEvent>)> {
        for attempt in 0..20u64 {
            let run = self.store.run(namespace, id).await?;
            let events = self.all_events(namespace, id).await?;
            if events.len() as u64 == run.events {
                return Ok((run, events));
            }
            tokio::time::sleep(std::time::Duration::from_millis(5 * (attempt + 1))).await;
        }
        Err(Error::Conflict(format!(
            "agent run {id} keeps changing; replay it once it has ended"
        )))
    }

    /// A new run with the events of run `id` before its model call `step`, driven live from
    /// there (step 1 re-runs it all), charged to the key the original run was charged to.
    /// `SP-VAL-001` for a step the run never reached.
    pub async fn fork(
        self: &Arc<Self>,
        namespace: &Namespace,
        id: Id,
        step: u32,
    ) -> Result<AgentRun> {
        self.fork_as(namespace, id, step, None).await
    }

    /// [`fork`](Self::fork), its model calls charged to `key` (whoever asked for the fork)
    /// instead of the original run's key when one is given.
    pub async fn fork_as(
        self: &Arc<Self>,
        namespace: &Namespace,
        id: Id,
        step: u32,
        key: Option<crate::workflows::ChargeKey>,
    ) -> Result<AgentRun> {
        let source = self.store.run(namespace, id).await?;
        let events = self.all_events(namespace, id).await?;
        if step == 0 || step > source.steps.max(1) {
            return Err(Error::invalid_input(
                "step",
                format!("run {id} has steps 1-{}", source.steps.max(1)),
            ));
        }
        let cut = events
            .iter()
            .position(|e| matches!(e.event, RunEvent::ModelOutput { step: s, .. } if s >= step))
            .unwrap_or(events.len());
        let mut copied: Vec<RunEvent> = events[..cut]
            .iter()
            .map(|e| e.event.clone())
            .filter(|e| !matches!(e, RunEvent::Finished { .. } | RunEvent::Forked { .. }))
            .collect();
        let Some(RunEvent::Started { agent, .. }) = copied.first_mut().map(|started| {
            if let (Some(key), RunEvent::Started { charge_to, .. }) = (key, &mut *started) {
                *charge_to = Some(key);
            }
            started.clone()
        }) else {
            return Err(Error::internal(format!("run {id} has no start event")));
        };
        copied.insert(1, RunEvent::Forked { from: id, step });
        self.create_and_drive(namespace, Id::new(), &agent, None, copied)
            .await
    }
}
