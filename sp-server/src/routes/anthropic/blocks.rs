//! Content blocks of Anthropic's messages: a user turn's `text` and `tool_result` blocks, an
//! assistant turn's `text` and `tool_use` blocks, read into chat messages.

use serde_json::{Map, Value};
use sp_core::chat::{ChatMessage, Role, ToolCall};
use sp_core::{Error, Result};

/// A user turn: its `tool_result` blocks become tool messages, its text one user message.
pub(super) fn user_turn(field: &str, content: &Value, out: &mut Vec<ChatMessage>) -> Result<()> {
    let mut text = Vec::new();
    for (j, block) in blocks(field, content)?.iter().enumerate() {
        let at = format!("{field}.content[{j}]");
        match block_type(&at, block)? {
            "text" => text.push(block_text(&at, block)?),
            "tool_result" => {
                allow_keys(
                    &at,
                    block,
                    &[
                        "type",
                        "tool_use_id",
                        "content",
                        "is_error",
                        "cache_control",
                    ],
                )?;
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Error::invalid_input(format!("{at}.tool_use_id"), "is required")
                    })?;
                let mut result = match block.get("content") {
                    None | Some(Value::Null) => String::new(),
                    Some(inner) => text_of(&format!("{at}.content"), inner)?,
                };
                if block.get("is_error").and_then(Value::as_bool) == Some(true) {
                    result = serde_json::json!({"error": result}).to_string();
                }
                out.push(ChatMessage::tool_result(id, result));
            }
            other => {
                return Err(Error::invalid_input(
                    format!("{at}.type"),
                    format!(
                        "\"{other}\" blocks are not supported in a user turn (text, tool_result)"
                    ),
                ));
            }
        }
    }
    if !text.is_empty() {
        out.push(ChatMessage::user(text.join("\n\n")));
    }
    Ok(())
}

/// An assistant turn: its text, and its `tool_use` blocks as calls.
pub(super) fn assistant_turn(field: &str, content: &Value) -> Result<ChatMessage> {
    let mut text = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks(field, content)?.iter().enumerate() {
        let at = format!("{field}.content[{j}]");
        match block_type(&at, block)? {
            "text" => text.push(block_text(&at, block)?),
            "tool_use" => {
                allow_keys(
                    &at,
                    block,
                    &["type", "id", "name", "input", "cache_control"],
                )?;
                let id = block.get("id").and_then(Value::as_str);
                let name = block.get("name").and_then(Value::as_str);
                let (Some(id), Some(name)) = (id, name) else {
                    return Err(Error::invalid_input(at, "a tool_use needs its id and name"));
                };
                let input = block
                    .get("input")
                    .cloned()
                    .unwrap_or(Value::Object(Map::new()));
                if !input.is_object() {
                    return Err(Error::invalid_input(
                        format!("{at}.input"),
                        "must be an object",
                    ));
                }
                calls.push(ToolCall {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    arguments: input.to_string(),
                });
            }
            other => {
                return Err(Error::invalid_input(
                    format!("{at}.type"),
                    format!(
                        "\"{other}\" blocks are not supported in an assistant turn (text, tool_use)"
                    ),
                ));
            }
        }
    }
    let mut message = ChatMessage::new(Role::Assistant, text.join("\n\n"));
    message.tool_calls = calls;
    Ok(message)
}

/// A content value as blocks: a string is one text block.
fn blocks(field: &str, content: &Value) -> Result<Vec<Value>> {
    match content {
        Value::String(text) => Ok(vec![serde_json::json!({"type": "text", "text": text})]),
        Value::Array(blocks) => Ok(blocks.clone()),
        _ => Err(Error::invalid_input(
            format!("{field}.content"),
            "must be a string or a list of content blocks",
        )),
    }
}

fn block_type<'a>(at: &str, block: &'a Value) -> Result<&'a str> {
    block
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_input(format!("{at}.type"), "a content block needs a type"))
}

fn block_text(at: &str, block: &Value) -> Result<String> {
    allow_keys(at, block, &["type", "text", "cache_control"])?;
    block
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid_input(format!("{at}.text"), "must be a string"))
}

/// `cache_control` is accepted everywhere Anthropic allows it: every prompt's prefix is
/// cached here already (it asks for nothing we do not do).
fn allow_keys(at: &str, block: &Value, keys: &[&str]) -> Result<()> {
    if let Some(object) = block.as_object() {
        for key in object.keys() {
            if !keys.contains(&key.as_str()) {
                return Err(Error::invalid_input(
                    format!("{at}.{key}"),
                    "is not supported",
                ));
            }
        }
    }
    Ok(())
}

/// A string, or text blocks joined.
pub(super) fn text_of(field: &str, value: &Value) -> Result<String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Array(_) => {
            let mut parts = Vec::new();
            for (j, block) in blocks(field, value)?.iter().enumerate() {
                let at = format!("{field}[{j}]");
                match block_type(&at, block)? {
                    "text" => parts.push(block_text(&at, block)?),
                    other => {
                        return Err(Error::invalid_input(
                            format!("{at}.type"),
                            format!("\"{other}\" is not supported here (text only)"),
                        ));
                    }
                }
            }
            Ok(parts.join("\n\n"))
        }
        _ => Err(Error::invalid_input(
            field,
            "must be a string or text blocks",
        )),
    }
}
