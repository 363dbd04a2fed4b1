//! Response formats: JSON Schema, JSON objects, regex and GBNF, and what is refused.

use serde_json::{Value, json};
use sp_core::ErrorCode;
use sp_core::chat::{ChatMessage, ChatOptions, FinishReason, ResponseFormat, Sampling};

use super::{engine, sampled};

fn pet_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Z][a-z]{1,10}$"},
            "kind": {"enum": ["cat", "dog", "bird"]},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 3},
            "owner": {
                "type": "object",
                "properties": {
                    "age": {"type": "integer", "minimum": 0, "maximum": 120},
                    "city": {"type": "string", "maxLength": 16}
                },
                "required": ["age", "city"],
                "additionalProperties": false
            }
        },
        "required": ["name", "kind", "tags", "owner"],
        "additionalProperties": false
    })
}

fn schema_format(schema: Value) -> ChatOptions {
    ChatOptions {
        response_format: ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema,
            strict: true,
        },
        ..ChatOptions::default()
    }
}

#[tokio::test]
async fn fifty_sampled_schema_replies_all_validate() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let options = schema_format(pet_schema());
    let messages = [ChatMessage::user("Describe a pet as JSON.")];
    let samplings: Vec<Sampling> = (0..50).map(|seed| sampled(seed, 160)).collect();
    let replies = futures::future::join_all(
        samplings
            .iter()
            .map(|sampling| engine.chat_with(&messages, sampling, &options)),
    )
    .await;
    let validator = jsonschema::validator_for(&pet_schema()).expect("schema");
    let mut distinct = std::collections::HashSet::new();
    for (seed, reply) in replies.into_iter().enumerate() {
        let reply = reply.unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        assert_eq!(
            reply.finish_reason,
            FinishReason::Stop,
            "seed {seed}: {}",
            reply.text
        );
        let value: Value = serde_json::from_str(&reply.text)
            .unwrap_or_else(|err| panic!("seed {seed}: {err}: {}", reply.text));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "seed {seed}: {} {errors:?}", reply.text);
        distinct.insert(reply.text);
    }
    assert!(
        distinct.len() > 10,
        "sampling varies: {} distinct",
        distinct.len()
    );
}

#[tokio::test]
async fn json_object_regex_and_gbnf_are_enforced() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let ask = |text: &str| [ChatMessage::user(text)];
    let object = ChatOptions {
        response_format: ResponseFormat::JsonObject,
        ..ChatOptions::default()
    };
    let reply = engine
        .chat_with(&ask("Capital of France?"), &Sampling::greedy(64), &object)
        .await
        .expect("json_object");
    if reply.finish_reason == FinishReason::Stop {
        assert!(
            serde_json::from_str::<Value>(&reply.text)
                .expect("JSON")
                .is_object()
        );
    } else {
        assert!(reply.text.starts_with('{'), "{}", reply.text);
    }
    let phone = ChatOptions {
        response_format: ResponseFormat::Regex {
            pattern: r"\+33 [0-9]{2} [0-9]{2} [0-9]{2} [0-9]{2}".into(),
        },
        ..ChatOptions::default()
    };
    for seed in 0..5 {
        let reply = engine
            .chat_with(&ask("A phone number in Paris?"), &sampled(seed, 32), &phone)
            .await
            .expect("regex");
        assert_eq!(reply.finish_reason, FinishReason::Stop);
        let digits: Vec<&str> = reply.text.split(' ').collect();
        assert_eq!(digits[0], "+33", "{}", reply.text);
        assert!(
            digits[1..]
                .iter()
                .all(|d| d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit()))
        );
    }
    let yes_no = ChatOptions {
        response_format: ResponseFormat::Grammar {
            grammar: "root ::= (\"yes\" | \"no\") \".\"".into(),
        },
        ..ChatOptions::default()
    };
    for seed in 0..3 {
        let reply = engine
            .chat_with(&ask("Is Paris in France?"), &sampled(seed, 8), &yes_no)
            .await
            .expect("gbnf");
        assert!(
            ["yes.", "no."].contains(&reply.text.as_str()),
            "{}",
            reply.text
        );
    }
}

#[tokio::test]
async fn constraints_the_decoder_cannot_enforce_are_refused() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let ask = [ChatMessage::user("Hi")];
    let cases = [
        (
            schema_format(
                json!({"type": "object", "properties": {"a": {"type": "array", "uniqueItems": true}}}),
            ),
            "uniqueItems",
        ),
        (
            schema_format(json!({"type": "object", "not": {"required": ["a"]}})),
            "not",
        ),
        (
            schema_format(
                json!({"type": "object", "properties": {"a": {"type": "string", "format": "no-such-format"}}}),
            ),
            "no-such-format",
        ),
        (
            ChatOptions {
                response_format: ResponseFormat::Grammar {
                    grammar: "root ::= (\"unclosed\"".into(),
                },
                ..ChatOptions::default()
            },
            "GBNF",
        ),
        (
            ChatOptions {
                response_format: ResponseFormat::Regex {
                    pattern: "(unclosed".into(),
                },
                ..ChatOptions::default()
            },
            "regex",
        ),
    ];
    for (options, named) in cases {
        let err = engine
            .chat_with(&ask, &Sampling::greedy(8), &options)
            .await
            .expect_err("refused");
        assert_eq!(err.code(), ErrorCode::ConstraintUnsupported, "{err}");
        assert!(err.to_string().contains(named), "{err} names {named}");
    }
    let stats = engine.stats();
    assert_eq!(stats.finished, 0, "nothing was generated");
}
