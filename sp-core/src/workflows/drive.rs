//! Driving one run: steps start as soon as what they need is done, each attempt is saved
//! before and after it runs, and the run ends when every step has.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::engine::Workflows;
use super::plan::dependencies;
use super::runs::{Run, RunStatus, StepFailure, StepRun, StepStatus};
use super::types::{Action, Step};
use super::wire::{NUL_REASON, holds_nul, render};
use crate::Timestamp;
use crate::error::{Error, Result};

/// How a step's attempts ended.
enum Outcome {
    /// Succeeded or failed for good: its final state.
    Done(Box<StepRun>),
    /// The run is no longer this process's to write (cancelled, or taken over).
    Lost,
}

/// Forgets the run from the process's table however the driver ends.
struct Driving<'e> {
    engine: &'e Workflows,
    id: crate::Id,
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        if let Ok(mut driving) = self.engine.driving.lock() {
            driving.remove(&self.id);
        }
    }
}

impl Workflows {
    /// Drives run `id` in the background unless this process already does; `resumed`: it
    /// was taken over from a process that stopped.
    pub(super) fn spawn_drive(self: &Arc<Self>, id: crate::Id, resumed: bool) {
        if self.handed_back.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let (switch, cancelled) = watch::channel(false);
        match self.driving.lock() {
            Ok(mut driving) if !driving.contains_key(&id) => {
                driving.insert(id, switch);
            }
            _ => return,
        }
        let engine = self.clone();
        tokio::spawn(async move {
            let _driving = Driving {
                engine: &engine,
                id,
            };
            if let Err(err) = engine.drive(id, resumed, cancelled).await {
                tracing::warn!(run = %id, %err, "workflow run stopped on a storage error; \
                    a live process resumes it once its lease lapses");
            }
        });
    }

    async fn drive(
        self: &Arc<Self>,
        id: crate::Id,
        resumed: bool,
        mut cancelled: watch::Receiver<bool>,
    ) -> Result<()> {
        let stored = self.store.stored_run(id).await?;
        let run = Arc::new(stored.run);
        if run.status.is_final() {
            return Ok(());
        }
        if resumed {
            let done: Vec<&str> = run
                .steps
                .iter()
                .filter(|s| s.status.is_final())
                .map(|s| s.id.as_str())
                .collect();
            self.record(&run, "workflow.run.resumed", json!({"done": done}))
                .await;
        }
        let (definition, needs) = match read_definition(&run, stored.definition) {
            Ok(read) => read,
            Err(err) => {
                // Taking it over again would read the same: end it, saying why.
                tracing::warn!(run = %id, %err, "workflow run ended: its definition does not read");
                let failure = StepFailure {
                    step: String::new(),
                    code: err.code().as_str().to_owned(),
                    message: storable(&err),
                };
                return self
                    .conclude(&run, &HashMap::new(), &HashMap::new(), Some(failure))
                    .await;
            }
        };
        let mut states: HashMap<String, StepRun> = run
            .steps
            .iter()
            .map(|s| (s.id.clone(), s.clone()))
            .collect();
        let mut outputs: HashMap<String, Value> = HashMap::new();
        let mut failure: Option<StepFailure> = None;
        for state in &run.steps {
            match state.status {
                StepStatus::Succeeded => {
                    outputs.insert(
                        state.id.clone(),
                        state.output.clone().unwrap_or(Value::Null),
                    );
                }
                StepStatus::Failed => failure = state.error.clone(),
                _ => {}
            }
        }
        // Steps run as tasks of their own: each makes progress (and finishes its storage
        // transactions) while the driver awaits something else. Dropping the set stops them.
        let mut in_flight: tokio::task::JoinSet<(String, Result<Outcome>)> =
            tokio::task::JoinSet::new();
        let mut launched: HashSet<String> = HashSet::new();
        loop {
            // Start (or skip) every step whose dependencies are final; skipping one may free
            // others, so scan until nothing changes.
            let mut changed = failure.is_none();
            while changed {
                changed = false;
                for state in &run.steps {
                    let step_id = &state.id;
                    let current = &states[step_id];
                    if current.status.is_final() || launched.contains(step_id) {
                        continue;
                    }
                    let (Some(step), Some(waits)) = (definition.get(step_id), needs.get(step_id))
                    else {
                        return Err(Error::internal(format!(
                            "run {id} has no definition of step `{step_id}`"
                        )));
                    };
                    match readiness(step, waits, &states) {
                        Readiness::Wait => {}
                        Readiness::Skip => {
                            let mut skipped = current.clone();
                            skipped.status = StepStatus::Skipped;
                            skipped.finished_at = Some(Timestamp::now());
                            if !self.store.save_step(id, &self.owner, &skipped).await? {
                                return Ok(());
                            }
                            self.record(&run, "workflow.step.skipped", json!({"step": step_id}))
                                .await;
                            states.insert(step_id.clone(), skipped);
                            changed = true;
                        }
                        Readiness::Go => {
                            launched.insert(step_id.clone());
                            let engine = self.clone();
                            let (run, step, state) = (run.clone(), step.clone(), current.clone());
                            let outputs = outputs.clone();
                            in_flight.spawn(async move {
                                let outcome = engine.attempts(&run, &step, state, &outputs).await;
                                (step.id.clone(), outcome)
                            });
                        }
                    }
                }
            }
            if in_flight.is_empty() {
                break;
            }
            let (step_id, outcome) = tokio::select! {
                biased;
                _ = cancelled.wait_for(|c| *c) => return Ok(()),
                Some(done) = in_flight.join_next() => done.map_err(Error::internal)?,
            };
            launched.remove(&step_id);
            match outcome? {
                Outcome::Lost => return Ok(()),
                Outcome::Done(state) => {
                    match state.status {
                        StepStatus::Succeeded => {
                            outputs.insert(
                                step_id.clone(),
                                state.output.clone().unwrap_or(Value::Null),
                            );
                        }
                        _ => {
                            if failure.is_none() {
                                failure = state.error.clone();
                            }
                        }
                    }
                    states.insert(step_id, *state);
                }
            }
        }
        self.conclude(&run, &needs, &outputs, failure).await
    }

    /// Ends the run: failed with the first failure, or succeeded with its last steps' outputs.
    async fn conclude(
        &self,
        run: &Run,
        needs: &HashMap<String, BTreeSet<String>>,
        outputs: &HashMap<String, Value>,
        failure: Option<StepFailure>,
    ) -> Result<()> {
        let (status, output, kind) = match &failure {
            Some(_) => (RunStatus::Failed, None, "workflow.run.failed"),
            None => {
                let needed: HashSet<&String> = needs.values().flatten().collect();
                let last: Map<String, Value> = outputs
                    .iter()
                    .filter(|(id, _)| !needed.contains(id))
                    .map(|(id, out)| (id.clone(), out.clone()))
                    .collect();
                (
                    RunStatus::Succeeded,
                    Some(Value::Object(last)),
                    "workflow.run.succeeded",
                )
            }
        };
        let ended = self
            .store
            .finish_run(
                run.id,
                &self.owner,
                status,
                output.as_ref(),
                failure.as_ref(),
            )
            .await?;
        if ended {
            let data = match &failure {
                Some(f) => json!({"step": f.step, "code": f.code, "message": f.message}),
                None => json!({}),
            };
            self.record(run, kind, data).await;
        }
        Ok(())
    }

    /// Runs one step's attempts (what is left of them after a resume), saving each.
    async fn attempts(
        &self,
        run: &Run,
        step: &Step,
        mut state: StepRun,
        outputs: &HashMap<String, Value>,
    ) -> Result<Outcome> {
        let allowed = step.retries + 1;
        // An attempt cut short by a stopped process did not fail: it is made again, once at
        // least, even when it was the last one allowed — but not forever, since the step
        // may be what stopped the process (C1 of the security review: a crash loop).
        let left = if state.status == StepStatus::Running {
            state.interruptions += 1;
            if state.interruptions > self.config.max_step_resumes {
                let err = Error::WorkflowInterrupted {
                    step: step.id.clone(),
                    times: state.interruptions,
                };
                return self.failed_for_good(run, state, &err).await;
            }
            allowed.saturating_sub(state.attempts).max(1)
        } else {
            allowed
        };
        for made in 1..=left {
            state.status = StepStatus::Running;
            state.attempts += 1;
            state.started_at.get_or_insert_with(Timestamp::now);
            if !self.store.save_step(run.id, &self.owner, &state).await? {
                return Ok(Outcome::Lost);
            }
            self.record(
                run,
                "workflow.step.started",
                json!({"step": step.id, "attempt": state.attempts}),
            )
            .await;
            let performed = match self.perform(run, step, outputs).await {
                Ok(output) if holds_nul(&output) => Err(Error::invalid_input("output", NUL_REASON)),
                other => other,
            };
            match performed {
                Ok(output) => {
                    state.status = StepStatus::Succeeded;
                    state.output = Some(output);
                    state.error = None;
                    state.finished_at = Some(Timestamp::now());
                    if !self.store.save_step(run.id, &self.owner, &state).await? {
                        return Ok(Outcome::Lost);
                    }
                    self.record(
                        run,
                        "workflow.step.succeeded",
                        json!({"step": step.id, "attempts": state.attempts}),
                    )
                    .await;
                    return Ok(Outcome::Done(Box::new(state)));
                }
                Err(err) => {
                    // Wiring reads stored outputs: another attempt would read the same.
                    let last = made == left
                        || matches!(
                            err,
                            Error::WorkflowWiring { .. }
                                | Error::WorkflowInputsTooLarge { .. }
                                | Error::InvalidInput { .. }
                        );
                    state.error = Some(StepFailure {
                        step: step.id.clone(),
                        code: err.code().as_str().to_owned(),
                        message: storable(&err),
                    });
                    if last {
                        state.status = StepStatus::Failed;
                        state.finished_at = Some(Timestamp::now());
                    }
                    if !self.store.save_step(run.id, &self.owner, &state).await? {
                        return Ok(Outcome::Lost);
                    }
                    self.record(
                        run,
                        "workflow.step.failed",
                        json!({"step": step.id, "attempt": state.attempts, "retrying": !last,
                               "code": err.code().as_str(), "message": storable(&err)}),
                    )
                    .await;
                    if last {
                        return Ok(Outcome::Done(Box::new(state)));
                    }
                    tokio::time::sleep(self.backoff(made)).await;
                }
            }
        }
        Err(Error::internal(
            "a step ran out of attempts without an outcome",
        ))
    }

    /// Ends a step as failed with `err` without making an attempt.
    async fn failed_for_good(&self, run: &Run, mut state: StepRun, err: &Error) -> Result<Outcome> {
        state.status = StepStatus::Failed;
        state.error = Some(StepFailure {
            step: state.id.clone(),
            code: err.code().as_str().to_owned(),
            message: storable(err),
        });
        state.finished_at = Some(Timestamp::now());
        if !self.store.save_step(run.id, &self.owner, &state).await? {
            return Ok(Outcome::Lost);
        }
        tracing::error!(run = %run.id, step = %state.id, code = err.code().as_str(), "{err}");
        self.record(
            run,
            "workflow.step.failed",
            json!({"step": state.id, "attempt": state.attempts, "retrying": false,
                   "code": err.code().as_str(), "message": storable(err)}),
        )
        .await;
        Ok(Outcome::Done(Box::new(state)))
    }

    fn backoff(&self, retry: u32) -> Duration {
        let base = Duration::from_millis(self.config.retry_backoff_ms);
        base.saturating_mul(1 << retry.saturating_sub(1).min(16))
            .min(Duration::from_secs(30))
    }

    /// One attempt: wire the inputs, then decide the condition or perform the action.
    async fn perform(
        &self,
        run: &Run,
        step: &Step,
        outputs: &HashMap<String, Value>,
    ) -> Result<Value> {
        let limit = self.config.max_rendered_bytes;
        let wire = |value: &Value| render(&step.id, value, &run.input, outputs, limit);
        let text = |value: &str| -> Result<String> {
            Ok(match wire(&Value::String(value.to_owned()))? {
                Value::String(s) => s,
                other => other.to_string(),
            })
        };
        let action = match &step.action {
            Action::Condition { value, equals } => {
                return Ok(Value::Bool(wire(value)? == *equals));
            }
            Action::Tool {
                tool,
                service,
                arguments,
            } => Action::Tool {
                tool: tool.clone(),
                service: service.clone(),
                arguments: wire(arguments)?,
            },
            Action::Model {
                prompt,
                system,
                max_tokens,
            } => Action::Model {
                prompt: text(prompt)?,
                system: system.as_deref().map(text).transpose()?,
                max_tokens: *max_tokens,
            },
            Action::Search { query, k } => Action::Search {
                query: text(query)?,
                k: *k,
            },
            Action::Agent { agent, input } => Action::Agent {
                agent: agent.clone(),
                input: text(input)?,
            },
        };
        self.actions
            .perform(&run.namespace, &action, &run.correlation_id)
            .await
    }
}

/// An error's text as a step keeps it: U+0000 (from an upstream error page, say) replaced,
/// since no store keeps it.
fn storable(err: &Error) -> String {
    err.to_string().replace('\0', "\u{FFFD}")
}

/// A run's steps by id, and what each waits for.
pub(super) type Plan = (HashMap<String, Step>, HashMap<String, BTreeSet<String>>);

/// The run's plan (what each step waits for is parsed from its inputs once per drive);
/// `SP-WF-004` when the stored definition does not read or does not fit the run.
pub(super) fn read_definition(
    run: &Run,
    stored: std::result::Result<Vec<Step>, String>,
) -> Result<Plan> {
    let unreadable = |reason: String| Error::WorkflowUnreadable {
        run: run.id.to_string(),
        reason,
    };
    let definition: HashMap<String, Step> = stored
        .map_err(unreadable)?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let needs: HashMap<String, BTreeSet<String>> = definition
        .values()
        .map(|step| {
            let waits = dependencies(step).map_err(|err| unreadable(err.to_string()))?;
            match waits.iter().find(|w| !definition.contains_key(*w)) {
                Some(missing) => Err(unreadable(format!(
                    "step `{}` needs `{missing}`, which it does not define",
                    step.id
                ))),
                None => Ok((step.id.clone(), waits)),
            }
        })
        .collect::<Result<_>>()?;
    match run.steps.iter().find(|s| !definition.contains_key(&s.id)) {
        Some(missing) => Err(unreadable(format!(
            "no definition of step `{}`",
            missing.id
        ))),
        None => Ok((definition, needs)),
    }
}

enum Readiness {
    /// Something it needs is not final yet.
    Wait,
    /// Its `when` came out `false`, or something it needs was skipped.
    Skip,
    /// Everything it needs succeeded.
    Go,
}

fn readiness(
    step: &Step,
    needs: &BTreeSet<String>,
    states: &HashMap<String, StepRun>,
) -> Readiness {
    for dep in needs {
        match states.get(dep).map(|s| s.status) {
            Some(StepStatus::Succeeded) => {}
            Some(StepStatus::Skipped) => return Readiness::Skip,
            _ => return Readiness::Wait,
        }
    }
    if let Some(when) = &step.when
        && states.get(when).and_then(|s| s.output.as_ref()) != Some(&Value::Bool(true))
    {
        return Readiness::Skip;
    }
    Readiness::Go
}
