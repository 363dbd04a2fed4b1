//! Prompt-lookup speculative decoding on the real model: greedy output is the same with and
//! without it — on an answer that quotes its passage and on a JSON rewrite of a JSON input —
//! and the model did accept guesses (so the comparison exercised them). Not a proof for every
//! prompt: guesses are checked on logits of a multi-token batch, whose sums may round
//! differently, so a near-tie can turn a long output (the speculation bench found one; see
//! docs/inference.md#speculation). These outputs are deterministic on a given build.

use sp_core::chat::{ChatMessage, Sampling};
use sp_llm::{Engine, EngineConfig};

fn engine(speculation: bool) -> Engine {
    let config = EngineConfig::new(super::model_path())
        .with_slots(2)
        .with_context_per_slot(1024)
        .with_speculation(speculation);
    Engine::load(config).expect("the test model loads")
}

#[tokio::test]
async fn speculation_keeps_these_greedy_outputs() {
    let _gate = sp_tests::model_gate().await;
    let (plain, fast) = (engine(false), engine(true));
    let passage = "The Eiffel Tower was built for the 1889 World's Fair in Paris. It is \
                   330 metres tall and was the tallest structure in the world until 1930.";
    let asks = [
        vec![
            ChatMessage::system("Answer by quoting the passage word for word."),
            ChatMessage::user(format!(
                "Passage: {passage}\nQuestion: Why was the Eiffel Tower built, and how tall is it?"
            )),
        ],
        vec![ChatMessage::user(
            "Repeat this JSON exactly, then say done: \
             {\"name\": \"Ada\", \"city\": \"Oslo\", \"tags\": [\"math\", \"engines\", \"notes\"]}",
        )],
    ];
    for ask in &asks {
        let greedy = Sampling::greedy(96);
        let expected = plain.chat(ask, &greedy).await.expect("chat");
        let got = fast.chat(ask, &greedy).await.expect("chat");
        assert_eq!(got.text, expected.text);
        assert_eq!(got.finish_reason, expected.finish_reason);
        assert_eq!(
            got.usage.completion_tokens,
            expected.usage.completion_tokens
        );
        // Streamed too: the same text in pieces.
        let mut stream = fast.chat_stream(ask, &greedy).expect("stream");
        let mut text = String::new();
        while let Some(event) = futures::StreamExt::next(&mut stream).await {
            if let sp_core::chat::StreamEvent::Delta { text: piece } = event.expect("event") {
                text.push_str(&piece);
            }
        }
        assert_eq!(text, expected.text);
    }
    let stats = fast.stats();
    assert!(stats.draft_accepted > 0, "{stats:?}");
    assert_eq!(plain.stats().draft_tokens, 0);
}
