use serde_json::json;
use sp_core::ErrorCode;
use sp_core::chat::{ResponseFormat, ToolChoice, ToolDefinition, Tools};

use super::*;

fn weather() -> Tools {
    Tools {
        definitions: vec![
            ToolDefinition::new(
                "get_weather",
                json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            ),
            ToolDefinition::new("get_time", json!({"type": "object", "properties": {}})),
        ],
        ..Tools::default()
    }
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/templates/{name}.jinja",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).expect("fixture")
}

#[test]
fn each_family_is_recognised_by_its_template() {
    let cases = [
        ("hermes-3-llama-3.1-tool-use", ToolSyntax::Hermes),
        ("llama-3.2-3b-instruct", ToolSyntax::Llama3),
        ("mistral-nemo-instruct-2407", ToolSyntax::Mistral),
        ("smollm2-135m-instruct", ToolSyntax::Envelope),
        ("gemma-2-2b-it", ToolSyntax::Envelope),
        // DeepSeek's template knows tools, but in a syntax we do not read: the envelope.
        ("deepseek-r1-distill-qwen-32b", ToolSyntax::Envelope),
    ];
    for (name, syntax) in cases {
        let source = fixture(name);
        assert_eq!(
            ToolSyntax::detect(&source, source.contains("tools")),
            syntax,
            "{name}"
        );
    }
}

#[test]
fn native_replies_parse_into_checked_calls() {
    let tools = weather();
    let cases = [
        (
            ToolSyntax::Hermes,
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
            2,
        ),
        (
            ToolSyntax::Llama3,
            "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
            1,
        ),
        (
            ToolSyntax::Mistral,
            "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]",
            1,
        ),
        (
            ToolSyntax::Mistral,
            "[{\"name\": \"get_time\", \"arguments\": {}}]",
            1,
        ),
        (
            ToolSyntax::Envelope,
            "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]}",
            1,
        ),
    ];
    for (syntax, text, count) in cases {
        let Reply::Calls(calls) = parse_reply(syntax, text, &tools).expect(text) else {
            panic!("{text} should be calls");
        };
        assert_eq!(calls.len(), count, "{text}");
        if syntax == ToolSyntax::Mistral {
            assert_eq!(
                calls[0].id.len(),
                9,
                "Mistral's template wants 9-character ids"
            );
            assert!(calls[0].id.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&calls[0].arguments).expect("JSON"),
            if calls[0].name == "get_weather" {
                json!({"city": "Paris"})
            } else {
                json!({})
            }
        );
    }
}

#[test]
fn answers_stay_answers() {
    let tools = weather();
    assert_eq!(
        parse_reply(ToolSyntax::Hermes, "It is sunny.", &tools).expect("answer"),
        Reply::Answer("It is sunny.".into())
    );
    assert_eq!(
        parse_reply(ToolSyntax::Envelope, "{\"content\": \"Hi\"}", &tools).expect("answer"),
        Reply::Answer("Hi".into())
    );
}

#[test]
fn undeclared_tools_and_bad_arguments_fail_closed() {
    let tools = weather();
    for text in [
        "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>",
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": 3}}\n</tool_call>",
        "<tool_call>\n{\"name\": \"get_weather\"",
    ] {
        let err = parse_reply(ToolSyntax::Hermes, text, &tools).expect_err(text);
        assert_eq!(err.code(), ErrorCode::ConstraintViolated, "{text}");
    }
    let required = Tools {
        choice: ToolChoice::Required,
        ..weather()
    };
    assert!(parse_reply(ToolSyntax::Envelope, "{\"tool_calls\": []}", &required).is_err());
}

#[test]
fn the_envelope_schema_narrows_with_the_choice() {
    let mut tools = weather();
    let auto = envelope_schema(&tools, &ResponseFormat::Text);
    assert_eq!(auto["anyOf"].as_array().map(Vec::len), Some(2));
    tools.choice = ToolChoice::Function("get_time".into());
    tools.parallel = false;
    let named = envelope_schema(&tools, &ResponseFormat::Text);
    let items = &named["properties"]["tool_calls"];
    assert_eq!(items["maxItems"], 1);
    assert_eq!(items["items"]["properties"]["name"]["const"], "get_time");
    let validator = jsonschema::validator_for(&named).expect("a valid schema");
    assert!(validator.is_valid(&json!({"tool_calls": [{"name": "get_time", "arguments": {}}]})));
    assert!(
        !validator.is_valid(
            &json!({"tool_calls": [{"name": "get_weather", "arguments": {"city": "x"}}]})
        )
    );
    assert!(!validator.is_valid(&json!({"content": "no call"})));
}
