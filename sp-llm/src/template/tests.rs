//! Renderings of real templates (llama.cpp's `models/templates/`, kept as fixtures) against
//! what Python's Jinja2 renders for the same input, the way Hugging Face transformers does
//! (`tests/fixtures/templates/make_expected.py` wrote `cases.json`).

use serde_json::{Map, Value};
use sp_core::chat::{ChatMessage, Role, ToolCall, ToolDefinition};

use super::ChatTemplate;

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

fn message(value: &Value) -> ChatMessage {
    let role = match value["role"].as_str().expect("role") {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        _ => Role::Tool,
    };
    let mut message = ChatMessage::new(role, value["content"].as_str().unwrap_or_default());
    if let Some(calls) = value["tool_calls"].as_array() {
        message.tool_calls = calls
            .iter()
            .map(|c| ToolCall {
                id: c["id"].as_str().expect("id").to_owned(),
                name: c["function"]["name"].as_str().expect("name").to_owned(),
                arguments: match &c["function"]["arguments"] {
                    Value::String(s) => s.clone(),
                    object => super::python_json(object),
                },
            })
            .collect();
    }
    message.tool_call_id = value["tool_call_id"].as_str().map(str::to_owned);
    message
}

fn tool(value: &Value) -> ToolDefinition {
    let function = &value["function"];
    ToolDefinition::new(
        function["name"].as_str().expect("name"),
        function["parameters"].clone(),
    )
    .with_description(function["description"].as_str().expect("description"))
}

#[test]
fn real_templates_render_as_python_jinja2_does() {
    let cases: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("cases.json")).expect("cases.json"),
    )
    .expect("JSON");
    assert!(cases.len() >= 15, "every family has its cases");
    for case in &cases {
        let name = case["template"].as_str().expect("template");
        let source =
            std::fs::read_to_string(fixtures().join(format!("{name}.jinja"))).expect("fixture");
        let template = ChatTemplate::new(
            source,
            case["bos_token"].as_str().expect("bos"),
            case["eos_token"].as_str().expect("eos"),
        )
        .unwrap_or_else(|err| panic!("{name}: {err}"));
        let messages: Vec<ChatMessage> = case["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(message)
            .collect();
        let tools: Vec<ToolDefinition> = case["tools"]
            .as_array()
            .map(|t| t.iter().map(tool).collect())
            .unwrap_or_default();
        let mut extra = Map::new();
        extra.insert("date_string".into(), "01 Dec 2026".into());
        let rendered = template
            .render_with(
                &messages,
                &tools,
                case["add_generation_prompt"].as_bool().expect("flag"),
                &extra,
            )
            .unwrap_or_else(|err| panic!("{name} {}: {err}", case["name"]));
        assert_eq!(
            rendered,
            case["expected"].as_str().expect("expected"),
            "{name} / {}",
            case["name"]
        );
    }
}

#[test]
fn a_template_that_raises_is_an_error_not_a_prompt() {
    let source = std::fs::read_to_string(fixtures().join("gemma-2-2b-it.jinja")).expect("fixture");
    let template = ChatTemplate::new(source, "<bos>", "<eos>").expect("compiles");
    let err = template
        .render(
            &[ChatMessage::system("s"), ChatMessage::user("u")],
            &[],
            true,
        )
        .expect_err("Gemma 2 refuses a system role");
    assert!(
        err.to_string().contains("System role not supported"),
        "{err}"
    );
    assert!(
        ChatTemplate::new("{% for %}", "", "").is_err(),
        "does not compile"
    );
}

#[test]
fn arguments_reach_templates_in_the_form_they_print() {
    let hermes = std::fs::read_to_string(fixtures().join("hermes-3-llama-3.1-tool-use.jinja"))
        .expect("fixture");
    assert!(
        ChatTemplate::new(hermes, "", "")
            .expect("compiles")
            .arguments_as_objects
    );
    let deepseek = std::fs::read_to_string(fixtures().join("deepseek-r1-distill-qwen-32b.jinja"))
        .expect("fixture");
    assert!(
        !ChatTemplate::new(deepseek, "", "")
            .expect("compiles")
            .arguments_as_objects
    );
}
