//! Rows of the agent tables as both backends return them, and their conversion to `sp-core`
//! types.

use serde_json::Value;
use sp_core::agents::{Agent, AgentRun, AgentRunStatus, NewAgent, RecordedEvent, RunEvent};
use sp_core::chat::Usage;
use sp_core::knowledge::Namespace;
use sp_core::{Error, Id, Page, PageRequest, Result};

use crate::sql::{DbId, DbTime};
use crate::workflows::rows::json;

fn count<T: TryFrom<i64>>(value: i64) -> Result<T> {
    T::try_from(value).map_err(|_| Error::internal("stored number out of range"))
}

#[derive(sqlx::FromRow)]
pub(crate) struct AgentRow {
    version: i32,
    definition: Value,
    created_at: DbTime,
    updated_at: DbTime,
}

impl AgentRow {
    pub(crate) fn into_agent(self) -> Result<Agent> {
        Ok(Agent {
            definition: json::<NewAgent>("agent definition", self.definition)?,
            version: count(i64::from(self.version))?,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// A page of agents fetched as `limit + 1` rows by name.
pub(crate) fn agents_page(rows: Vec<AgentRow>, page: &PageRequest) -> Result<Page<Agent>> {
    let items = rows
        .into_iter()
        .map(AgentRow::into_agent)
        .collect::<Result<Vec<_>>>()?;
    Page::from_rows(items, page.limit, |a| a.definition.name.clone())
}

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: DbId,
    namespace: String,
    agent: String,
    version: i32,
    status: String,
    input: String,
    output: Option<String>,
    error: Option<Value>,
    steps: i32,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    correlation_id: String,
    events: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

impl RunRow {
    pub(crate) fn into_run(self) -> Result<AgentRun> {
        Ok(AgentRun {
            id: self.id.0,
            namespace: Namespace::new(self.namespace)?,
            agent: self.agent,
            version: count(i64::from(self.version))?,
            status: AgentRunStatus::parse(&self.status)
                .ok_or_else(|| Error::internal("stored agent run status"))?,
            input: self.input,
            output: self.output,
            error: self.error.map(|e| json("agent run error", e)).transpose()?,
            steps: count(i64::from(self.steps))?,
            usage: Usage {
                prompt_tokens: count(self.prompt_tokens)?,
                completion_tokens: count(self.completion_tokens)?,
                cached_tokens: count(self.cached_tokens)?,
            },
            correlation_id: self.correlation_id,
            events: count(self.events)?,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// A page of runs fetched newest first, `limit + 1` of them.
pub(crate) fn runs_page(rows: Vec<RunRow>, page: &PageRequest) -> Result<Page<AgentRun>> {
    let runs = rows
        .into_iter()
        .map(RunRow::into_run)
        .collect::<Result<Vec<_>>>()?;
    Page::from_rows(runs, page.limit, |r| r.id)
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    at: DbTime,
    event: Value,
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<RecordedEvent> {
        Ok(RecordedEvent {
            seq: count(self.seq)?,
            at: self.at.0,
            event: json::<RunEvent>("agent run event", self.event)?,
        })
    }
}

/// No such run in the namespace.
pub(crate) fn run_unknown(id: Id) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::AgentRun,
        id: id.to_string(),
    }
}

/// No such agent in the namespace.
pub(crate) fn agent_unknown(name: &str) -> Error {
    Error::NotFound {
        kind: sp_core::Resource::Agent,
        id: name.to_owned(),
    }
}
