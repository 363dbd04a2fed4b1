//! The loop's rules against a scripted model (the real-model runs are in `sp-server/tests`):
//! what is recorded, in what order, and what resume, approval, budgets and replay do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::*;
use crate::chat::{
    ChatMessage, ChatOptions, Completion, FinishReason, Role, Sampling, StreamEvent, ToolCall,
    Usage,
};
use crate::context::{Contexts, MemoryContextStore, MemoryScope};
use crate::error::Result;
use crate::knowledge::{Namespace, SimpleTokenizer};
use crate::workflows::WorkflowsConfig;
use crate::{ChatModel, ErrorCode};

/// Replies by the number of assistant turns so far: `script[n]` is the (n+1)-th reply, the
/// last one repeated. A reply is `Ok(text)` (an answer) or `Err((tool, arguments))` (a call).
pub(super) struct Scripted {
    script: Vec<std::result::Result<&'static str, (&'static str, &'static str)>>,
    pub(super) calls: AtomicUsize,
    /// The tool messages of the last prompt.
    pub(super) seen: std::sync::Mutex<Vec<String>>,
    /// The window it says it has.
    window: Option<usize>,
}

impl Scripted {
    pub(super) fn new(
        script: Vec<std::result::Result<&'static str, (&'static str, &'static str)>>,
    ) -> Arc<Self> {
        Self::windowed(script, None)
    }

    pub(super) fn windowed(
        script: Vec<std::result::Result<&'static str, (&'static str, &'static str)>>,
        window: Option<usize>,
    ) -> Arc<Self> {
        Arc::new(Scripted {
            script,
            calls: AtomicUsize::new(0),
            seen: Default::default(),
            window,
        })
    }
}

#[async_trait]
impl ChatModel for Scripted {
    fn context_window(&self) -> Option<usize> {
        self.window
    }

    async fn chat(&self, messages: &[ChatMessage], sampling: &Sampling) -> Result<Completion> {
        self.chat_with(messages, sampling, &ChatOptions::default())
            .await
    }

    async fn chat_stream(
        &self,
        _: &[ChatMessage],
        _: &Sampling,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        Err(crate::Error::internal("not scripted"))
    }

    async fn chat_with(
        &self,
        messages: &[ChatMessage],
        _: &Sampling,
        _: &ChatOptions,
    ) -> Result<Completion> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self.seen.lock().expect("seen") = messages
            .iter()
            .filter(|m| m.role == Role::Tool)
            .map(|m| m.content.clone())
            .collect();
        // Replies of this run so far: assistant turns after the run's input (a context's
        // earlier turns come before it).
        let input = messages
            .iter()
            .rposition(|m| m.role == Role::User)
            .unwrap_or(0);
        let turn = messages[input..]
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count();
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 0,
        };
        match self.script[turn.min(self.script.len() - 1)] {
            Ok(text) => Ok(Completion::new(text, FinishReason::Stop, usage)),
            Err((tool, arguments)) => {
                let mut done = Completion::new("", FinishReason::ToolCalls, usage);
                done.tool_calls = vec![ToolCall {
                    id: format!("call_{turn}"),
                    name: tool.into(),
                    arguments: arguments.into(),
                }];
                Ok(done)
            }
        }
    }
}

pub(super) struct Setup {
    pub(super) agents: Arc<Agents>,
    pub(super) contexts: Arc<Contexts>,
    pub(super) facts: Arc<crate::facts::Facts>,
    pub(super) model: Arc<Scripted>,
}

pub(super) fn setup(
    model: Arc<Scripted>,
    store: Arc<MemoryAgentStore>,
    contexts: Option<Arc<Contexts>>,
) -> Setup {
    let contexts = contexts.unwrap_or_else(|| {
        Arc::new(Contexts::new(
            Arc::new(MemoryContextStore::default()),
            Arc::new(SimpleTokenizer),
        ))
    });
    let facts = Arc::new(crate::facts::Facts::new(
        Arc::new(crate::facts::MemoryFactStore::default()),
        contexts.clone(),
    ));
    let toolbox = Toolbox::new(
        None,
        Builtins {
            knowledge: None,
            contexts: Some(contexts.clone()),
            facts: Some(facts.clone()),
        },
    );
    let config = WorkflowsConfig {
        lease_ms: 200,
        ..WorkflowsConfig::default()
    };
    let agents = Arc::new(Agents::new(
        store,
        Arc::new(OneModel::new(
            model.clone(),
            Some(Arc::new(SimpleTokenizer)),
        )),
        toolbox,
        config,
    ));
    Setup {
        agents,
        contexts,
        facts,
        model,
    }
}

pub(super) fn rememberer() -> NewAgent {
    NewAgent {
        tools: vec![ToolSelector::Builtin("memory_append".into())],
        memory_blocks: vec!["facts".into()],
        ..NewAgent::new("rememberer", "Remember what you are told.")
    }
}

pub(super) async fn run_to_end(s: &Setup, agent: &NewAgent, input: &str) -> AgentRun {
    run_to_end_in(s, agent, input, None).await
}

/// Defines `agent`, runs it on `input` continuing `context` (if any) and waits for its end.
pub(super) async fn run_to_end_in(
    s: &Setup,
    agent: &NewAgent,
    input: &str,
    context: Option<crate::Id>,
) -> AgentRun {
    s.agents.define(agent).await.expect("define");
    let ns = Namespace::default();
    let run = s
        .agents
        .start(
            &ns,
            &agent.name,
            NewAgentRun {
                input: input.into(),
                context_id: context,
                ..Default::default()
            },
        )
        .await
        .expect("start");
    s.agents
        .wait(&ns, run.id, Duration::from_secs(10))
        .await
        .expect("wait")
}

fn kinds(events: &[RecordedEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.event.kind()).collect()
}

#[tokio::test]
async fn a_tool_call_then_an_answer_is_recorded_in_order_and_replays() {
    let model = Scripted::new(vec![
        Err((
            "memory_append",
            r#"{"block": "facts", "text": "cats purr"}"#,
        )),
        Ok("Noted: cats purr."),
    ]);
    let s = setup(model, Default::default(), None);
    let done = run_to_end(&s, &rememberer(), "Remember that cats purr.").await;
    assert_eq!(done.status, AgentRunStatus::Succeeded, "{done:?}");
    assert_eq!(done.output.as_deref(), Some("Noted: cats purr."));
    assert_eq!((done.steps, done.usage.prompt_tokens), (2, 20));
    let ns = Namespace::default();
    let events = s.agents.events(&ns, done.id, 0, 100).await.expect("events");
    assert_eq!(
        kinds(&events),
        [
            "agent.run.started",
            "agent.run.model_output",
            "agent.run.tool_call",
            "agent.run.tool_result",
            "agent.run.model_output",
            "agent.run.finished"
        ]
    );
    let blocks = s
        .contexts
        .memory(&ns, &MemoryScope::Agent("rememberer".into()))
        .await
        .expect("memory");
    assert_eq!(blocks[0].content, "cats purr");
    let replay = s.agents.replay(&ns, done.id).await.expect("replay");
    assert_eq!((replay.steps, replay.events), (2, 6));
    assert_eq!(replay.output, done.output);
    assert_eq!(
        s.model.calls.load(Ordering::SeqCst),
        2,
        "replay asks no model"
    );
}

#[tokio::test]
async fn max_steps_stops_a_model_that_never_answers() {
    let model = Scripted::new(vec![Err((
        "memory_append",
        r#"{"block": "facts", "text": "again"}"#,
    ))]);
    let s = setup(model, Default::default(), None);
    let agent = NewAgent {
        max_steps: 3,
        ..rememberer()
    };
    let done = run_to_end(&s, &agent, "Loop.").await;
    assert_eq!(done.status, AgentRunStatus::Failed);
    assert_eq!(done.error.map(|e| e.code).as_deref(), Some("SP-AGT-002"));
    assert_eq!(s.model.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_failing_call_goes_back_to_the_model_as_its_coded_error() {
    let model = Scripted::new(vec![
        Err(("memory_append", r#"{"block": "no such field"}"#)),
        Ok("I could not."),
    ]);
    let s = setup(model, Default::default(), None);
    let done = run_to_end(&s, &rememberer(), "Try.").await;
    assert_eq!(done.status, AgentRunStatus::Succeeded);
    let seen = s.model.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].contains("SP-VAL-001"), "{seen:?}");
}

#[tokio::test]
async fn a_budget_too_small_ends_the_run_before_the_model_call() {
    let model = Scripted::new(vec![Ok("Hello.")]);
    let s = setup(model, Default::default(), None);
    let agent = NewAgent {
        token_budget: Some(50),
        max_tokens: 64,
        ..rememberer()
    };
    let done = run_to_end(&s, &agent, "Hi.").await;
    assert_eq!(done.status, AgentRunStatus::Failed);
    assert_eq!(done.error.map(|e| e.code).as_deref(), Some("SP-AGT-003"));
    assert_eq!(s.model.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn approval_pauses_and_a_rejection_reaches_the_model() {
    let model = Scripted::new(vec![
        Err(("memory_append", r#"{"block": "facts", "text": "secret"}"#)),
        Ok("Understood, I will not."),
    ]);
    let s = setup(model, Default::default(), None);
    let mut agent = rememberer();
    agent
        .approval
        .insert("memory_append".into(), ApprovalPolicy::Approve);
    let waiting = run_to_end(&s, &agent, "Remember a secret.").await;
    assert_eq!(waiting.status, AgentRunStatus::WaitingApproval);
    let ns = Namespace::default();
    let err = s
        .agents
        .approve(&ns, waiting.id, "call_9")
        .await
        .expect_err("unknown call");
    assert_eq!(err.code(), ErrorCode::Conflict);
    s.agents
        .reject(&ns, waiting.id, "call_1_1", Some("not that".into()))
        .await
        .expect("reject");
    let done = s
        .agents
        .wait(&ns, waiting.id, Duration::from_secs(10))
        .await
        .expect("wait");
    assert_eq!(done.status, AgentRunStatus::Succeeded, "{done:?}");
    let seen = s.model.seen.lock().expect("seen").clone();
    assert!(seen[0].contains("not that"), "{seen:?}");
    let blocks = s
        .contexts
        .memory(&ns, &MemoryScope::Agent("rememberer".into()))
        .await
        .expect("memory");
    assert!(
        blocks.is_empty(),
        "the rejected call was not made: {blocks:?}"
    );
    s.agents.replay(&ns, done.id).await.expect("replay");
}

#[tokio::test]
async fn another_process_resumes_a_run_without_asking_the_model_again() {
    let store: Arc<MemoryAgentStore> = Default::default();
    let ns = Namespace::default();
    // The first process recorded the model's call and the tool call's start, then died.
    let first = setup(Scripted::new(vec![Ok("unused")]), store.clone(), None);
    let defined = first.agents.define(&rememberer()).await.expect("define");
    let id = crate::Id::new();
    let call = ToolCall {
        id: "call_0".into(),
        name: "memory_append".into(),
        arguments: r#"{"block": "facts", "text": "owls hoot"}"#.into(),
    };
    let events = vec![
        RunEvent::Started {
            agent: Box::new(defined.clone()),
            system: "Remember.".into(),
            input: "Owls?".into(),
            context: None,
            history: Vec::new(),
            charge_to: None,
            compaction: Usage::default(),
            summarised_tokens: 0,
        },
        RunEvent::ModelOutput {
            step: 1,
            text: String::new(),
            tool_calls: vec![call],
            finish_reason: FinishReason::ToolCalls,
            usage: Usage::default(),
            elided: Vec::new(),
        },
        RunEvent::ToolCallStarted {
            call_id: "call_0".into(),
            name: "memory_append".into(),
            idempotency_key: idempotency_key(id, "call_0"),
        },
    ];
    let mut state = RunState::default();
    events.iter().for_each(|e| state.apply(e).expect("fold"));
    let lapsed = crate::workflows::Lease {
        owner: "dead".into(),
        until: crate::Timestamp::from_unix_micros(0).expect("epoch"),
    };
    let run = AgentRun {
        id,
        namespace: ns.clone(),
        agent: "rememberer".into(),
        version: defined.version,
        status: AgentRunStatus::Running,
        input: "Owls?".into(),
        output: None,
        error: None,
        steps: 1,
        usage: Usage::default(),
        correlation_id: id.to_string(),
        events: 3,
        created_at: crate::Timestamp::now(),
        updated_at: crate::Timestamp::now(),
    };
    store
        .create_run(&run, &events, &lapsed)
        .await
        .expect("create");

    let second = setup(Scripted::new(vec![Ok("Owls hoot.")]), store, None);
    let resumed = second.agents.recover_once().await.expect("recover");
    assert_eq!(resumed, [id]);
    let done = second
        .agents
        .wait(&ns, id, Duration::from_secs(10))
        .await
        .expect("wait");
    assert_eq!(done.output.as_deref(), Some("Owls hoot."), "{done:?}");
    assert_eq!(
        second.model.calls.load(Ordering::SeqCst),
        1,
        "step 1 came from the record"
    );
    let all = second.agents.events(&ns, id, 0, 100).await.expect("events");
    let starts = all
        .iter()
        .filter(|e| e.event.kind() == "agent.run.tool_call")
        .count();
    assert_eq!(
        starts, 1,
        "the in-flight call repeats under its recorded start"
    );
}

#[tokio::test]
async fn fork_from_step_two_reruns_the_rest_live() {
    let model = Scripted::new(vec![
        Err(("memory_append", r#"{"block": "facts", "text": "one"}"#)),
        Ok("Done."),
    ]);
    let s = setup(model, Default::default(), None);
    let done = run_to_end(&s, &rememberer(), "Go.").await;
    let ns = Namespace::default();
    let fork = s.agents.fork(&ns, done.id, 2).await.expect("fork");
    let forked = s
        .agents
        .wait(&ns, fork.id, Duration::from_secs(10))
        .await
        .expect("wait");
    assert_eq!(forked.output.as_deref(), Some("Done."));
    assert_eq!(
        s.model.calls.load(Ordering::SeqCst),
        3,
        "only step 2 ran again"
    );
    let events = s.agents.events(&ns, fork.id, 0, 100).await.expect("events");
    assert_eq!(events[1].event.kind(), "agent.run.forked");
    let err = s.agents.fork(&ns, done.id, 3).await.expect_err("no step 3");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

#[tokio::test]
async fn unknown_tools_are_refused_at_definition() {
    let s = setup(Scripted::new(vec![Ok("x")]), Default::default(), None);
    let agent = NewAgent {
        tools: vec![ToolSelector::Builtin("teleport".into())],
        ..NewAgent::new("bad", "")
    };
    let err = s.agents.define(&agent).await.expect_err("unknown built-in");
    assert_eq!(err.code(), ErrorCode::AgentToolUnknown);
    let hub_tool = NewAgent {
        tools: vec![ToolSelector::Tool("weather".into())],
        ..NewAgent::new("bad", "")
    };
    let err = s.agents.define(&hub_tool).await.expect_err("no hub here");
    assert_eq!(err.code(), ErrorCode::AgentToolUnknown);
}

#[tokio::test]
async fn a_run_continues_its_context_searches_it_and_adds_its_turn() {
    use crate::context::{NewContext, NewMessage};
    let model = Scripted::new(vec![
        Err(("conversation_search", r#"{"query": "dog"}"#)),
        Ok("Your dog is Rex."),
    ]);
    let s = setup(model, Default::default(), None);
    let ns = Namespace::default();
    let context = s
        .contexts
        .create(NewContext::default())
        .await
        .expect("context");
    for (role, text) in [
        (Role::User, "My dog is called Rex."),
        (Role::Assistant, "Noted."),
    ] {
        s.contexts
            .append(&ns, context.id, NewMessage::new(role, text))
            .await
            .expect("append");
    }
    let agent = NewAgent {
        tools: vec![ToolSelector::Builtin("conversation_search".into())],
        ..NewAgent::new("recaller", "Answer from the conversation.")
    };
    let done = run_to_end_in(&s, &agent, "What is my dog called?", Some(context.id)).await;
    assert_eq!(done.output.as_deref(), Some("Your dog is Rex."), "{done:?}");
    let seen = s.model.seen.lock().expect("seen").clone();
    assert!(
        seen[0].contains("My dog is called Rex."),
        "the search found it: {seen:?}"
    );
    let messages = s
        .contexts
        .messages(&ns, context.id, 0, 100)
        .await
        .expect("messages");
    let texts: Vec<&str> = messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        texts,
        [
            "My dog is called Rex.",
            "Noted.",
            "What is my dog called?",
            "Your dog is Rex."
        ]
    );
    let events = s.agents.events(&ns, done.id, 0, 1).await.expect("events");
    match &events[0].event {
        RunEvent::Started {
            history,
            context: Some(id),
            ..
        } => {
            assert_eq!(
                (history.len(), *id),
                (2, context.id),
                "the turns it was shown"
            );
        }
        other => panic!("{other:?}"),
    }
    let elsewhere = s
        .agents
        .start(
            &Namespace::new("other").expect("ns"),
            "recaller",
            NewAgentRun {
                input: "Hi".into(),
                context_id: Some(context.id),
                ..Default::default()
            },
        )
        .await;
    assert!(
        elsewhere.is_err(),
        "another namespace has neither the agent nor the context"
    );
}
