//! The workflow engine of a process: defines workflows, starts, cancels and resumes runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::actions::StepActions;
use super::config::WorkflowsConfig;
use super::plan::plan;
use super::runs::{Lease, NewRun, Run, RunStatus, StepRun, Workflow};
use super::store::WorkflowStore;
use super::types::NewWorkflow;
use crate::error::{Error, Result};
use crate::events::{EventLog, EventQuery, NewEvent};
use crate::knowledge::Namespace;
use crate::{Id, Page, PageRequest, Timestamp};

/// The stream every workflow event goes to (in the workflow's namespace).
pub const WORKFLOW_STREAM: &str = "workflows";

const MAX_CORRELATION_CHARS: usize = 128;

/// Defines workflows and runs them: each run is persisted step by step, its steps retried as
/// configured, resumed by a live process after its own stopped, and cancellable. Every change
/// is an event on the `workflows` stream carrying the run's correlation id.
///
/// ```no_run
/// # async fn demo(engine: std::sync::Arc<sp_core::workflows::Workflows>) -> Result<(), Box<dyn std::error::Error>> {
/// use serde_json::json;
/// use sp_core::workflows::{NewRun, NewWorkflow};
///
/// let definition: NewWorkflow = serde_json::from_value(json!({
///     "name": "lookup",
///     "steps": [{"id": "find", "kind": "search", "query": "{{input.q}}"}]
/// }))?;
/// engine.define(&definition).await?;
/// engine.clone().spawn_recovery(); // resume runs whose process stopped
/// let ns = Default::default();
/// let run = engine.start(&ns, "lookup", NewRun { input: json!({"q": "pricing"}), ..Default::default() }).await?;
/// let done = engine.wait(&ns, run.id, std::time::Duration::from_secs(30)).await?;
/// println!("{:?}", done.output);
/// # Ok(()) }
/// ```
pub struct Workflows {
    pub(super) store: Arc<dyn WorkflowStore>,
    pub(super) events: Arc<EventLog>,
    pub(super) actions: Arc<dyn StepActions>,
    pub(super) config: WorkflowsConfig,
    /// This process's mark on the runs it leases.
    pub(super) owner: String,
    /// Runs this process drives, with the switch that cancels each.
    pub(super) driving: Mutex<HashMap<Id, watch::Sender<bool>>>,
    /// Set by [`Workflows::hand_back`]: this process drives and takes over nothing more.
    pub(super) handed_back: AtomicBool,
    /// Runs being admitted by [`Workflows::start`] and not yet in `driving`.
    admitting: AtomicU32,
}

impl Workflows {
    /// An engine over `store`, recording to `events` and performing steps with `actions`.
    pub fn new(
        store: Arc<dyn WorkflowStore>,
        events: Arc<EventLog>,
        actions: Arc<dyn StepActions>,
        config: WorkflowsConfig,
    ) -> Self {
        Workflows {
            store,
            events,
            actions,
            config,
            owner: Id::new().to_string(),
            driving: Mutex::new(HashMap::new()),
            handed_back: AtomicBool::new(false),
            admitting: AtomicU32::new(0),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn WorkflowStore> {
        &self.store
    }

    pub(super) fn lease(&self) -> Lease {
        let micros = i64::try_from(self.config.lease_ms.saturating_mul(1000)).unwrap_or(i64::MAX);
        let now = Timestamp::now();
        Lease {
            owner: self.owner.clone(),
            until: Timestamp::from_unix_micros(now.unix_micros().saturating_add(micros))
                .unwrap_or(now),
        }
    }

    /// Checks `workflow` (names, wiring, cycles, and that every tool it calls is registered)
    /// and stores it as the next version of its name.
    pub async fn define(&self, workflow: &NewWorkflow) -> Result<Workflow> {
        plan(workflow)?;
        for step in &workflow.steps {
            self.actions.check(&workflow.namespace, step).await?;
        }
        let stored = self.store.define(workflow).await?;
        self.events
            .emit(NewEvent {
                namespace: stored.namespace.clone(),
                subject: Some(format!("workflows/{}", stored.name)),
                ..NewEvent::new(
                    WORKFLOW_STREAM,
                    "workflow.defined",
                    json!({"workflow": stored.name, "version": stored.version}),
                )
            })
            .await;
        Ok(stored)
    }

    /// The current definition of `name`.
    pub async fn workflow(&self, namespace: &Namespace, name: &str) -> Result<Workflow> {
        self.store.workflow(namespace, name).await
    }

    /// The namespace's workflows by name.
    pub async fn workflows(
        &self,
        namespace: &Namespace,
        page: &PageRequest,
    ) -> Result<Page<Workflow>> {
        self.store.workflows(namespace, page).await
    }

    /// Forgets a workflow; its runs (even running ones) go on with their definition.
    pub async fn remove_workflow(&self, namespace: &Namespace, name: &str) -> Result<()> {
        self.store.remove_workflow(namespace, name).await
    }

    /// Starts a run of `name` and returns it at once (`running`); this process drives it —
    /// while it drives fewer than `max_running` runs. Beyond that the run is stored with a
    /// lapsed lease, a queue any process with room takes it from (review finding M2), so a
    /// flood of starts cannot fan out into unbounded work. Refused before anything is stored: an unknown workflow (`SP-RES-001`), an input that
    /// is not a JSON object, a tool no longer registered (`SP-WF-003`).
    pub async fn start(
        self: &Arc<Self>,
        namespace: &Namespace,
        name: &str,
        new: NewRun,
    ) -> Result<Run> {
        if self.handed_back.load(Ordering::SeqCst) {
            // Nothing here would drive it: a stopping process takes no new runs.
            return Err(Error::unavailable(
                "workflows",
                "this process is stopping and handed its runs back",
            ));
        }
        let input = match new.input {
            Value::Null => json!({}),
            Value::Object(map) => Value::Object(map),
            _ => return Err(Error::invalid_input("input", "must be a JSON object")),
        };
        if super::wire::holds_nul(&input) {
            return Err(Error::invalid_input("input", super::wire::NUL_REASON));
        }
        if let Some(id) = &new.correlation_id
            && !(1..=MAX_CORRELATION_CHARS).contains(&id.chars().count())
        {
            return Err(Error::invalid_input(
                "correlation_id",
                format!("1-{MAX_CORRELATION_CHARS} characters"),
            ));
        }
        let workflow = self.store.workflow(namespace, name).await?;
        let order = plan(&NewWorkflow {
            namespace: namespace.clone(),
            name: workflow.name.clone(),
            description: String::new(),
            steps: workflow.steps.clone(),
        })?;
        for step in &workflow.steps {
            self.actions.check(namespace, step).await?;
        }
        let admitted = self.admit();
        let id = Id::new();
        let now = Timestamp::now();
        let run = Run {
            id,
            namespace: namespace.clone(),
            workflow: workflow.name.clone(),
            version: workflow.version,
            status: RunStatus::Running,
            input,
            output: None,
            error: None,
            correlation_id: new.correlation_id.unwrap_or_else(|| id.to_string()),
            steps: order.into_iter().map(StepRun::pending).collect(),
            created_at: now,
            updated_at: now,
            finished_at: None,
        };
        let lease = if admitted {
            self.lease()
        } else {
            // Lapsed from the start: the next recovery round with room claims it.
            Lease {
                owner: self.owner.clone(),
                until: Timestamp::from_unix_micros(now.unix_micros() - 1).unwrap_or(now),
            }
        };
        let stored = self.store.create_run(&run, &workflow.steps, &lease).await;
        if let Err(err) = stored {
            if admitted {
                self.admitting.fetch_sub(1, Ordering::SeqCst);
            }
            return Err(err);
        }
        // Recorded before the drive starts, so `started` comes before any step's event.
        self.record(
            &run,
            "workflow.run.started",
            json!({"version": run.version, "queued": !admitted}),
        )
        .await;
        if admitted {
            self.spawn_drive(id, false);
            self.admitting.fetch_sub(1, Ordering::SeqCst);
        } else {
            tracing::info!(run = %id, max_running = self.config.max_running,
                "workflow run queued: this process drives as many as it may");
        }
        Ok(run)
    }

    /// A run with its steps.
    pub async fn run(&self, namespace: &Namespace, id: Id) -> Result<Run> {
        self.store.run(namespace, id).await
    }

    /// The namespace's runs, newest first; of one workflow when `workflow` is given.
    pub async fn runs(
        &self,
        namespace: &Namespace,
        workflow: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Run>> {
        self.store.runs(namespace, workflow, page).await
    }

    /// Cancels a running run: its unfinished steps become `cancelled` and nothing more of it
    /// runs. A step under way in this process is stopped at once; one under way in another
    /// process finishes, but its result is not kept. `SP-RES-002` when the run already ended.
    pub async fn cancel(&self, namespace: &Namespace, id: Id) -> Result<Run> {
        let run = self.store.cancel_run(namespace, id).await?;
        if let Ok(driving) = self.driving.lock()
            && let Some(switch) = driving.get(&id)
        {
            let _ = switch.send(true);
        }
        self.record(&run, "workflow.run.cancelled", json!({})).await;
        Ok(run)
    }

    /// The run once it ended and its final event is in the log, or as it is after `timeout`.
    pub async fn wait(&self, namespace: &Namespace, id: Id, timeout: Duration) -> Result<Run> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            let run = self.store.run(namespace, id).await?;
            if run.status.is_final() {
                self.until_end_recorded(&run, deadline).await;
                return Ok(run);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(run);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// Waits (until `deadline`, a second at most) for an ended run's final event: the status
    /// is stored first and the event appended just after, so a caller that saw the status and
    /// then reads the log would otherwise miss the event by a moment. A final event that could
    /// not be stored (logged, see [`EventLog::emit`]) only costs the wait.
    async fn until_end_recorded(&self, run: &Run, deadline: tokio::time::Instant) {
        let deadline = deadline.min(tokio::time::Instant::now() + Duration::from_secs(1));
        let query = EventQuery {
            namespace: run.namespace.clone(),
            stream: Some(WORKFLOW_STREAM.into()),
            event_type: Some(format!("workflow.run.{}", run.status.as_str())),
            correlationid: Some(run.correlation_id.clone()),
            ..EventQuery::default()
        };
        let first = PageRequest {
            limit: 1,
            ..PageRequest::default()
        };
        loop {
            let recorded = self.events.query(&query, &first).await;
            if recorded.is_ok_and(|page| !page.items.is_empty())
                || tokio::time::Instant::now() >= deadline
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Keeps this process's leases alive and takes over runs whose process stopped (a crash,
    /// a kill, a lost machine), every third of `lease_ms`, until the task is aborted.
    pub fn spawn_recovery(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        let every = Duration::from_millis((self.config.lease_ms / 3).max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = self.recover_once().await {
                    tracing::warn!(%err, "workflow lease renewal or recovery failed");
                }
            }
        })
    }

    /// Takes a place among the runs this process drives, when one is free.
    fn admit(&self) -> bool {
        let driving = self.driving.lock().map_or(0, |d| d.len());
        let admitting = self.admitting.fetch_add(1, Ordering::SeqCst) as usize;
        if driving + admitting < self.config.max_running as usize {
            true
        } else {
            self.admitting.fetch_sub(1, Ordering::SeqCst);
            false
        }
    }

    /// One round of [`spawn_recovery`](Self::spawn_recovery): renews the leases of the runs
    /// this process drives and resumes lapsed runs; returns the ids it resumed.
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
        let busy = driving.len();
        let room = self.config.max_running.saturating_sub(busy as u32);
        if room == 0 {
            return Ok(Vec::new());
        }
        let claimed = self
            .store
            .claim_lapsed(&lease, Timestamp::now(), room)
            .await?;
        for id in &claimed {
            tracing::info!(run = %id, "resuming a workflow run whose process stopped");
            self.spawn_drive(*id, true);
        }
        Ok(claimed)
    }

    /// A planned stop: stops driving every run this process drives and lets their leases
    /// lapse now, so a live process — this one restarted, or another replica — takes them
    /// over at once instead of after `lease_ms`. Steps under way are run again there, as after
    /// a crash. Afterwards this engine takes nothing over and starts no run (`SP-GEN-002`).
    /// Returns the runs handed back.
    ///
    /// ```no_run
    /// # async fn demo(engine: std::sync::Arc<sp_core::workflows::Workflows>) -> sp_core::Result<()> {
    /// // after the server stopped taking requests:
    /// let handed = engine.hand_back().await?;
    /// println!("{} runs for the next process", handed.len());
    /// # Ok(()) }
    /// ```
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

    /// Appends a run event (best effort: the run's stored state is the truth).
    pub(super) async fn record(&self, run: &Run, event_type: &str, mut data: Value) {
        if let Value::Object(map) = &mut data {
            map.insert("run".into(), json!(run.id));
            map.insert("workflow".into(), json!(run.workflow));
        }
        self.events
            .emit(NewEvent {
                namespace: run.namespace.clone(),
                subject: Some(format!("runs/{}", run.id)),
                correlationid: Some(run.correlation_id.clone()),
                ..NewEvent::new(WORKFLOW_STREAM, event_type, data)
            })
            .await;
    }
}
