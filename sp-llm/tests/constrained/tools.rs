//! Tool calls: forced, none and auto, streamed, and a template's native syntax.

use futures::StreamExt as _;
use serde_json::{Value, json};
use sp_core::chat::{
    ChatMessage, ChatOptions, FinishReason, Sampling, StreamEvent, ToolChoice, ToolDefinition,
    Tools,
};
use sp_llm::EngineConfig;

use super::{engine, engine_with, sampled};

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
    // An answer that must be JSON goes through the envelope, which constrains both.
    let json_answer = ChatOptions {
        response_format: sp_core::chat::ResponseFormat::JsonObject,
        ..single_call(ToolChoice::Auto)
    };
    let reply = engine
        .chat_with(&messages, &Sampling::greedy(96), &json_answer)
        .await
        .expect("auto with a JSON answer");
    match reply.finish_reason {
        FinishReason::ToolCalls => check_calls(&reply, &json_answer.tools, None),
        FinishReason::Stop => {
            assert!(
                serde_json::from_str::<Value>(&reply.text)
                    .expect("JSON")
                    .is_object()
            )
        }
        other => panic!("{other:?}: {}", reply.text),
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
