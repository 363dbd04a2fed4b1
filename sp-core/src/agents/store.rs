//! What an agent backend stores: definitions, runs with their event streams, and leases.

use async_trait::async_trait;

use super::definition::{Agent, NewAgent};
use super::journal::{AgentRun, RecordedEvent, RunEvent, RunProgress};
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::workflows::Lease;
use crate::{Id, Page, PageRequest, Timestamp};

/// Storage of agents and their runs (SQLite and PostgreSQL in `sp-data`;
/// [`MemoryAgentStore`](super::MemoryAgentStore) in the process).
///
/// A run's events are appended only by the process holding its lease, at the next sequence
/// number, together with the summary they change — atomically — so a process that lost its
/// lease (it stalled and another took the run over) cannot write a step twice. Decisions on
/// approvals and cancellations come from any process and need no lease.
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Stores `agent` (checked by the caller): version 1, or the next version of the name.
    async fn define(&self, agent: &NewAgent) -> Result<Agent>;

    /// The current definition of `name` (`SP-RES-001` when there is none).
    async fn agent(&self, namespace: &Namespace, name: &str) -> Result<Agent>;

    /// The namespace's agents by name.
    async fn agents(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Agent>>;

    /// Forgets `name` (its runs stay; `SP-RES-001` when there is none).
    async fn remove_agent(&self, namespace: &Namespace, name: &str) -> Result<()>;

    /// Stores a new run with its first events (`run.events` of them), leased to
    /// `lease.owner`.
    async fn create_run(&self, run: &AgentRun, events: &[RunEvent], lease: &Lease) -> Result<()>;

    /// Appends `events` as `after + 1 …` to a run leased to `owner` that is not final and
    /// has exactly `after` events, and sets its summary to `progress`; `false` (nothing
    /// written) otherwise.
    async fn append(
        &self,
        run: Id,
        owner: &str,
        after: u64,
        events: &[RunEvent],
        progress: &RunProgress,
    ) -> Result<bool>;

    /// Appends `event` to a run of `namespace` that is not final and has exactly `after`
    /// events, whoever holds its lease (a person's decision, a cancellation), sets its
    /// summary to `progress` and, when `lease` is given, leases the run to it. `SP-RES-002`
    /// when the run ended or another event was appended since `after`.
    async fn append_unleased(
        &self,
        namespace: &Namespace,
        run: Id,
        after: u64,
        event: &RunEvent,
        progress: &RunProgress,
        lease: Option<&Lease>,
    ) -> Result<AgentRun>;

    /// A run's summary (`SP-RES-001` when the namespace has no such run).
    async fn run(&self, namespace: &Namespace, id: Id) -> Result<AgentRun>;

    /// A run's events from `after + 1`, at most `limit` (`SP-RES-001` when the namespace has
    /// no such run).
    async fn events(
        &self,
        namespace: &Namespace,
        id: Id,
        after: u64,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>>;

    /// A run's summary and all its events, whatever its namespace (for the process driving
    /// it).
    async fn stored_run(&self, id: Id) -> Result<(AgentRun, Vec<RecordedEvent>)>;

    /// The namespace's runs, newest first; of one agent when `agent` is given.
    async fn runs(
        &self,
        namespace: &Namespace,
        agent: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<AgentRun>>;

    /// Extends `owner`'s lease to `until` on those of `runs` it still holds.
    async fn renew_leases(&self, owner: &str, runs: &[Id], until: Timestamp) -> Result<()>;

    /// Takes over up to `limit` runs in status `running` whose lease lapsed before `now`,
    /// leasing them to `lease.owner`; returns their ids.
    async fn claim_lapsed(&self, lease: &Lease, now: Timestamp, limit: u32) -> Result<Vec<Id>>;
}
