//! The RAM prefix cache on the real model: a conversation whose slot went to another prompt
//! comes back restored rather than prefilled, with the same greedy answer; the identical
//! prompt of another cache scope (tenant) is never served from it; the stats count it.

use sp_core::chat::{ChatMessage, Sampling};
use sp_llm::{Engine, EngineConfig};

/// A conversation with a long system prompt of its own (a few hundred tokens).
pub(super) fn conversation(topic: &str) -> Vec<ChatMessage> {
    let notes: String = (1..=24)
        .map(|i| {
            format!(
                "Note {i} about {topic}: item {i} is kept in drawer {}. ",
                i * 7
            )
        })
        .collect();
    vec![
        ChatMessage::system(format!("You answer questions about {topic}. {notes}")),
        ChatMessage::user(format!("Where is item 3 of {topic}?")),
    ]
}

#[tokio::test]
async fn an_evicted_prefix_is_restored_from_ram_within_its_scope_only() {
    let _gate = sp_tests::model_gate().await;
    let config = EngineConfig::new(super::model_path())
        .with_slots(1)
        .with_context_per_slot(1024);
    let engine = Engine::load(config).expect("the test model loads");
    let (a, b) = (conversation("the garden"), conversation("the kitchen"));
    let acme = Sampling::greedy(16).in_scope("acme");
    let globex = Sampling::greedy(16).in_scope("globex");
    let chat = |messages: &[ChatMessage], sampling: &Sampling| {
        let (engine, messages, sampling) = (engine.clone(), messages.to_vec(), sampling.clone());
        async move { engine.chat(&messages, &sampling).await.expect("chat") }
    };

    let cold = chat(&a, &acme).await;
    assert_eq!(cold.usage.cached_tokens, 0);
    assert!(cold.usage.prompt_tokens > 200, "{:?}", cold.usage);
    // The one slot goes to another conversation: the first one's cache moves to RAM.
    let other = chat(&b, &acme).await;
    assert!(other.usage.cached_tokens < 16, "{:?}", other.usage);
    let stats = engine.stats();
    assert_eq!(stats.prefix_cache_entries, 1, "{stats:?}");
    assert!(stats.prefix_cache_bytes > 0, "{stats:?}");

    let restored = chat(&a, &acme).await;
    assert_eq!(
        restored.text, cold.text,
        "a restored prefix answers the same"
    );
    assert_eq!(
        restored.usage.cached_tokens,
        restored.usage.prompt_tokens - 1,
        "all but the last prompt token came from RAM"
    );
    let stats = engine.stats();
    assert_eq!(stats.prefix_cache_hits, 1, "{stats:?}");
    assert_eq!(
        stats.prefix_cache_restored_tokens,
        u64::from(restored.usage.prompt_tokens - 1)
    );

    // Another tenant's identical prompts: prefilled, from neither the slot nor RAM (only the
    // opening words the second shares with the tenant's own first prompt are reused).
    let theirs = chat(&a, &globex).await;
    assert_eq!(theirs.usage.cached_tokens, 0, "{:?}", theirs.usage);
    let theirs = chat(&b, &globex).await;
    assert!(theirs.usage.cached_tokens < 16, "{:?}", theirs.usage);
    // And the first tenant's come back again.
    let again = chat(&b, &acme).await;
    assert_eq!(again.text, other.text);
    assert_eq!(again.usage.cached_tokens, again.usage.prompt_tokens - 1);
    let stats = engine.stats();
    assert_eq!(stats.prefix_cache_hits, 2, "{stats:?}");
    assert!(stats.prefix_cache_misses >= 2, "{stats:?}");
}
