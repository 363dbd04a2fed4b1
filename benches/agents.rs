//! Run with: `cargo bench -p sp-benches --bench agents` (PostgreSQL rows when `DATABASE_URL`
//! is set: `eval "$(scripts/services.sh up)"`).
//!
//! What the agent loop costs beyond its model and its tools, on each store: a model that
//! answers at once (a tool call per step, then an answer) and a hub tool whose transport
//! answers at once, so every microsecond measured is the loop's own — the fold, the
//! recording of each event before it is acted on, the hub's checks, the tasks. The anchor is
//! the in-memory store (nothing persisted): the SQL stores' excess over it is what recording
//! a run durably costs. Also: one recorded append alone, and replay (events folded per
//! second, no model, no tool). Backends take turns run by run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::json;
use sp_core::agents::{
    AgentRun, AgentRunStatus, AgentStore, Agents, Builtins, MemoryAgentStore, NewAgent,
    NewAgentRun, OneModel, RunEvent, RunProgress, ToolSelector, Toolbox,
};
use sp_core::chat::{
    ChatMessage, ChatOptions, Completion, FinishReason, Role, Sampling, StreamEvent, ToolCall,
    Usage,
};
use sp_core::hub::{
    Hub, HubConfig, MemoryRegistryStore, Protocol, ToolRequest, ToolResponse, Transport,
    TransportError,
};
use sp_core::knowledge::Namespace;
use sp_core::{ChatModel, Id, Result, Timestamp};
use sp_tests::TestDatabase;

/// Tool-calling steps per run (then one answering step).
const STEPS: usize = 10;
const RUNS: usize = 30;
const APPENDS: usize = 400;

/// Calls `echo` until `STEPS` calls were made, then answers; no compute.
struct Instant0;

#[async_trait]
impl ChatModel for Instant0 {
    async fn chat(&self, _: &[ChatMessage], _: &Sampling) -> Result<Completion> {
        Ok(Completion::new(
            "done",
            FinishReason::Stop,
            Usage::default(),
        ))
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
        _: &Sampling,
        _: &ChatOptions,
    ) -> Result<Completion> {
        let turns = messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count();
        let usage = Usage {
            prompt_tokens: 100,
            completion_tokens: 10,
            cached_tokens: 0,
        };
        if turns >= STEPS {
            return Ok(Completion::new("done", FinishReason::Stop, usage));
        }
        let mut reply = Completion::new("", FinishReason::ToolCalls, usage);
        reply.tool_calls = vec![ToolCall::new("echo", r#"{"q": "x"}"#)];
        Ok(reply)
    }
}

/// Answers every call at once.
struct Echo;

#[async_trait]
impl Transport for Echo {
    async fn call(&self, _: ToolRequest) -> std::result::Result<ToolResponse, TransportError> {
        Ok(ToolResponse {
            status: 200,
            body: json!({"ok": true}),
        })
    }

    async fn probe(
        &self,
        _: Protocol,
        _: &str,
    ) -> std::result::Result<ToolResponse, TransportError> {
        Ok(ToolResponse {
            status: 200,
            body: json!({}),
        })
    }

    async fn mcp_tools(
        &self,
        _: &str,
    ) -> std::result::Result<Vec<sp_core::hub::ToolSpec>, TransportError> {
        Ok(Vec::new())
    }
}

struct Side {
    name: &'static str,
    store: Arc<dyn AgentStore>,
    agents: Arc<Agents>,
    run_time: Duration,
    appends: Vec<Duration>,
    _db: Option<TestDatabase>,
}

async fn side(name: &'static str, store: Arc<dyn AgentStore>, db: Option<TestDatabase>) -> Side {
    let hub = Arc::new(Hub::new(
        Arc::new(MemoryRegistryStore::default()),
        Arc::new(Echo),
        HubConfig {
            allowed_networks: vec!["10.0.0.0/8".into()],
            ..HubConfig::default()
        },
    ));
    hub.register(serde_json::from_value(json!({"name": "echo", "version": "1.0.0",
        "base_url": "http://10.0.0.1:9", "tools": [{"name": "echo", "input_schema": {"type": "object"}}]}))
        .expect("service"))
        .await
        .expect("register");
    let agents = Arc::new(Agents::new(
        store.clone(),
        Arc::new(OneModel::new(Arc::new(Instant0), None)),
        Toolbox::new(Some(hub), Builtins::default()),
        Default::default(),
    ));
    let agent = NewAgent {
        tools: vec![ToolSelector::Tool("echo".into())],
        max_steps: STEPS as u32 + 1,
        ..NewAgent::new("looper", "Loop.")
    };
    agents.define(&agent).await.expect("define");
    Side {
        name,
        store,
        agents,
        run_time: Duration::ZERO,
        appends: Vec::new(),
        _db: db,
    }
}

/// One whole run, from start to its `finished` event.
async fn one_run(agents: &Arc<Agents>) -> (Id, Duration) {
    let mut live = agents.subscribe();
    let started = Instant::now();
    let run = agents
        .start(
            &Namespace::default(),
            "looper",
            NewAgentRun {
                input: "go".into(),
                ..Default::default()
            },
        )
        .await
        .expect("start");
    loop {
        let (id, heard) = live.recv().await.expect("events");
        if let sp_core::agents::LiveEvent::Recorded(event) = heard
            && id == run.id
            && matches!(event.event, RunEvent::Finished { .. })
        {
            assert!(matches!(
                event.event,
                RunEvent::Finished {
                    status: AgentRunStatus::Succeeded,
                    ..
                }
            ));
            return (run.id, started.elapsed());
        }
    }
}

/// A run leased to `me` to append to.
async fn append_target(store: &Arc<dyn AgentStore>) -> Id {
    let agent = store
        .agent(&Namespace::default(), "looper")
        .await
        .expect("agent");
    let id = Id::new();
    let now = Timestamp::now();
    let run = AgentRun {
        id,
        namespace: Namespace::default(),
        agent: "looper".into(),
        version: agent.version,
        status: AgentRunStatus::Running,
        input: "go".into(),
        output: None,
        error: None,
        steps: 0,
        usage: Usage::default(),
        correlation_id: id.to_string(),
        events: 1,
        created_at: now,
        updated_at: now,
    };
    let lease = sp_core::workflows::Lease {
        owner: "me".into(),
        until: Timestamp::from_unix_micros(now.unix_micros() + 3_600_000_000).expect("time"),
    };
    let started = RunEvent::Started {
        agent: Box::new(agent),
        system: "Loop.".into(),
        input: "go".into(),
        context: None,
        history: Vec::new(),
        charge_to: None,
        compaction: Usage::default(),
        summarised_tokens: 0,
    };
    store
        .create_run(&run, &[started], &lease)
        .await
        .expect("create");
    id
}

fn p50(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e6
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut sides = vec![
        side(
            "in memory (anchor)",
            Arc::new(MemoryAgentStore::default()),
            None,
        )
        .await,
    ];
    let sqlite = TestDatabase::sqlite().await;
    sides.push(
        side(
            "SQLite (embedded)",
            sqlite.database.agent_store(),
            Some(sqlite),
        )
        .await,
    );
    if std::env::var("DATABASE_URL").is_ok() {
        let pg = TestDatabase::postgres("bench_agents").await;
        sides.push(side("PostgreSQL", pg.database.agent_store(), Some(pg)).await);
    }
    // Warm-up: a run each.
    for side in &sides {
        one_run(&side.agents).await;
    }
    let mut last_runs = vec![None; sides.len()];
    let count = sides.len();
    for round in 0..RUNS {
        for i in 0..count {
            let at = (round + i) % count;
            let (id, took) = one_run(&sides[at].agents).await;
            sides[at].run_time += took;
            last_runs[at] = Some(id);
        }
    }
    // Appends alone: one event at a time through the lease, taking turns.
    let targets: Vec<Id> =
        futures::future::join_all(sides.iter().map(|s| append_target(&s.store))).await;
    let progress = RunProgress {
        status: AgentRunStatus::Running,
        steps: 0,
        usage: Usage::default(),
        output: None,
        error: None,
    };
    let event = RunEvent::ToolCallStarted {
        call_id: "call_1_1".into(),
        name: "echo".into(),
        idempotency_key: "k".into(),
    };
    for n in 0..APPENDS {
        for (side, target) in sides.iter_mut().zip(&targets) {
            let started = Instant::now();
            let written = side
                .store
                .append(
                    *target,
                    "me",
                    n as u64 + 1,
                    std::slice::from_ref(&event),
                    &progress,
                )
                .await;
            side.appends.push(started.elapsed());
            assert!(written.expect("append"), "the lease holds");
        }
    }
    let steps = (RUNS * (STEPS + 1)) as f64;
    let anchor = sides[0].run_time.as_secs_f64() * 1e6 / steps;
    println!(
        "\nagent loop: {RUNS} runs of {} model calls ({STEPS} with a tool call, then an answer), instant model and tool\n",
        STEPS + 1
    );
    println!(
        "| store | µs per step | over the anchor | append one event p50 µs | replay events/s |"
    );
    println!("|---|---|---|---|---|");
    for (side, run) in sides.iter_mut().zip(&last_runs) {
        let per_step = side.run_time.as_secs_f64() * 1e6 / steps;
        let id = run.expect("a run");
        let replays = 50;
        let started = Instant::now();
        let mut events = 0;
        for _ in 0..replays {
            events = side
                .agents
                .replay(&Namespace::default(), id)
                .await
                .expect("replay")
                .events;
        }
        let replay_rate = (replays as u64 * events) as f64 / started.elapsed().as_secs_f64();
        println!(
            "| {} | {per_step:.0} | {:+.0} µs | {:.0} | {replay_rate:.0} |",
            side.name,
            per_step - anchor,
            p50(&mut side.appends)
        );
    }
    for side in sides {
        if let Some(db) = side._db {
            db.cleanup().await;
        }
    }
}
