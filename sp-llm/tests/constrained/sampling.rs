//! The rest of the sampling table: log-probabilities, logit bias, penalties, `n`.

use sp_core::ErrorCode;
use sp_core::chat::{ChatMessage, ChatOptions, FinishReason, Sampling};

use super::{engine, sampled};

#[tokio::test]
async fn logprobs_are_log_probabilities_with_sorted_alternatives() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let sampling = Sampling {
        logprobs: Some(5),
        ..Sampling::greedy(12)
    };
    let reply = engine
        .chat_with(
            &[ChatMessage::user("Capital of France?")],
            &sampling,
            &ChatOptions::default(),
        )
        .await
        .expect("chat");
    let logprobs = reply.logprobs.expect("asked for");
    // One per generated token; the end-of-turn token (counted in usage) has none.
    let end = u32::from(reply.finish_reason == FinishReason::Stop);
    assert_eq!(logprobs.len() as u32, reply.usage.completion_tokens - end);
    assert!(!logprobs.is_empty());
    let text: String = logprobs.iter().map(|t| t.token.as_str()).collect();
    assert_eq!(text, reply.text);
    for token in &logprobs {
        assert!(token.logprob <= 0.0);
        assert_eq!(token.top_logprobs.len(), 5);
        assert!(
            token
                .top_logprobs
                .windows(2)
                .all(|w| w[0].logprob >= w[1].logprob)
        );
        // Greedy: the picked token is the most likely one.
        assert_eq!(token.top_logprobs[0].token, token.token);
        assert!((token.top_logprobs[0].logprob - token.logprob).abs() < 1e-5);
        let mass: f32 = token.top_logprobs.iter().map(|t| t.logprob.exp()).sum();
        assert!(mass <= 1.0 + 1e-4, "{mass}");
    }
}

#[tokio::test]
async fn logit_bias_bans_and_forces_tokens_and_penalties_change_the_text() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let messages = [ChatMessage::user("Capital of France?")];
    let plain = Sampling {
        logprobs: Some(0),
        ..Sampling::greedy(16)
    };
    let first = engine
        .chat_with(&messages, &plain, &ChatOptions::default())
        .await
        .expect("chat");
    let first_token = engine.tokenize_prompt(&first.text)[0].0 as u32;
    let banned = Sampling {
        logit_bias: vec![(first_token, -100.0)],
        ..plain.clone()
    };
    let without = engine
        .chat_with(&messages, &banned, &ChatOptions::default())
        .await
        .expect("banned");
    assert_ne!(without.text, first.text);
    assert!(
        !engine
            .tokenize_prompt(&without.text)
            .iter()
            .any(|t| t.0 as u32 == first_token)
    );
    let forced_token = engine.tokenize_prompt(" Zebra")[0].0 as u32;
    let forced = Sampling {
        logit_bias: vec![(forced_token, 100.0)],
        ..Sampling::greedy(4)
    };
    let zebras = engine
        .chat_with(&messages, &forced, &ChatOptions::default())
        .await
        .expect("forced");
    assert!(
        engine
            .tokenize_prompt(&zebras.text)
            .iter()
            .all(|t| t.0 as u32 == forced_token),
        "{}",
        zebras.text
    );
    let penalised = Sampling {
        frequency_penalty: 2.0,
        presence_penalty: 2.0,
        ..Sampling::greedy(48)
    };
    let long = [ChatMessage::user("Write the word Paris ten times.")];
    let base = engine
        .chat_with(&long, &Sampling::greedy(48), &ChatOptions::default())
        .await
        .expect("base");
    let varied = engine
        .chat_with(&long, &penalised, &ChatOptions::default())
        .await
        .expect("penalised");
    assert_ne!(base.text, varied.text);
    let err = engine
        .chat_with(
            &messages,
            &Sampling {
                logit_bias: vec![(u32::MAX - 1, 1.0)],
                ..Sampling::greedy(4)
            },
            &ChatOptions::default(),
        )
        .await
        .expect_err("not in the vocabulary");
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

#[tokio::test]
async fn n_replies_are_reproducible_with_a_seed() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let messages = [ChatMessage::user("Name a colour.")];
    let sampling = sampled(7, 16);
    let once = engine
        .chat_n(&messages, &sampling, &ChatOptions::default(), 3)
        .await
        .expect("n");
    let again = engine
        .chat_n(&messages, &sampling, &ChatOptions::default(), 3)
        .await
        .expect("n");
    assert_eq!(once.len(), 3);
    // The prompt was computed once: the other choices started from a copy of its cache.
    for choice in &once[1..] {
        assert!(
            choice.usage.cached_tokens + 1 >= choice.usage.prompt_tokens,
            "{:?}",
            choice.usage
        );
    }
    let texts =
        |c: &[sp_core::chat::Completion]| c.iter().map(|c| c.text.clone()).collect::<Vec<_>>();
    assert_eq!(texts(&once), texts(&again));
    let distinct: std::collections::HashSet<_> = texts(&once).into_iter().collect();
    assert!(
        distinct.len() > 1,
        "different seeds differ: {:?}",
        texts(&once)
    );
}
