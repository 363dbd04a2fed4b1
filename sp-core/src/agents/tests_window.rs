//! The model's window: a context's earlier turns budgeted and compacted at the start, a long
//! run's oldest tool results elided, a prompt that cannot fit refused — never cut.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::prompt::fit_window;
use super::tests::{Scripted, rememberer, run_to_end, run_to_end_in, setup};
use super::*;
use crate::ErrorCode;
use crate::chat::{ChatMessage, ChatOptions, Role, ToolCall};
use crate::context::{Contexts, MemoryContextStore, NewContext, NewMessage};
use crate::knowledge::{Namespace, SimpleTokenizer};

/// About 100 tokens of the simple tokenizer.
const LONG: &str = "the quick brown fox jumps over the lazy dog near the quiet river bank \
    while seven small birds sing in the tall green trees above the old stone bridge and the \
    farmer walks his cows home across the wide yellow field before the evening rain begins to \
    fall on the sleepy village at the end of the long winding road through the hills";

fn conversation(results: &[&str]) -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage::system("Be brief."), ChatMessage::user("Go.")];
    for (i, result) in results.iter().enumerate() {
        let id = format!("call_{}_1", i + 1);
        let mut reply = ChatMessage::assistant("");
        reply.tool_calls = vec![ToolCall {
            id: id.clone(),
            name: "lookup".into(),
            arguments: "{}".into(),
        }];
        messages.push(reply);
        messages.push(ChatMessage::tool_result(id, *result));
    }
    messages
}

#[test]
fn the_oldest_results_are_elided_until_the_prompt_fits() {
    let options = ChatOptions::default();
    let tokenizer = SimpleTokenizer;
    let mut all = conversation(&[LONG, LONG, LONG]);
    all.push(ChatMessage::assistant("Next?"));
    all.push(ChatMessage::user("Go on."));
    let whole = super::prompt::prompt_tokens(Some(&tokenizer), &all, &options).expect("count");
    let result = super::prompt::message_tokens(Some(&tokenizer), &all[3]).expect("count");
    // Room for everything but a result and a quarter.
    let window = (whole - result * 5 / 4) as usize + 32;
    let mut fitted = all.clone();
    let elided = fit_window(&mut fitted, &options, Some(&tokenizer), window, 32).expect("fits");
    assert_eq!(
        elided,
        ["call_1_1", "call_2_1"],
        "oldest first, only as needed"
    );
    let results: Vec<&str> = fitted
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.as_str())
        .collect();
    assert!(
        results[0].starts_with("[result of call_1_1 elided"),
        "{results:?}"
    );
    assert!(results[1].contains("elided to fit the context window"));
    assert_eq!(results[2], LONG, "the rest is shown whole");
    let used = super::prompt::prompt_tokens(Some(&tokenizer), &fitted, &options).expect("count");
    assert!(used + 32 <= window as u64, "{used} + 32 > {window}");

    let mut untouched = all.clone();
    let none = fit_window(&mut untouched, &options, Some(&tokenizer), 10_000, 32).expect("fits");
    assert!(none.is_empty());
    assert_eq!(untouched, all, "a prompt that fits is left as it is");
}

#[test]
fn the_results_of_the_latest_reply_are_never_elided() {
    let options = ChatOptions::default();
    let tokenizer = SimpleTokenizer;
    let all = conversation(&[LONG, LONG]);
    let whole = super::prompt::prompt_tokens(Some(&tokenizer), &all, &options).expect("count");
    let result = super::prompt::message_tokens(Some(&tokenizer), &all[3]).expect("count");
    // Eliding the first result is not enough; only eliding the latest too would be.
    let window = (whole - result * 3 / 2) as usize + 32;
    let mut fitted = all.clone();
    let err = fit_window(&mut fitted, &options, Some(&tokenizer), window, 32)
        .expect_err("only the latest result could go");
    assert_eq!(err.code(), ErrorCode::ContextLengthExceeded);
    assert_eq!(fitted.last().map(|m| m.content.as_str()), Some(LONG));
}

#[test]
fn a_prompt_that_cannot_fit_is_refused_not_cut() {
    let options = ChatOptions::default();
    let mut messages = vec![ChatMessage::system("Be brief."), ChatMessage::user(LONG)];
    let err =
        fit_window(&mut messages, &options, Some(&SimpleTokenizer), 64, 32).expect_err("too long");
    assert_eq!(err.code(), ErrorCode::ContextLengthExceeded);
    assert_eq!(messages[1].content, LONG, "nothing of the input is cut");
}

#[tokio::test]
async fn a_long_run_shows_its_oldest_results_elided_and_records_which() {
    let script = vec![
        Err((
            "memory_append",
            r#"{"block": "facts", "text": "the quick brown fox jumps over the lazy dog near the quiet river bank while seven small birds sing in the tall green trees above the old stone bridge"}"#,
        )),
        Err((
            "memory_append",
            r#"{"block": "facts", "text": "the farmer walks his cows home across the wide yellow field before the evening rain begins to fall on the sleepy village"}"#,
        )),
        Ok("Remembered both."),
    ];
    let unbounded = setup(Scripted::new(script.clone()), Default::default(), None);
    let agent = NewAgent {
        max_tokens: 32,
        ..rememberer()
    };
    let whole = run_to_end(&unbounded, &agent, "Remember these.").await;
    assert_eq!(whole.status, AgentRunStatus::Succeeded, "{whole:?}");
    assert_eq!(whole.usage.prompt_tokens, 30);

    // A window the third prompt outgrows by less than the first result.
    let model = Scripted::windowed(script, Some(600));
    let s = setup(model, Default::default(), None);
    let done = run_to_end(&s, &agent, "Remember these.").await;
    assert_eq!(done.status, AgentRunStatus::Succeeded, "{done:?}");
    let seen = s.model.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].contains("result of call_1_1 elided"), "{seen:?}");
    assert!(seen[1].contains("sleepy village"), "{seen:?}");
    let ns = Namespace::default();
    let events = s.agents.events(&ns, done.id, 0, 100).await.expect("events");
    let elided: Vec<Vec<String>> = events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::ModelOutput { elided, .. } => Some(elided.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(elided, [vec![], vec![], vec!["call_1_1".to_owned()]]);
    let replay = s.agents.replay(&ns, done.id).await.expect("replay");
    assert!(replay.matches);
}

#[tokio::test]
async fn an_input_beyond_the_window_fails_the_run_before_the_model_is_asked() {
    let model = Scripted::windowed(vec![Ok("never")], Some(64));
    let s = setup(model, Default::default(), None);
    let done = run_to_end(&s, &rememberer(), LONG).await;
    assert_eq!(done.status, AgentRunStatus::Failed, "{done:?}");
    let error = done.error.expect("error");
    assert_eq!(
        error.code,
        ErrorCode::ContextLengthExceeded.as_str(),
        "{error:?}"
    );
    assert_eq!(s.model.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_long_context_is_compacted_into_its_summary_for_the_run() {
    let summariser = Scripted::windowed(vec![Ok("The user has a dog named Rex.")], Some(4096));
    let contexts = Arc::new(
        Contexts::new(
            Arc::new(MemoryContextStore::default()),
            Arc::new(SimpleTokenizer),
        )
        .with_model(summariser.clone()),
    );
    let ns = Namespace::default();
    let context = contexts
        .create(NewContext::default())
        .await
        .expect("context");
    for i in 0..12 {
        let (role, text) = if i % 2 == 0 {
            (Role::User, LONG)
        } else {
            (Role::Assistant, "Noted.")
        };
        contexts
            .append(&ns, context.id, NewMessage::new(role, text))
            .await
            .expect("append");
    }
    let model = Scripted::windowed(vec![Ok("Rex.")], Some(1024));
    let s = setup(model, Default::default(), Some(contexts.clone()));
    let agent = NewAgent {
        max_tokens: 32,
        ..NewAgent::new("recaller", "Answer from the conversation.")
    };
    let done = run_to_end_in(&s, &agent, "What is my dog called?", Some(context.id)).await;
    assert_eq!(done.status, AgentRunStatus::Succeeded, "{done:?}");
    assert_eq!(summariser.calls.load(Ordering::SeqCst), 1, "one compaction");
    let events = s.agents.events(&ns, done.id, 0, 1).await.expect("events");
    let RunEvent::Started {
        system,
        history,
        compaction,
        summarised_tokens,
        ..
    } = &events[0].event
    else {
        panic!("not started: {events:?}");
    };
    assert!(
        system.ends_with(
            "<conversation_summary>\nThe user has a dog named Rex.\n</conversation_summary>"
        ),
        "{system}"
    );
    assert!(
        !history.is_empty() && history.len() < 12,
        "the latest turns, not all: {}",
        history.len()
    );
    assert_eq!(compaction.prompt_tokens, 10, "the summariser's usage");
    assert!(
        *summarised_tokens > 0,
        "what the summary replaced is reported"
    );
    assert_eq!(
        done.usage.prompt_tokens, 20,
        "the run's usage counts the compaction"
    );
    let stored = contexts
        .messages(&ns, context.id, 0, 100)
        .await
        .expect("messages");
    assert!(
        stored
            .iter()
            .any(|m| m.kind == crate::context::MessageKind::Summary),
        "the summary is the context's, for its next turn too"
    );
}

/// Answers once told to (a run stays in flight until then).
struct Gated(tokio::sync::Notify);

#[async_trait::async_trait]
impl crate::ChatModel for Gated {
    async fn chat(
        &self,
        messages: &[ChatMessage],
        sampling: &crate::chat::Sampling,
    ) -> crate::Result<crate::chat::Completion> {
        self.chat_with(messages, sampling, &ChatOptions::default())
            .await
    }

    async fn chat_stream(
        &self,
        _: &[ChatMessage],
        _: &crate::chat::Sampling,
    ) -> crate::Result<futures::stream::BoxStream<'static, crate::Result<crate::chat::StreamEvent>>>
    {
        Err(crate::Error::internal("not scripted"))
    }

    async fn chat_with(
        &self,
        _: &[ChatMessage],
        _: &crate::chat::Sampling,
        _: &ChatOptions,
    ) -> crate::Result<crate::chat::Completion> {
        self.0.notified().await;
        Ok(crate::chat::Completion::new(
            "Done.",
            crate::chat::FinishReason::Stop,
            Default::default(),
        ))
    }
}

#[tokio::test]
async fn a_run_in_flight_replays_as_it_stands_and_again_once_ended() {
    let gate = Arc::new(Gated(tokio::sync::Notify::new()));
    let agents = Arc::new(Agents::new(
        Arc::new(MemoryAgentStore::default()),
        Arc::new(OneModel::new(gate.clone(), None)),
        Toolbox::new(None, Builtins::default()),
        crate::workflows::WorkflowsConfig::default(),
    ));
    let agent = NewAgent::new("waiter", "Wait.");
    agents.define(&agent).await.expect("define");
    let ns = Namespace::default();
    let run = agents
        .start(
            &ns,
            "waiter",
            NewAgentRun {
                input: "Go.".into(),
                ..Default::default()
            },
        )
        .await
        .expect("start");
    // In flight: the replay is of the events so far, consistent with the summary.
    let early = agents.replay(&ns, run.id).await.expect("replay in flight");
    assert_eq!(early.status, AgentRunStatus::Running);
    gate.0.notify_one();
    let done = agents
        .wait(&ns, run.id, std::time::Duration::from_secs(10))
        .await
        .expect("wait");
    assert_eq!(done.status, AgentRunStatus::Succeeded, "{done:?}");
    let late = agents.replay(&ns, run.id).await.expect("replay");
    assert_eq!(late.status, AgentRunStatus::Succeeded);
    assert_eq!(late.output.as_deref(), Some("Done."));
}
