//! Tool calling: how each model family writes a call, the grammar that makes a reply either
//! an answer or well-formed calls of declared tools (only calls when the choice requires one),
//! and reading the calls back out of the reply.

use serde_json::{Map, Value, json};
use sp_core::chat::{ResponseFormat, ToolCall, ToolChoice, ToolDefinition, Tools};
use sp_core::{Error, Result};

use super::compile::with_layout;

/// How a model writes its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolSyntax {
    /// Our own: the tools are offered in a system block and the reply is one JSON object,
    /// `{"tool_calls": [{"name", "arguments"}]}` or `{"content": …}`. For templates that know
    /// no tools (or whose call syntax we do not read).
    Envelope,
    /// Hermes / Qwen: `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>` per call.
    Hermes,
    /// Llama 3.x: one bare `{"name": …, "parameters": …}`.
    Llama3,
    /// Mistral: `[TOOL_CALLS][{"name": …, "arguments": …}, …]`.
    Mistral,
}

impl ToolSyntax {
    /// The syntax a chat template teaches its model, from the markers it prints.
    pub(crate) fn detect(template: &str, knows_tools: bool) -> Self {
        if !knows_tools {
            ToolSyntax::Envelope
        } else if template.contains("<tool_call>") {
            ToolSyntax::Hermes
        } else if template.contains("[TOOL_CALLS]") {
            ToolSyntax::Mistral
        } else if template.contains("<|start_header_id|>") && template.contains("\"parameters\": ")
        {
            ToolSyntax::Llama3
        } else {
            ToolSyntax::Envelope
        }
    }

    /// The name shown in `/v1/models`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ToolSyntax::Envelope => "envelope",
            ToolSyntax::Hermes => "hermes",
            ToolSyntax::Llama3 => "llama3",
            ToolSyntax::Mistral => "mistral",
        }
    }
}

/// The tools a reply may call under the request's choice (a named choice narrows them to one).
pub(crate) fn callable(tools: &Tools) -> Vec<&ToolDefinition> {
    match &tools.choice {
        ToolChoice::Function(name) => tools
            .definitions
            .iter()
            .filter(|t| &t.name == name)
            .collect(),
        _ => tools.definitions.iter().collect(),
    }
}

/// At least one call: `required` or a named function.
fn must_call(tools: &Tools) -> bool {
    matches!(tools.choice, ToolChoice::Required | ToolChoice::Function(_))
}

/// One call of `tool` as JSON: `{"name": <the name>, <arguments_key>: <its parameters>}`.
fn call_schema(tool: &ToolDefinition, arguments_key: &str) -> Value {
    let mut properties = Map::new();
    properties.insert("name".into(), json!({"const": tool.name}));
    properties.insert(arguments_key.into(), tool.parameters.clone());
    json!({"type": "object", "properties": properties,
        "required": ["name", arguments_key], "additionalProperties": false})
}

fn any_call_schema(tools: &Tools, arguments_key: &str) -> Value {
    let calls: Vec<Value> = callable(tools)
        .into_iter()
        .map(|t| call_schema(t, arguments_key))
        .collect();
    if calls.len() == 1 {
        calls.into_iter().next().unwrap_or_default()
    } else {
        json!({"anyOf": calls})
    }
}

fn calls_array_schema(tools: &Tools, arguments_key: &str) -> Value {
    let mut array =
        json!({"type": "array", "minItems": 1, "items": any_call_schema(tools, arguments_key)});
    if !tools.parallel {
        array["maxItems"] = json!(1);
    }
    array
}

/// The envelope's schema: calls, or (unless a call is required) an answer whose `content` is
/// a string or follows `answer`'s JSON format.
pub(crate) fn envelope_schema(tools: &Tools, answer: &ResponseFormat) -> Value {
    let calls = json!({"type": "object", "properties": {"tool_calls": calls_array_schema(tools, "arguments")},
        "required": ["tool_calls"], "additionalProperties": false});
    if must_call(tools) {
        return with_layout(calls);
    }
    let content = match answer {
        ResponseFormat::JsonObject => json!({"type": "object"}),
        ResponseFormat::JsonSchema { schema, .. } => schema.clone(),
        _ => json!({"type": "string"}),
    };
    let answer = json!({"type": "object", "properties": {"content": content},
        "required": ["content"], "additionalProperties": false});
    with_layout(json!({"anyOf": [calls, answer]}))
}

/// The system block that offers the tools under the envelope syntax.
pub(crate) fn envelope_instructions(tools: &Tools) -> String {
    let listed: Vec<Value> = callable(tools)
        .into_iter()
        .map(|t| {
            let mut entry = Map::new();
            entry.insert("name".into(), t.name.clone().into());
            if let Some(d) = &t.description {
                entry.insert("description".into(), d.clone().into());
            }
            entry.insert("parameters".into(), t.parameters.clone());
            Value::Object(entry)
        })
        .collect();
    let tools_json = serde_json::to_string(&listed).unwrap_or_default();
    let how = if must_call(tools) {
        "Reply with a JSON object that calls one of them: {\"tool_calls\": [{\"name\": <tool name>, \"arguments\": <arguments object>}]}."
    } else {
        "To call tools, reply with a JSON object {\"tool_calls\": [{\"name\": <tool name>, \"arguments\": <arguments object>}]}; to answer without a tool, reply {\"content\": <your answer>}."
    };
    format!("You can call these tools:\n{tools_json}\n{how}")
}

/// A Lark grammar for a native syntax. `special` turns a marker into the grammar's literal
/// for it (the model's control token where it has one).
pub(crate) fn native_grammar(
    syntax: ToolSyntax,
    tools: &Tools,
    special: impl Fn(&str) -> String,
) -> String {
    let (calls, answer_start) = match syntax {
        ToolSyntax::Hermes => {
            let call = format!(
                "{} \"\\n\" %json {} \"\\n\" {}",
                special("<tool_call>"),
                with_layout(any_call_schema(tools, "arguments")),
                special("</tool_call>")
            );
            let calls = if tools.parallel {
                format!("call (\"\\n\" call)*\ncall: {call}")
            } else {
                format!("call\ncall: {call}")
            };
            (calls, "[^<]")
        }
        ToolSyntax::Llama3 => (
            format!(
                "%json {}",
                with_layout(any_call_schema(tools, "parameters"))
            ),
            "[^{]",
        ),
        ToolSyntax::Mistral => (
            format!(
                "{} %json {}",
                special("[TOOL_CALLS]"),
                with_layout(calls_array_schema(tools, "arguments"))
            ),
            "[^\\[]",
        ),
        ToolSyntax::Envelope => (String::new(), ""),
    };
    if must_call(tools) {
        format!("start: calls\ncalls: {calls}\n")
    } else {
        format!("start: ANSWER | calls\ncalls: {calls}\nANSWER: /{answer_start}(.|\\n)*/\n")
    }
}

/// What a finished reply turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// An answer (text; JSON under the envelope when a format was asked for).
    Answer(String),
    /// Calls of declared tools, arguments validated.
    Calls(Vec<ToolCall>),
}

/// Reads a finished reply written in `syntax`, checking every call against its tool.
pub(crate) fn parse_reply(syntax: ToolSyntax, text: &str, tools: &Tools) -> Result<Reply> {
    let calls: Vec<(String, Value)> = match syntax {
        ToolSyntax::Envelope => {
            let value: Value = serde_json::from_str(text.trim()).map_err(|err| {
                violated(format!(
                    "the reply is not the call-or-answer JSON object: {err}"
                ))
            })?;
            if let Some(content) = value.get("content") {
                return Ok(Reply::Answer(match content {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }));
            }
            let list = value
                .get("tool_calls")
                .and_then(Value::as_array)
                .ok_or_else(|| violated("the reply has neither tool_calls nor content".into()))?;
            list.iter()
                .map(|c| split_call(c, "arguments"))
                .collect::<Result<_>>()?
        }
        ToolSyntax::Hermes => {
            let mut calls = Vec::new();
            let mut rest = text;
            while let Some(start) = rest.find("<tool_call>") {
                let after = &rest[start + "<tool_call>".len()..];
                let end = after
                    .find("</tool_call>")
                    .ok_or_else(|| violated("a <tool_call> is not closed".into()))?;
                let value: Value = serde_json::from_str(after[..end].trim())
                    .map_err(|err| violated(format!("a <tool_call> is not JSON: {err}")))?;
                calls.push(split_call(&value, "arguments")?);
                rest = &after[end + "</tool_call>".len()..];
            }
            if calls.is_empty() {
                return Ok(Reply::Answer(text.to_owned()));
            }
            calls
        }
        ToolSyntax::Llama3 => {
            let body = text.trim().trim_start_matches("<|python_tag|>").trim();
            if !body.starts_with('{') {
                return Ok(Reply::Answer(text.to_owned()));
            }
            let value: Value = serde_json::from_str(body)
                .map_err(|err| violated(format!("the call is not JSON: {err}")))?;
            vec![split_call(&value, "parameters")?]
        }
        ToolSyntax::Mistral => {
            let body = text.trim();
            let Some(body) = body.strip_prefix("[TOOL_CALLS]").or_else(|| {
                // The marker is a control token, which decodes to nothing.
                body.starts_with('[').then_some(body)
            }) else {
                return Ok(Reply::Answer(text.to_owned()));
            };
            let value: Value = serde_json::from_str(body.trim())
                .map_err(|err| violated(format!("the [TOOL_CALLS] list is not JSON: {err}")))?;
            value
                .as_array()
                .ok_or_else(|| violated("[TOOL_CALLS] is not followed by a list".into()))?
                .iter()
                .map(|c| split_call(c, "arguments"))
                .collect::<Result<_>>()?
        }
    };
    let mut out = Vec::with_capacity(calls.len());
    for (name, arguments) in calls {
        let tool = tools
            .find(&name)
            .ok_or_else(|| violated(format!("the reply calls `{name}`, which was not declared")))?;
        check_arguments(tool, &arguments)?;
        let mut call = ToolCall::new(name, arguments.to_string());
        if syntax == ToolSyntax::Mistral {
            // Mistral's template refuses ids that are not 9 alphanumeric characters.
            call.id = call.id["call_".len()..].chars().take(9).collect();
        }
        out.push(call);
    }
    if must_call(tools) && out.is_empty() {
        return Err(violated(
            "a call was required but the reply made none".into(),
        ));
    }
    Ok(Reply::Calls(out))
}

fn split_call(value: &Value, arguments_key: &str) -> Result<(String, Value)> {
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| violated("a call has no name".into()))?;
    let arguments = value
        .get(arguments_key)
        .cloned()
        .unwrap_or_else(|| json!({}));
    Ok((name.to_owned(), arguments))
}

/// The independent check of a call's arguments against its tool's schema.
fn check_arguments(tool: &ToolDefinition, arguments: &Value) -> Result<()> {
    sp_core::chat::schema_violations(&tool.parameters, arguments).map_err(|why| {
        violated(format!(
            "the arguments of `{}` do not match its parameters: {why}",
            tool.name
        ))
    })
}

fn violated(reason: String) -> Error {
    Error::ConstraintViolated { reason }
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
