//! Runs of a definition that is not stored: they see the caller's conversation, call their
//! tools, leave no context behind, replay like stored runs, and are refused as `define`
//! refuses a bad definition.

use std::time::Duration;

use super::tests::{Scripted, rememberer, setup};
use super::*;
use crate::ErrorCode;
use crate::chat::{ChatMessage, ToolChoice};
use crate::knowledge::Namespace;

#[tokio::test]
async fn an_inline_run_sees_its_history_calls_its_tools_and_replays() {
    let model = Scripted::new(vec![
        Err((
            "memory_append",
            r#"{"block": "facts", "text": "cats purr"}"#,
        )),
        Ok("Noted."),
    ]);
    let s = setup(model, Default::default(), None);
    let ns = Namespace::default();
    let run = InlineRun {
        history: vec![ChatMessage::user("Hi"), ChatMessage::assistant("Hello!")],
        ..InlineRun::new(rememberer(), "Remember that cats purr.")
    };
    let started = s.agents.start_inline(&ns, run).await.expect("start");
    let done = s
        .agents
        .wait(&ns, started.id, Duration::from_secs(10))
        .await
        .expect("wait");
    assert_eq!(done.status, AgentRunStatus::Succeeded, "{done:?}");
    assert_eq!((done.output.as_deref(), done.steps), (Some("Noted."), 2));
    assert_eq!((done.agent.as_str(), done.version), ("rememberer", 0));
    // Nothing was defined, and the memory block the tool wrote is the agent's.
    assert!(s.agents.agent(&ns, "rememberer").await.is_err());
    let blocks = s
        .contexts
        .memory(
            &ns,
            &crate::context::MemoryScope::Agent("rememberer".into()),
        )
        .await
        .expect("memory");
    assert!(blocks.iter().any(|b| b.content.contains("cats purr")));
    let events = s.agents.events(&ns, done.id, 0, 100).await.expect("events");
    match &events[0].event {
        RunEvent::Started {
            history, context, ..
        } => {
            assert_eq!(history.len(), 2);
            assert_eq!(*context, None);
        }
        other => panic!("first event {other:?}"),
    }
    let replay = s.agents.replay(&ns, done.id).await.expect("replay");
    assert!(replay.matches);
    assert_eq!(replay.output.as_deref(), Some("Noted."));
}

#[tokio::test]
async fn bad_inline_definitions_are_refused_before_anything_is_stored() {
    let s = setup(Scripted::new(vec![Ok("hi")]), Default::default(), None);
    let ns = Namespace::default();
    let unknown = NewAgent {
        tools: vec![ToolSelector::Builtin("no_such_tool".into())],
        ..rememberer()
    };
    let choice = NewAgent {
        tool_choice: ToolChoice::Function("weather".into()),
        ..rememberer()
    };
    let steps = NewAgent {
        max_steps: 0,
        ..rememberer()
    };
    for (agent, input, code) in [
        (unknown, "hi", ErrorCode::AgentToolUnknown),
        (choice, "hi", ErrorCode::InvalidInput),
        (steps, "hi", ErrorCode::InvalidInput),
        (rememberer(), " ", ErrorCode::InvalidInput),
    ] {
        let err = s
            .agents
            .start_inline(&ns, InlineRun::new(agent, input))
            .await
            .expect_err("refused");
        assert_eq!(err.code(), code, "{err}");
    }
    let runs = s
        .agents
        .runs(&ns, None, &crate::PageRequest::default())
        .await
        .expect("runs");
    assert!(runs.items.is_empty());
}
