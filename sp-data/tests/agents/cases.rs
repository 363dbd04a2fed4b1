//! The cases of `agents.rs`, each run on every backend.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use sp_core::agents::{
    AgentRunStatus, Agents, Builtins, NewAgent, NewAgentRun, OneModel, RunEvent, RunProgress,
    Toolbox,
};
use sp_core::chat::{
    ChatMessage, ChatOptions, Completion, FinishReason, Sampling, StreamEvent, ToolCall, Usage,
};
use sp_core::knowledge::Namespace;
use sp_core::workflows::WorkflowsConfig;
use sp_core::{ChatModel, ErrorCode, PageRequest, Result, Timestamp};

use super::support::{Fixture, lease};

fn progress(status: AgentRunStatus, steps: u32) -> RunProgress {
    RunProgress {
        status,
        steps,
        usage: Usage {
            prompt_tokens: 7,
            completion_tokens: 3,
            cached_tokens: 0,
        },
        output: None,
        error: None,
    }
}

fn model_output(step: u32) -> RunEvent {
    RunEvent::ModelOutput {
        step,
        text: String::new(),
        tool_calls: vec![ToolCall::new("lookup", "{}")],
        finish_reason: FinishReason::ToolCalls,
        usage: Usage::default(),
        elided: Vec::new(),
    }
}

pub async fn definitions_are_versioned_listed_and_removed(f: &Fixture) {
    let ns = Namespace::new("agents-defs").unwrap();
    let mut agent = NewAgent {
        namespace: ns.clone(),
        max_steps: 4,
        ..NewAgent::new("planner", "Plan.")
    };
    assert_eq!(f.store.define(&agent).await.unwrap().version, 1);
    agent.instructions = "Plan carefully.".into();
    let second = f.store.define(&agent).await.unwrap();
    assert_eq!(second.version, 2);
    let stored = f.store.agent(&ns, "planner").await.unwrap();
    assert_eq!(stored.definition, agent);
    f.store
        .define(&NewAgent {
            namespace: ns.clone(),
            ..NewAgent::new("archivist", "")
        })
        .await
        .unwrap();
    let first = f
        .store
        .agents(&ns, &PageRequest::new(Some(1), None).unwrap())
        .await
        .unwrap();
    assert_eq!(first.items[0].definition.name, "archivist");
    let rest = f
        .store
        .agents(
            &ns,
            &PageRequest::new(Some(1), first.next_cursor.map(|c| c.as_str().to_owned())).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(rest.items[0].definition.name, "planner");
    let other = Namespace::new("agents-other").unwrap();
    let err = f.store.agent(&other, "planner").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
    f.store.remove_agent(&ns, "planner").await.unwrap();
    let err = f.store.remove_agent(&ns, "planner").await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotFound);
}

pub async fn appends_go_through_the_lease_at_the_next_seq(f: &Fixture) {
    let ns = Namespace::new("agents-append").unwrap();
    let (run, _) = f.started_run(&ns, "a", &lease("me", 60_000)).await;
    let step = progress(AgentRunStatus::Running, 1);
    let stranger = f
        .store
        .append(run.id, "other", 1, &[model_output(1)], &step)
        .await;
    assert!(!stranger.unwrap(), "another process holds no lease");
    let stale = f
        .store
        .append(run.id, "me", 0, &[model_output(1)], &step)
        .await;
    assert!(!stale.unwrap(), "event 1 is already written");
    assert!(
        f.store
            .append(run.id, "me", 1, &[model_output(1)], &step)
            .await
            .unwrap()
    );
    let again = f
        .store
        .append(run.id, "me", 1, &[model_output(1)], &step)
        .await;
    assert!(!again.unwrap(), "a second writer of event 2 loses");

    let summary = f.store.run(&ns, run.id).await.unwrap();
    assert_eq!(
        (summary.events, summary.steps, summary.usage.prompt_tokens),
        (2, 1, 7)
    );
    let events = f.store.events(&ns, run.id, 0, 10).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(events[1].event.kind(), "agent.run.model_output");
    let tail = f.store.events(&ns, run.id, 1, 10).await.unwrap();
    assert_eq!(tail.len(), 1);
    let other = Namespace::new("agents-other").unwrap();
    assert_eq!(
        f.store
            .events(&other, run.id, 0, 10)
            .await
            .unwrap_err()
            .code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        f.store.run(&other, run.id).await.unwrap_err().code(),
        ErrorCode::NotFound
    );

    let finished = RunProgress {
        output: Some("done".into()),
        ..progress(AgentRunStatus::Succeeded, 1)
    };
    let end = RunEvent::Finished {
        status: AgentRunStatus::Succeeded,
        output: Some("done".into()),
        error: None,
    };
    assert!(
        f.store
            .append(run.id, "me", 2, std::slice::from_ref(&end), &finished)
            .await
            .unwrap()
    );
    let after_end = f.store.append(run.id, "me", 3, &[end], &finished).await;
    assert!(!after_end.unwrap(), "a finished run takes no more events");
    let (stored, events) = f.store.stored_run(run.id).await.unwrap();
    assert_eq!(
        (stored.status, stored.output.as_deref(), events.len()),
        (AgentRunStatus::Succeeded, Some("done"), 3)
    );
}

pub async fn outside_writes_are_guarded_by_the_event_count(f: &Fixture) {
    let ns = Namespace::new("agents-outside").unwrap();
    let (run, _) = f.started_run(&ns, "a", &lease("me", 60_000)).await;
    let cancel = RunEvent::Finished {
        status: AgentRunStatus::Cancelled,
        output: None,
        error: None,
    };
    let cancelled = progress(AgentRunStatus::Cancelled, 0);
    let stale = f
        .store
        .append_unleased(&ns, run.id, 0, &cancel, &cancelled, None)
        .await
        .unwrap_err();
    assert_eq!(stale.code(), ErrorCode::Conflict, "{stale}");
    let other = Namespace::new("agents-other").unwrap();
    let foreign = f
        .store
        .append_unleased(&other, run.id, 1, &cancel, &cancelled, None)
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), ErrorCode::NotFound);
    let taken = lease("approver", 60_000);
    let stored = f
        .store
        .append_unleased(&ns, run.id, 1, &cancel, &cancelled, Some(&taken))
        .await
        .unwrap();
    assert_eq!(
        (stored.status, stored.events),
        (AgentRunStatus::Cancelled, 2)
    );
    let ended = f
        .store
        .append_unleased(&ns, run.id, 2, &cancel, &cancelled, None)
        .await
        .unwrap_err();
    assert!(ended.to_string().contains("already ended"), "{ended}");
    let writer = f
        .store
        .append(
            run.id,
            "me",
            2,
            &[model_output(1)],
            &progress(AgentRunStatus::Running, 1),
        )
        .await
        .unwrap();
    assert!(
        !writer,
        "the driver's next write fails once the run is cancelled"
    );
}

pub async fn lapsed_running_runs_are_claimed_once(f: &Fixture) {
    let ns = Namespace::new("agents-claim").unwrap();
    let (lapsed, _) = f.started_run(&ns, "a", &lease("dead", -1_000)).await;
    let (live, _) = f.started_run(&ns, "a", &lease("alive", 60_000)).await;
    let (renewed, _) = f.started_run(&ns, "a", &lease("alive", 10)).await;
    f.store
        .renew_leases("alive", &[renewed.id], lease("alive", 60_000).until)
        .await
        .unwrap();
    let claimed = f
        .store
        .claim_lapsed(&lease("new", 60_000), Timestamp::now(), 10)
        .await
        .unwrap();
    assert_eq!(claimed, [lapsed.id], "only the lapsed run, not {live:?}");
    let again = f
        .store
        .claim_lapsed(&lease("third", 60_000), Timestamp::now(), 10)
        .await
        .unwrap();
    assert!(again.is_empty());
    let step = progress(AgentRunStatus::Running, 1);
    assert!(
        f.store
            .append(lapsed.id, "new", 1, &[model_output(1)], &step)
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .append(lapsed.id, "dead", 2, &[model_output(2)], &step)
            .await
            .unwrap()
    );
}

/// Answers at once.
struct Answers;

#[async_trait]
impl ChatModel for Answers {
    async fn chat(&self, _: &[ChatMessage], _: &Sampling) -> Result<Completion> {
        let usage = Usage {
            prompt_tokens: 12,
            completion_tokens: 2,
            cached_tokens: 0,
        };
        Ok(Completion::new("Paris.", FinishReason::Stop, usage))
    }

    async fn chat_stream(
        &self,
        _: &[ChatMessage],
        _: &Sampling,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        Err(sp_core::Error::internal("not used"))
    }

    async fn chat_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        _: &ChatOptions,
    ) -> Result<Completion> {
        self.chat(messages, sampling).await
    }
}

pub async fn a_run_is_recorded_and_replays_from_the_store(f: &Fixture) {
    let agents = Arc::new(Agents::new(
        f.store.clone(),
        Arc::new(OneModel::new(Arc::new(Answers), None)),
        Toolbox::new(None, Builtins::default()),
        WorkflowsConfig::default(),
    ));
    let ns = Namespace::new("agents-run").unwrap();
    agents
        .define(&NewAgent {
            namespace: ns.clone(),
            ..NewAgent::new("geo", "Answer briefly.")
        })
        .await
        .unwrap();
    let run = agents
        .start(
            &ns,
            "geo",
            NewAgentRun {
                input: "Capital of France?".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let done = agents
        .wait(&ns, run.id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(done.status, AgentRunStatus::Succeeded);
    assert_eq!(done.output.as_deref(), Some("Paris."));
    let report = agents.replay(&ns, run.id).await.unwrap();
    assert_eq!(
        (report.events, report.steps, report.usage.prompt_tokens),
        (3, 1, 12)
    );
    let err = agents.cancel(&ns, run.id).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Conflict);
}
