//! An agent store per backend, and runs to put in it.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::sync::Arc;

use sp_core::agents::{
    Agent, AgentRun, AgentRunStatus, AgentStore, MemoryAgentStore, NewAgent, RunEvent,
};
use sp_core::chat::Usage;
use sp_core::knowledge::Namespace;
use sp_core::workflows::Lease;
use sp_core::{Id, Timestamp};
use sp_tests::TestDatabase;

pub struct Fixture {
    pub store: Arc<dyn AgentStore>,
    db: Option<TestDatabase>,
}

impl Fixture {
    pub async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite().await)
    }

    pub async fn postgres() -> Self {
        Self::on(TestDatabase::postgres("agents_test").await)
    }

    pub async fn memory() -> Self {
        Fixture {
            store: Arc::new(MemoryAgentStore::default()),
            db: None,
        }
    }

    fn on(db: TestDatabase) -> Self {
        Fixture {
            store: db.database.agent_store(),
            db: Some(db),
        }
    }

    pub async fn cleanup(self) {
        if let Some(db) = self.db {
            db.cleanup().await;
        }
    }

    /// Defines `name` and stores a run of it with its `started` event, leased to `lease`.
    pub async fn started_run(
        &self,
        namespace: &Namespace,
        name: &str,
        lease: &Lease,
    ) -> (AgentRun, Agent) {
        let agent = self
            .store
            .define(&NewAgent {
                namespace: namespace.clone(),
                ..NewAgent::new(name, "Be brief.")
            })
            .await
            .unwrap();
        let id = Id::new();
        let now = Timestamp::now();
        let run = AgentRun {
            id,
            namespace: namespace.clone(),
            agent: name.into(),
            version: agent.version,
            status: AgentRunStatus::Running,
            input: "Hello?".into(),
            output: None,
            error: None,
            steps: 0,
            usage: Usage::default(),
            correlation_id: id.to_string(),
            events: 1,
            created_at: now,
            updated_at: now,
        };
        let started = RunEvent::Started {
            agent: Box::new(agent.clone()),
            system: "Be brief.".into(),
            input: "Hello?".into(),
            context: None,
            history: Vec::new(),
            charge_to: None,
            compaction: Usage::default(),
            summarised_tokens: 0,
        };
        self.store
            .create_run(&run, &[started], lease)
            .await
            .unwrap();
        (run, agent)
    }
}

/// A lease of `owner` for `ms` from now (negative: already lapsed).
pub fn lease(owner: &str, ms: i64) -> Lease {
    let now = Timestamp::now();
    Lease {
        owner: owner.into(),
        until: Timestamp::from_unix_micros(now.unix_micros() + ms * 1000).unwrap(),
    }
}
