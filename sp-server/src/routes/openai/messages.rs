//! Chat messages as OpenAI clients send them: text or text parts, an assistant's
//! `tool_calls`, a tool result's `tool_call_id`.

use serde::Deserialize;
use serde_json::Value;
use sp_core::chat::{ChatMessage, Role, ToolCall};
use sp_core::{Error, Result};

/// One message of `messages`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct WireMessage {
    /// `system` (or `developer`), `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, or a list of `{"type": "text", "text": …}` parts; `null` for an assistant
    /// turn that only calls tools.
    #[serde(default)]
    pub content: Option<Value>,
    /// An assistant turn's calls: `[{"id", "type": "function", "function": {"name",
    /// "arguments"}}]`, `arguments` a JSON text.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tool_calls: Option<Value>,
    /// A `tool` message: the id of the call it answers.
    #[serde(default)]
    pub tool_call_id: Option<String>,
    /// Other fields: only `null` or empty values pass (what a client echoes back from a
    /// reply, such as `refusal: null`), and `name` (a participant's name, which chat
    /// templates do not show).
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: serde_json::Map<String, Value>,
}

impl WireMessage {
    /// Our message; `at` is its index, for errors.
    pub fn to_chat(&self, at: usize) -> Result<ChatMessage> {
        let field = |name: &str| format!("messages[{at}].{name}");
        if let Some((key, _)) = self
            .other
            .iter()
            .find(|(k, v)| !(is_empty(v) || (k.as_str() == "name" && v.is_string())))
        {
            return Err(Error::invalid_input(field(key), "is not supported"));
        }
        let role = match self.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" => Role::Tool,
            other => {
                return Err(Error::invalid_input(
                    field("role"),
                    format!("unknown role `{other}`"),
                ));
            }
        };
        let content = match &self.content {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (
                        part.get("type").and_then(Value::as_str),
                        part.get("text").and_then(Value::as_str),
                    ) {
                        (Some("text"), Some(t)) => text.push_str(t),
                        _ => {
                            return Err(Error::invalid_input(
                                field("content"),
                                "only text parts are supported",
                            ));
                        }
                    }
                }
                text
            }
            Some(_) => {
                return Err(Error::invalid_input(
                    field("content"),
                    "must be a string or a list of text parts",
                ));
            }
        };
        let mut message = ChatMessage::new(role, content);
        if let Some(calls) = self.tool_calls.as_ref().filter(|v| !is_empty(v)) {
            if role != Role::Assistant {
                return Err(Error::invalid_input(
                    field("tool_calls"),
                    "only assistant messages make tool calls",
                ));
            }
            message.tool_calls = tool_calls(calls, &field("tool_calls"))?;
        }
        match (role, &self.tool_call_id) {
            (Role::Tool, Some(id)) if !id.is_empty() => message.tool_call_id = Some(id.clone()),
            (Role::Tool, _) => {
                return Err(Error::invalid_input(
                    field("tool_call_id"),
                    "a tool message must name the call it answers",
                ));
            }
            (_, Some(_)) => {
                return Err(Error::invalid_input(
                    field("tool_call_id"),
                    "only tool messages answer calls",
                ));
            }
            _ => {}
        }
        Ok(message)
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn tool_calls(value: &Value, field: &str) -> Result<Vec<ToolCall>> {
    let list = value
        .as_array()
        .ok_or_else(|| Error::invalid_input(field, "must be a list"))?;
    list.iter()
        .enumerate()
        .map(|(i, call)| {
            let bad = |why: &str| Error::invalid_input(format!("{field}[{i}]"), why.to_owned());
            let function = call.get("function").ok_or_else(|| bad("has no function"))?;
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("has no function.name"))?;
            let arguments = match function.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => "{}".to_owned(),
                Some(_) => return Err(bad("function.arguments must be a JSON text (a string)")),
            };
            serde_json::from_str::<Value>(&arguments)
                .map_err(|err| bad(&format!("function.arguments is not JSON: {err}")))?;
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("has no id"))?;
            Ok(ToolCall {
                id: id.to_owned(),
                name: name.to_owned(),
                arguments,
            })
        })
        .collect()
}
