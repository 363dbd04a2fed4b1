//! A workflow store and event log per backend, and step actions a test scripts: tools that
//! echo, fail a set number of times, fail always, or hold until released.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sp_core::events::{EventBackend, EventLog, EventQuery, EventsConfig, MemoryEventStore};
use sp_core::knowledge::Namespace;
use sp_core::workflows::{
    Action, MemoryWorkflowStore, NewWorkflow, Step, StepActions, WorkflowStore, Workflows,
    WorkflowsConfig,
};
use sp_core::{Error, Id, Result};
use sp_data::Database;
use sp_tests::TestDatabase;
use tokio::sync::watch;

pub struct Fixture {
    pub store: Arc<dyn WorkflowStore>,
    pub events: Arc<EventLog>,
    /// The database the stores are on (none for the in-process stores).
    db: Option<TestDatabase>,
}

impl Fixture {
    pub async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite().await)
    }

    pub async fn postgres() -> Self {
        Self::on(TestDatabase::postgres("workflows_test").await)
    }

    pub async fn memory() -> Self {
        Fixture {
            store: Arc::new(MemoryWorkflowStore::default()),
            events: Arc::new(EventLog::new(
                Arc::new(MemoryEventStore::default()),
                EventsConfig::default(),
            )),
            db: None,
        }
    }

    fn on(db: TestDatabase) -> Self {
        let events: Arc<dyn EventBackend> = db.database.event_store();
        Fixture {
            store: db.database.workflow_store(),
            events: Arc::new(EventLog::new(events, EventsConfig::default())),
            db: Some(db),
        }
    }

    /// An engine (one "process") over this fixture's store with `actions`.
    pub fn engine(&self, actions: &Arc<Scripted>, lease_ms: u64) -> Arc<Workflows> {
        self.engine_with(actions, Self::config(lease_ms))
    }

    /// The test engines' configuration: `lease_ms`, retries 1 ms apart.
    pub fn config(lease_ms: u64) -> WorkflowsConfig {
        WorkflowsConfig {
            lease_ms,
            retry_backoff_ms: 1,
            max_running: 16,
            ..WorkflowsConfig::default()
        }
    }

    /// An engine with its own configuration.
    pub fn engine_with(&self, actions: &Arc<Scripted>, config: WorkflowsConfig) -> Arc<Workflows> {
        Arc::new(Workflows::new(
            self.store.clone(),
            self.events.clone(),
            actions.clone(),
            config,
        ))
    }

    /// The types of the run's events, in order.
    pub async fn event_types(&self, correlation_id: &str) -> Vec<String> {
        let query = EventQuery {
            correlationid: Some(correlation_id.to_owned()),
            ..Default::default()
        };
        let page = self
            .events
            .query(
                &query,
                &sp_core::PageRequest::new(Some(1000), None).unwrap(),
            )
            .await
            .unwrap();
        page.items
            .into_iter()
            .map(|e| {
                let step = e.data.get("step").and_then(Value::as_str).unwrap_or("");
                if step.is_empty() {
                    e.event_type
                } else {
                    format!("{}:{step}", e.event_type)
                }
            })
            .collect()
    }

    /// Overwrites a run's stored definition with JSON that is not a list of steps, as a
    /// row written by another version (or edited by hand) would be.
    pub async fn damage_definition(&self, run: Id) {
        let damaged = r#"{"format": 2, "steps": {}}"#;
        let database = &self.db.as_ref().expect("a database to damage").database;
        let changed = match database {
            Database::Embedded(db) => {
                sqlx::query("UPDATE workflow_runs SET definition = ? WHERE id = ?")
                    .bind(damaged)
                    .bind(run.to_string())
                    .execute(db.pool())
                    .await
                    .unwrap()
                    .rows_affected()
            }
            Database::Postgres(pg) => {
                sqlx::query("UPDATE workflow_runs SET definition = $1::jsonb WHERE id = $2")
                    .bind(damaged)
                    .bind(run.as_uuid())
                    .execute(pg.pool())
                    .await
                    .unwrap()
                    .rows_affected()
            }
            _ => unreachable!("the test build has both backends"),
        };
        assert_eq!(changed, 1);
    }

    pub async fn cleanup(self) {
        if let Some(db) = self.db {
            db.cleanup().await;
        }
    }
}

/// Tools a test scripts. `echo` answers its arguments; `flaky` fails as many times as
/// [`Scripted::fail_next`] says, then echoes; `broken` always fails; `hold` echoes once
/// [`Scripted::release`] is called (when `holding` is set). `missing` is not registered.
pub struct Scripted {
    calls: Mutex<Vec<Value>>,
    failures: Mutex<u32>,
    holding: bool,
    held: watch::Sender<u32>,
    released: watch::Sender<bool>,
}

impl Scripted {
    pub fn new(holding: bool) -> Arc<Self> {
        Arc::new(Scripted {
            calls: Mutex::new(Vec::new()),
            failures: Mutex::new(0),
            holding,
            held: watch::channel(0).0,
            released: watch::channel(false).0,
        })
    }

    pub fn fail_next(&self, times: u32) {
        *self.failures.lock().unwrap() = times;
    }

    /// The `step` argument of every call made, in order.
    pub fn calls(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|args| args["step"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    /// Waits until a `hold` call is under way.
    pub async fn until_held(&self) {
        let mut held = self.held.subscribe();
        tokio::time::timeout(Duration::from_secs(10), held.wait_for(|n| *n > 0))
            .await
            .expect("a hold call within 10 s")
            .unwrap();
    }

    pub fn release(&self) {
        self.released.send_replace(true);
    }
}

#[async_trait]
impl StepActions for Scripted {
    async fn check(&self, _namespace: &Namespace, step: &Step) -> Result<()> {
        match &step.action {
            Action::Tool { tool, .. } if tool == "missing" => Err(Error::WorkflowToolUnknown {
                step: step.id.clone(),
                tool: tool.clone(),
            }),
            _ => Ok(()),
        }
    }

    async fn perform(&self, _namespace: &Namespace, action: &Action, _corr: &str) -> Result<Value> {
        let Action::Tool {
            tool, arguments, ..
        } = action
        else {
            return Err(Error::internal("only tools are scripted"));
        };
        self.calls.lock().unwrap().push(arguments.clone());
        match tool.as_str() {
            "echo" => Ok(arguments.clone()),
            "flaky" => {
                let mut failures = self.failures.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    return Err(Error::unavailable("flaky", "not yet"));
                }
                Ok(arguments.clone())
            }
            "broken" => Err(Error::unavailable("broken", "always down")),
            "nul" => Ok(json!({"a": "x\u{0}y"})),
            "hold" if self.holding => {
                self.held.send_modify(|n| *n += 1);
                let mut released = self.released.subscribe();
                let _ = released.wait_for(|r| *r).await;
                Ok(json!({"held": true, "step": arguments["step"]}))
            }
            "hold" => Ok(arguments.clone()),
            other => Err(Error::ToolUnknown {
                tool: other.to_owned(),
            }),
        }
    }
}

/// A definition from JSON.
pub fn workflow(definition: Value) -> NewWorkflow {
    serde_json::from_value(definition).unwrap()
}

/// A tool step calling `tool` with `{"step": id}` plus `extra`.
pub fn tool_step(id: &str, tool: &str, extra: Value) -> Value {
    let mut arguments = json!({"step": id});
    if let (Some(args), Value::Object(more)) = (arguments.as_object_mut(), extra) {
        args.extend(more);
    }
    json!({"id": id, "kind": "tool", "tool": tool, "arguments": arguments})
}

#[allow(dead_code)]
pub fn by_id(steps: &[sp_core::workflows::StepRun]) -> HashMap<&str, &sp_core::workflows::StepRun> {
    steps.iter().map(|s| (s.id.as_str(), s)).collect()
}
