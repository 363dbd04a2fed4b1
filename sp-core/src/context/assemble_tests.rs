use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde_json::json;

use super::*;
use crate::chat::{ChatMessage, Completion, FinishReason, Sampling, StreamEvent, Usage};
use crate::context::{Contexts, MemoryContextStore, MemoryScope, NewContext, NewMessage, ToolCall};
use crate::knowledge::{Namespace, Section, SimpleTokenizer};
use crate::model::ChatModel;
use crate::{Id, Result};

/// Writes a summary naming how many lines it folded: a deterministic model for the
/// mechanics; the real model's compaction is tested in sp-data's suite.
#[derive(Default)]
struct CountingSummariser {
    calls: AtomicUsize,
}

#[async_trait]
impl ChatModel for CountingSummariser {
    async fn chat(&self, messages: &[ChatMessage], _: &Sampling) -> Result<Completion> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let lines = messages.last().map_or(0, |m| m.content.lines().count());
        Ok(Completion::new(
            format!("summary of {lines} lines"),
            FinishReason::Stop,
            Usage::default(),
        ))
    }

    async fn chat_stream(
        &self,
        _: &[ChatMessage],
        _: &Sampling,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        unreachable!("compaction does not stream")
    }
}

fn budget(window: usize) -> Budget {
    Budget {
        context_window: window,
        reply_tokens: 32,
        retrieval_tokens: 64,
    }
}

async fn with_turns(contexts: &Contexts, turns: usize) -> (Namespace, Id) {
    let ctx = contexts
        .create(NewContext::default().with_system_prompt("You are a careful assistant."))
        .await
        .unwrap();
    for i in 0..turns {
        let (role, text) = if i % 2 == 0 {
            (
                crate::chat::Role::User,
                format!("question number {i} about the harbour"),
            )
        } else {
            (
                crate::chat::Role::Assistant,
                format!("answer number {i} about boats"),
            )
        };
        contexts
            .append(&ctx.namespace, ctx.id, NewMessage::new(role, text))
            .await
            .unwrap();
    }
    (ctx.namespace, ctx.id)
}

fn contexts() -> Contexts {
    Contexts::new(
        Arc::new(MemoryContextStore::default()),
        Arc::new(SimpleTokenizer),
    )
}

fn exact_size(prompt: &AssembledPrompt) -> usize {
    let tokenizer = SimpleTokenizer;
    prompt
        .messages
        .iter()
        .map(|m| count_message(&tokenizer, m).unwrap())
        .sum::<usize>()
        + crate::Tokenizer::reply_overhead(&tokenizer)
}

#[tokio::test]
async fn consecutive_assemblies_share_the_whole_earlier_prefix() {
    let contexts = contexts();
    let (ns, id) = with_turns(&contexts, 1).await;
    let mut previous: Option<AssembledPrompt> = None;
    for turn in 0..6 {
        let prompt = contexts.assemble(&ns, id, &budget(4096)).await.unwrap();
        assert_eq!(prompt.stable_messages, prompt.messages.len() - 1);
        assert_eq!(prompt.prompt_tokens, exact_size(&prompt));
        if let Some(before) = &previous {
            let stable = &before.messages[..before.stable_messages];
            assert_eq!(&prompt.messages[..stable.len()], stable, "turn {turn}");
            // Only appended: the earlier tail (the user turn) follows, unchanged.
            assert_eq!(prompt.messages[stable.len()], before.messages[stable.len()]);
        }
        previous = Some(prompt);
        for (role, text) in [
            (crate::chat::Role::Assistant, format!("reply {turn}")),
            (crate::chat::Role::User, format!("follow-up {turn}")),
        ] {
            contexts
                .append(&ns, id, NewMessage::new(role, text))
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn over_budget_turns_are_summarised_and_kept() {
    let model = Arc::new(CountingSummariser::default());
    let contexts = contexts().with_model(model.clone());
    let (ns, id) = with_turns(&contexts, 41).await;
    let prompt = contexts.assemble(&ns, id, &budget(300)).await.unwrap();
    assert!(prompt.prompt_tokens <= 300 - 32, "{}", prompt.prompt_tokens);
    assert_eq!(prompt.prompt_tokens, exact_size(&prompt));
    let through = prompt.summary_through.expect("a summary is in the prompt");
    assert!(
        prompt.messages[0]
            .content
            .contains("<conversation_summary>")
    );
    // In a small window the folded turns are summarised a batch at a time.
    let calls = model.calls.load(Ordering::SeqCst);
    assert!(calls >= 1);
    // Nothing is dropped: the store holds every turn plus the summary.
    let all = contexts.messages(&ns, id, 0, 1000).await.unwrap();
    assert_eq!(all.len(), 42);
    assert_eq!(all[41].kind, MessageKind::Summary);
    assert_eq!(all[41].covers_through, Some(through));
    // The prompt holds exactly the turns after the summary.
    assert_eq!(prompt.messages.len(), 1 + (41 - through as usize));
    // The next assembly reuses the summary instead of compacting again.
    let again = contexts.assemble(&ns, id, &budget(300)).await.unwrap();
    assert_eq!(again.messages, prompt.messages);
    assert_eq!(model.calls.load(Ordering::SeqCst), calls);
}

#[tokio::test]
async fn without_a_model_over_budget_is_an_error_not_a_truncation() {
    let contexts = contexts();
    let (ns, id) = with_turns(&contexts, 41).await;
    let err = contexts.assemble(&ns, id, &budget(300)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "SP-LLM-001");
}

#[tokio::test]
async fn a_budget_below_the_system_prompt_is_refused_and_nothing_changes() {
    let model = Arc::new(CountingSummariser::default());
    let contexts = contexts().with_model(model.clone());
    let (ns, id) = with_turns(&contexts, 3).await;
    let err = contexts.assemble(&ns, id, &budget(40)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "SP-LLM-001");
    let sampling = Sampling {
        max_tokens: 32,
        ..Sampling::default()
    };
    let turn = NewMessage::new(crate::chat::Role::User, "one more");
    let err = contexts
        .chat(&ns, id, turn, &sampling, 40)
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "SP-LLM-001");
    assert_eq!(contexts.get(&ns, id).await.unwrap().message_count, 3);
    assert_eq!(model.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn memory_leads_and_retrieval_stays_in_the_tail() {
    let contexts = contexts();
    let (ns, id) = with_turns(&contexts, 1).await;
    contexts
        .set_memory(
            &ns,
            &MemoryScope::Context(id),
            "persona",
            "Likes sailing.",
            None,
        )
        .await
        .unwrap();
    let memory = contexts
        .memory(&ns, &MemoryScope::Context(id))
        .await
        .unwrap();
    let live = contexts.store().live_messages(&ns, id).await.unwrap();
    let hit = |text: &str| crate::knowledge::SearchHit {
        document_id: Id::new(),
        title: "Harbour guide".into(),
        external_id: None,
        metadata: json!({}),
        section: Section {
            ordinal: 0,
            heading_path: vec![],
            text: text.into(),
            token_count: 4,
        },
        score: 1.0,
    };
    let hits = vec![hit("The harbour opens at six."), hit(&"long ".repeat(200))];
    let input = AssemblyInput {
        system_prompt: Some("Be brief."),
        memory: &memory,
        live: &live,
        retrieved: &hits,
    };
    let Plan::Fits(prompt) = plan(&input, &budget(4096), 64, &SimpleTokenizer).unwrap() else {
        panic!("fits");
    };
    assert!(
        prompt.messages[0]
            .content
            .contains("<memory name=\"persona\">")
    );
    // The second passage is over the retrieval budget: only the first is placed.
    assert_eq!(prompt.retrieved.len(), 1);
    let tail = prompt.messages.last().unwrap();
    assert!(
        tail.content
            .starts_with("Relevant passages:\n[1] Harbour guide: The harbour")
    );
    assert!(
        tail.content
            .ends_with("question number 0 about the harbour")
    );
    assert_eq!(prompt.prompt_tokens, exact_size(&prompt));
}

#[tokio::test]
async fn compaction_never_separates_a_tool_result_from_its_call() {
    let model = Arc::new(CountingSummariser::default());
    let contexts = contexts().with_model(model);
    let ctx = contexts.create(NewContext::default()).await.unwrap();
    let (ns, id) = (ctx.namespace, ctx.id);
    let user = |t: &str| NewMessage::new(crate::chat::Role::User, t);
    contexts
        .append(&ns, id, user("look up the tide tables"))
        .await
        .unwrap();
    let call = ToolCall {
        id: "c1".into(),
        name: "tides".into(),
        arguments: json!({"port": "Brest"}),
    };
    let asks = NewMessage::new(crate::chat::Role::Assistant, "").with_tool_calls(vec![call]);
    contexts.append(&ns, id, asks).await.unwrap();
    contexts
        .append(
            &ns,
            id,
            NewMessage::tool_result("c1", "high tide 06:12 ".repeat(20)),
        )
        .await
        .unwrap();
    for i in 0..6 {
        contexts
            .append(&ns, id, user(&format!("more words {i} ").repeat(6)))
            .await
            .unwrap();
    }
    let prompt = contexts.assemble(&ns, id, &budget(220)).await.unwrap();
    let through = prompt.summary_through.expect("compacted");
    assert!(
        through >= 3,
        "the tool result (seq 3) went with its call: {through}"
    );
    assert!(
        prompt
            .messages
            .iter()
            .all(|m| m.role != crate::chat::Role::Tool)
    );
}
