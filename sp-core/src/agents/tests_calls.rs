//! Calls through the hub, with a transport of the test's own: the calls of one reply run
//! concurrently, each under its idempotency key; calls past a tool's `max_calls` are
//! refused; a reply cut at `max_tokens` fails the run.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::*;
use crate::ChatModel;
use crate::chat::{
    ChatMessage, ChatOptions, Completion, FinishReason, Role, Sampling, StreamEvent, ToolCall,
    Usage,
};
use crate::error::Result;
use crate::knowledge::Namespace;
use crate::workflows::WorkflowsConfig;

/// Answers once both calls it waits for are in flight (a call made alone would wait forever).
struct Rendezvous(tokio::sync::Barrier);

#[async_trait]
impl crate::hub::Transport for Rendezvous {
    async fn call(
        &self,
        request: crate::hub::ToolRequest,
    ) -> std::result::Result<crate::hub::ToolResponse, crate::hub::TransportError> {
        self.0.wait().await;
        Ok(crate::hub::ToolResponse {
            status: 200,
            body: serde_json::json!({"city": request.arguments["city"], "key": request.idempotency_key}),
        })
    }

    async fn probe(
        &self,
        _: crate::hub::Protocol,
        _: &str,
    ) -> std::result::Result<crate::hub::ToolResponse, crate::hub::TransportError> {
        Ok(crate::hub::ToolResponse {
            status: 200,
            body: serde_json::json!({}),
        })
    }

    async fn mcp_tools(
        &self,
        _: &str,
    ) -> std::result::Result<Vec<crate::hub::ToolSpec>, crate::hub::TransportError> {
        Ok(Vec::new())
    }
}

/// Asks for the weather of two cities in one reply, then answers.
struct TwoCalls;

#[async_trait]
impl ChatModel for TwoCalls {
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
        if messages.iter().any(|m| m.role == Role::Tool) {
            return Ok(Completion::new(
                "Both are sunny.",
                FinishReason::Stop,
                Usage::default(),
            ));
        }
        let mut reply = Completion::new("", FinishReason::ToolCalls, Usage::default());
        reply.tool_calls = vec![
            ToolCall::new("weather", r#"{"city": "Lyon"}"#),
            ToolCall::new("weather", r#"{"city": "Oslo"}"#),
        ];
        Ok(reply)
    }
}

#[tokio::test]
async fn calls_of_one_reply_run_concurrently_each_under_its_key() {
    let hub = Arc::new(crate::hub::Hub::new(
        Arc::new(crate::hub::MemoryRegistryStore::default()),
        Arc::new(Rendezvous(tokio::sync::Barrier::new(2))),
        crate::hub::HubConfig {
            allowed_networks: vec!["10.0.0.0/8".into()],
            ..Default::default()
        },
    ));
    let service = serde_json::json!({"name": "geo", "version": "1.0.0", "base_url": "http://10.0.0.1:9",
        "tools": [{"name": "weather", "input_schema": {"type": "object"}}]});
    hub.register(serde_json::from_value(service).expect("service"))
        .await
        .expect("register");
    let agents = Arc::new(Agents::new(
        Arc::new(MemoryAgentStore::default()),
        Arc::new(OneModel::new(Arc::new(TwoCalls), None)),
        Toolbox::new(Some(hub), Builtins::default()),
        WorkflowsConfig::default(),
    ));
    let agent = NewAgent {
        tools: vec![ToolSelector::Tool("weather".into())],
        ..NewAgent::new("forecaster", "")
    };
    agents.define(&agent).await.expect("define");
    let ns = Namespace::default();
    let run = agents
        .start(
            &ns,
            "forecaster",
            NewAgentRun {
                input: "Lyon and Oslo?".into(),
                ..Default::default()
            },
        )
        .await
        .expect("start");
    let done = agents
        .wait(&ns, run.id, Duration::from_secs(10))
        .await
        .expect("wait");
    assert_eq!(
        done.status,
        AgentRunStatus::Succeeded,
        "two calls made one after the other never meet: {done:?}"
    );
    let events = agents.events(&ns, run.id, 0, 100).await.expect("events");
    let keys: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::ToolResult {
                output: Some(output),
                ..
            } => output["key"].as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    let mut keys = keys;
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("{}:call_1_1", run.id),
            format!("{}:call_1_2", run.id)
        ]
    );
}

#[tokio::test]
async fn calls_past_max_calls_in_one_reply_are_refused_not_made() {
    let hub = Arc::new(crate::hub::Hub::new(
        Arc::new(crate::hub::MemoryRegistryStore::default()),
        Arc::new(Rendezvous(tokio::sync::Barrier::new(1))),
        crate::hub::HubConfig {
            allowed_networks: vec!["10.0.0.0/8".into()],
            ..Default::default()
        },
    ));
    let service = serde_json::json!({"name": "geo", "version": "1.0.0", "base_url": "http://10.0.0.1:9",
        "tools": [{"name": "weather", "input_schema": {"type": "object"}}]});
    hub.register(serde_json::from_value(service).expect("service"))
        .await
        .expect("register");
    let agents = Arc::new(Agents::new(
        Arc::new(MemoryAgentStore::default()),
        Arc::new(OneModel::new(Arc::new(TwoCalls), None)),
        Toolbox::new(Some(hub), Builtins::default()),
        WorkflowsConfig::default(),
    ));
    let mut agent = NewAgent {
        tools: vec![ToolSelector::Tool("weather".into())],
        ..NewAgent::new("forecaster", "")
    };
    agent.max_calls.insert("weather".into(), 1);
    agents.define(&agent).await.expect("define");
    let ns = Namespace::default();
    let run = agents
        .start(
            &ns,
            "forecaster",
            NewAgentRun {
                input: "Lyon and Oslo?".into(),
                ..Default::default()
            },
        )
        .await
        .expect("start");
    let done = agents
        .wait(&ns, run.id, Duration::from_secs(10))
        .await
        .expect("wait");
    assert_eq!(done.status, AgentRunStatus::Succeeded, "{done:?}");
    let events = agents.events(&ns, run.id, 0, 100).await.expect("events");
    let started: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::ToolCallStarted { call_id, .. } => Some(call_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        started,
        ["call_1_1"],
        "only the call within the limit was made"
    );
    let refused = events.iter().any(|e| matches!(&e.event,
        RunEvent::ToolResult { call_id, error: Some(error), .. } if call_id == "call_1_2" && error.code == "SP-VAL-001"));
    assert!(refused, "the model is told why: {events:?}");
}

#[test]
fn a_reply_cut_at_max_tokens_fails_the_run() {
    let agent = Agent {
        definition: NewAgent::new("a", ""),
        version: 1,
        created_at: crate::Timestamp::now(),
        updated_at: crate::Timestamp::now(),
    };
    let mut state = RunState::default();
    state
        .apply(&RunEvent::Started {
            agent: Box::new(agent),
            system: String::new(),
            input: "Hi".into(),
            context: None,
            history: Vec::new(),
            charge_to: None,
            compaction: Usage::default(),
            summarised_tokens: 0,
        })
        .expect("start");
    state
        .apply(&RunEvent::ModelOutput {
            step: 1,
            text: "{\"tool_calls\": [{\"na".into(),
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Length,
            usage: Usage::default(),
            elided: Vec::new(),
        })
        .expect("output");
    match state.next() {
        Next::Fail(error) => assert_eq!(error.code, "SP-AGT-005"),
        other => panic!("a fragment is not an answer: {other:?}"),
    }
}
