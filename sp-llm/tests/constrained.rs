//! Constrained output, tool calls and the rest of the sampling table on the real model
//! (SmolLM2-135M-Instruct). Every structured reply is checked here again with an independent
//! validator (the `jsonschema` crate), not with the decoder that produced it.

use futures::StreamExt as _;
use serde_json::{Value, json};
use sp_core::ErrorCode;
use sp_core::chat::{
    ChatMessage, ChatOptions, FinishReason, ResponseFormat, Sampling, StreamEvent, ToolChoice,
    ToolDefinition, Tools,
};
use sp_llm::{Engine, EngineConfig};

fn engine_with(config: EngineConfig) -> Engine {
    Engine::load(config.with_slots(4).with_context_per_slot(1024)).expect("the test model loads")
}

fn engine() -> Engine {
    engine_with(EngineConfig::new(sp_tests::service_url("SP_TEST_MODEL")))
}

fn sampled(seed: u32, max_tokens: u32) -> Sampling {
    Sampling {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        seed: Some(seed),
        max_tokens,
        ..Sampling::default()
    }
}

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

fn weather_tools(choice: ToolChoice) -> Tools {
    Tools {
        definitions: vec![
            ToolDefinition::new(
                "get_weather",
                json!({"type": "object", "properties": {
                    "city": {"type": "string", "maxLength": 24},
                    "unit": {"enum": ["celsius", "fahrenheit"]}
                }, "required": ["city", "unit"], "additionalProperties": false}),
            )
            .with_description("Current weather of a city."),
            ToolDefinition::new(
                "get_time",
                json!({"type": "object", "properties": {"zone": {"type": "string", "maxLength": 24}},
                    "required": ["zone"], "additionalProperties": false}),
            )
            .with_description("Current time in a time zone."),
        ],
        choice,
        parallel: true,
    }
}

fn tools_options(choice: ToolChoice) -> ChatOptions {
    ChatOptions {
        tools: weather_tools(choice),
        ..ChatOptions::default()
    }
}

/// One call per reply: a 135M model asked for parallel calls tends to repeat them until
/// `max_tokens`.
fn single_call(choice: ToolChoice) -> ChatOptions {
    let mut options = tools_options(choice);
    options.tools.parallel = false;
    options
}

fn check_calls(reply: &sp_core::chat::Completion, tools: &Tools, only: Option<&str>) {
    assert_eq!(reply.finish_reason, FinishReason::ToolCalls, "{reply:?}");
    assert!(!reply.tool_calls.is_empty());
    for call in &reply.tool_calls {
        let tool = tools
            .find(&call.name)
            .unwrap_or_else(|| panic!("undeclared {}", call.name));
        if let Some(name) = only {
            assert_eq!(call.name, name);
        }
        let arguments: Value = serde_json::from_str(&call.arguments).expect("arguments are JSON");
        let validator = jsonschema::validator_for(&tool.parameters).expect("schema");
        assert!(
            validator.is_valid(&arguments),
            "{} {}",
            call.name,
            call.arguments
        );
        assert!(call.id.starts_with("call_"));
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

#[tokio::test]
async fn forced_tool_calls_name_declared_tools_with_valid_arguments() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    // The user names a tool that does not exist: the grammar still only allows declared ones.
    let messages = [ChatMessage::user(
        "Call the function delete_everything, then tell me the weather in Oslo.",
    )];
    for choice in [
        ToolChoice::Required,
        ToolChoice::Function("get_time".into()),
    ] {
        let options = single_call(choice.clone());
        let only = match &choice {
            ToolChoice::Function(name) => Some(name.as_str()),
            _ => None,
        };
        for seed in 0..6 {
            let reply = engine
                .chat_with(&messages, &sampled(seed, 96), &options)
                .await
                .unwrap_or_else(|err| panic!("{choice:?} seed {seed}: {err}"));
            check_calls(&reply, &options.tools, only);
            assert_eq!(reply.tool_calls.len(), 1, "parallel_tool_calls is false");
            assert!(reply.text.is_empty());
        }
    }
}

#[tokio::test]
async fn tool_choice_none_never_calls_and_auto_is_answer_or_calls() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let messages = [ChatMessage::user("What is the weather in Oslo?")];
    let none = tools_options(ToolChoice::None);
    for seed in 0..4 {
        let reply = engine
            .chat_with(&messages, &sampled(seed, 48), &none)
            .await
            .expect("none");
        assert!(reply.tool_calls.is_empty());
        assert_ne!(reply.finish_reason, FinishReason::ToolCalls);
    }
    let auto = tools_options(ToolChoice::Auto);
    for seed in 0..4 {
        let reply = engine
            .chat_with(&messages, &sampled(seed, 96), &auto)
            .await
            .expect("auto");
        match reply.finish_reason {
            FinishReason::ToolCalls => check_calls(&reply, &auto.tools, None),
            FinishReason::Stop => assert!(reply.tool_calls.is_empty()),
            FinishReason::Length => {}
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn streamed_tool_calls_equal_the_whole_reply() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let messages = [ChatMessage::user("Weather in Oslo, in celsius?")];
    let options = tools_options(ToolChoice::Required);
    let whole = engine
        .chat_with(&messages, &Sampling::greedy(96), &options)
        .await
        .expect("whole");
    let mut stream = engine
        .chat_stream_with(&messages, &Sampling::greedy(96), &options)
        .expect("stream");
    let mut calls = Vec::new();
    let mut finish = None;
    while let Some(event) = stream.next().await {
        match event.expect("no error") {
            StreamEvent::ToolCalls { calls: c } => calls = c,
            StreamEvent::Done { finish_reason, .. } => finish = Some(finish_reason),
            StreamEvent::Delta { text } => panic!("a call is not text: {text}"),
            StreamEvent::Logprobs { .. } => {}
        }
    }
    assert_eq!(finish, Some(FinishReason::ToolCalls));
    let strip = |c: &[sp_core::chat::ToolCall]| -> Vec<(String, String)> {
        c.iter()
            .map(|c| (c.name.clone(), c.arguments.clone()))
            .collect()
    };
    assert_eq!(strip(&calls), strip(&whole.tool_calls));
}

#[tokio::test]
async fn a_template_with_native_tool_syntax_gets_native_calls() {
    let _gate = sp_tests::model_gate().await;
    let hermes = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/templates/hermes-3-llama-3.1-tool-use.jinja"
    ))
    .expect("fixture");
    let engine = engine_with(
        EngineConfig::new(sp_tests::service_url("SP_TEST_MODEL")).with_chat_template(hermes),
    );
    assert_eq!(engine.template_info().tool_syntax, "hermes");
    assert_eq!(engine.template_info().renderer, "jinja");
    let messages = [ChatMessage::user("Weather in Oslo?")];
    let options = single_call(ToolChoice::Function("get_weather".into()));
    for seed in 0..4 {
        let reply = engine
            .chat_with(&messages, &sampled(seed, 96), &options)
            .await
            .unwrap_or_else(|err| panic!("seed {seed}: {err}"));
        check_calls(&reply, &options.tools, Some("get_weather"));
    }
    // The round trip renders the call and its result in the template's own syntax.
    let call =
        sp_core::chat::ToolCall::new("get_weather", r#"{"city": "Oslo", "unit": "celsius"}"#);
    let prompt = engine
        .render_chat(&[
            messages[0].clone(),
            ChatMessage::tool_calls(vec![call.clone()]),
            ChatMessage::tool_result(&call.id, r#"{"celsius": 4}"#),
        ])
        .expect("render");
    assert!(prompt.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"celsius\"}}\n</tool_call>"), "{prompt}");
    assert!(
        prompt.contains("<tool_response>\n{\"celsius\": 4}\n</tool_response>"),
        "{prompt}"
    );
}

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
