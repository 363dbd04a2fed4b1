//! Agents and runs in process memory: for tests, examples and embedders that keep nothing on
//! disk. It behaves as the SQL stores do (the shared suite in `sp-data/tests/agents` runs on
//! it too): versions per name, appends only through a run's lease at the next sequence
//! number, lapsed leases taken over.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::definition::{Agent, NewAgent};
use super::journal::{AgentRun, RecordedEvent, RunEvent, RunProgress};
use super::store::AgentStore;
use crate::error::{Error, Resource, Result};
use crate::knowledge::Namespace;
use crate::workflows::Lease;
use crate::{Id, Page, PageRequest, Timestamp};

/// An [`AgentStore`] in memory, gone with the process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::agents::{AgentStore, MemoryAgentStore, NewAgent};
///
/// let store = MemoryAgentStore::default();
/// let agent = NewAgent::new("helper", "Be brief.");
/// assert_eq!(store.define(&agent).await?.version, 1);
/// assert_eq!(store.define(&agent).await?.version, 2);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryAgentStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    agents: HashMap<(Namespace, String), Agent>,
    runs: Vec<Held>,
}

#[derive(Debug)]
struct Held {
    run: AgentRun,
    events: Vec<RecordedEvent>,
    owner: String,
    lease_until: Timestamp,
}

fn run_unknown(id: Id) -> Error {
    Error::NotFound {
        kind: Resource::AgentRun,
        id: id.to_string(),
    }
}

fn agent_unknown(name: &str) -> Error {
    Error::NotFound {
        kind: Resource::Agent,
        id: name.to_owned(),
    }
}

impl MemoryAgentStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn held(&mut self, id: Id) -> Option<&mut Held> {
        self.runs.iter_mut().find(|h| h.run.id == id)
    }
}

impl Held {
    fn record(&mut self, events: &[RunEvent], progress: &RunProgress) {
        let at = Timestamp::now();
        for event in events {
            self.run.events += 1;
            self.events.push(RecordedEvent {
                seq: self.run.events,
                at,
                event: event.clone(),
            });
        }
        self.run.status = progress.status;
        self.run.steps = progress.steps;
        self.run.usage = progress.usage;
        self.run.output = progress.output.clone();
        self.run.error = progress.error.clone();
        self.run.updated_at = at;
    }
}

#[async_trait]
impl AgentStore for MemoryAgentStore {
    async fn define(&self, agent: &NewAgent) -> Result<Agent> {
        let now = Timestamp::now();
        let mut state = self.state();
        let key = (agent.namespace.clone(), agent.name.clone());
        let (version, created_at) = match state.agents.get(&key) {
            Some(known) => (known.version + 1, known.created_at),
            None => (1, now),
        };
        let defined = Agent {
            definition: agent.clone(),
            version,
            created_at,
            updated_at: now,
        };
        state.agents.insert(key, defined.clone());
        Ok(defined)
    }

    async fn agent(&self, namespace: &Namespace, name: &str) -> Result<Agent> {
        self.state()
            .agents
            .get(&(namespace.clone(), name.to_owned()))
            .cloned()
            .ok_or_else(|| agent_unknown(name))
    }

    async fn agents(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Agent>> {
        let after: String = page
            .cursor
            .as_ref()
            .map(|c| c.decode::<String>())
            .transpose()?
            .unwrap_or_default();
        let mut found: Vec<Agent> = self
            .state()
            .agents
            .values()
            .filter(|a| a.definition.namespace == *namespace && a.definition.name > after)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.definition.name.cmp(&b.definition.name));
        found.truncate(page.limit as usize + 1);
        Page::from_rows(found, page.limit, |a| a.definition.name.clone())
    }

    async fn remove_agent(&self, namespace: &Namespace, name: &str) -> Result<()> {
        self.state()
            .agents
            .remove(&(namespace.clone(), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| agent_unknown(name))
    }

    async fn create_run(&self, run: &AgentRun, events: &[RunEvent], lease: &Lease) -> Result<()> {
        let mut state = self.state();
        if state.held(run.id).is_some() {
            return Err(Error::Conflict(format!("run {} exists", run.id)));
        }
        let mut held = Held {
            run: AgentRun {
                events: 0,
                ..run.clone()
            },
            events: Vec::new(),
            owner: lease.owner.clone(),
            lease_until: lease.until,
        };
        let progress = RunProgress {
            status: run.status,
            steps: run.steps,
            usage: run.usage,
            output: run.output.clone(),
            error: run.error.clone(),
        };
        held.record(events, &progress);
        state.runs.push(held);
        Ok(())
    }

    async fn append(
        &self,
        run: Id,
        owner: &str,
        after: u64,
        events: &[RunEvent],
        progress: &RunProgress,
    ) -> Result<bool> {
        let mut state = self.state();
        let Some(held) = state.held(run) else {
            return Ok(false);
        };
        if held.owner != owner || held.run.status.is_final() || held.run.events != after {
            return Ok(false);
        }
        held.record(events, progress);
        Ok(true)
    }

    async fn append_unleased(
        &self,
        namespace: &Namespace,
        run: Id,
        after: u64,
        event: &RunEvent,
        progress: &RunProgress,
        lease: Option<&Lease>,
    ) -> Result<AgentRun> {
        let mut state = self.state();
        let held = state
            .held(run)
            .filter(|h| h.run.namespace == *namespace)
            .ok_or_else(|| run_unknown(run))?;
        if held.run.status.is_final() {
            return Err(Error::Conflict(format!(
                "run {run} already ended ({})",
                held.run.status.as_str()
            )));
        }
        if held.run.events != after {
            return Err(Error::Conflict(format!(
                "run {run} moved on (event {} recorded meanwhile)",
                held.run.events
            )));
        }
        held.record(std::slice::from_ref(event), progress);
        if let Some(lease) = lease {
            held.owner = lease.owner.clone();
            held.lease_until = lease.until;
        }
        Ok(held.run.clone())
    }

    async fn run(&self, namespace: &Namespace, id: Id) -> Result<AgentRun> {
        self.state()
            .held(id)
            .filter(|h| h.run.namespace == *namespace)
            .map(|h| h.run.clone())
            .ok_or_else(|| run_unknown(id))
    }

    async fn events(
        &self,
        namespace: &Namespace,
        id: Id,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>> {
        let mut state = self.state();
        let held = state
            .held(id)
            .filter(|h| h.run.namespace == *namespace)
            .ok_or_else(|| run_unknown(id))?;
        Ok(held
            .events
            .iter()
            .filter(|e| e.seq > after)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn stored_run(&self, id: Id) -> Result<(AgentRun, Vec<RecordedEvent>)> {
        let mut state = self.state();
        let held = state.held(id).ok_or_else(|| run_unknown(id))?;
        Ok((held.run.clone(), held.events.clone()))
    }

    async fn runs(
        &self,
        namespace: &Namespace,
        agent: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AgentRun>> {
        let before: Option<Id> = page.cursor.as_ref().map(|c| c.decode::<Id>()).transpose()?;
        let mut found: Vec<AgentRun> = self
            .state()
            .runs
            .iter()
            .map(|h| &h.run)
            .filter(|r| r.namespace == *namespace && agent.is_none_or(|a| r.agent == a))
            .filter(|r| before.is_none_or(|b| r.id < b))
            .cloned()
            .collect();
        found.sort_by_key(|r| std::cmp::Reverse(r.id));
        found.truncate(page.limit as usize + 1);
        Page::from_rows(found, page.limit, |r| r.id)
    }

    async fn renew_leases(&self, owner: &str, runs: &[Id], until: Timestamp) -> Result<()> {
        let mut state = self.state();
        for id in runs {
            if let Some(held) = state.held(*id).filter(|h| h.owner == owner) {
                held.lease_until = until;
            }
        }
        Ok(())
    }

    async fn claim_lapsed(&self, lease: &Lease, now: Timestamp, limit: u32) -> Result<Vec<Id>> {
        let mut state = self.state();
        let mut lapsed: Vec<&mut Held> = state
            .runs
            .iter_mut()
            .filter(|h| h.run.status == super::AgentRunStatus::Running && h.lease_until < now)
            .collect();
        lapsed.sort_by_key(|h| h.lease_until);
        Ok(lapsed
            .into_iter()
            .take(limit as usize)
            .map(|held| {
                held.owner = lease.owner.clone();
                held.lease_until = lease.until;
                held.run.id
            })
            .collect())
    }
}
